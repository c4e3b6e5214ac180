/**
 * Who is linked with whom over one member list: the sparse neighbour lists of a topology (every step of
 * its period) and the directed edges dashboards draw. What the relay, the reports and the status
 * questions check, kept for the current epoch, the pending proposal and the recently superseded ones,
 * without the dense mixing matrices.
 */
import { inNeighbours, type Topology } from '@demuon/shared/graph';
import type { TopologyLink } from '@demuon/shared/protocol';

/** A run-state snapshot lists at most this many directed edges (a complete graph of 500 has 249 500). */
export const MAX_SNAPSHOT_LINKS = 4096;

export class EpochLayout {
  readonly members: readonly string[];
  readonly topologyName: string;
  /** Set when the run's spec cannot be built on this many members and a ring is used instead. */
  readonly fallback?: string;
  readonly period: number;
  /** Directed edges for dashboards, capped at MAX_SNAPSHOT_LINKS. */
  readonly links: readonly TopologyLink[];
  readonly linksTruncated: boolean;
  /** The members told to bootstrap (their payloads carry `bootstrapFrom`). */
  readonly joiners: ReadonlySet<string>;
  private readonly indexOf: Map<string, number>;
  /** Per member index, the sorted indices it sends to or receives from at some step of the period. */
  private readonly neighbours: Int32Array[];

  constructor(
    members: readonly string[],
    topology: Topology,
    fallback: string | undefined,
    joiners: ReadonlySet<string>,
  ) {
    this.members = members;
    this.topologyName = topology.name;
    this.fallback = fallback;
    this.period = topology.period;
    this.joiners = joiners;
    this.indexOf = new Map(members.map((peer, i) => [peer, i]));
    const { neighbours, links, truncated } = linksOf(topology, members);
    this.neighbours = neighbours;
    this.links = links;
    this.linksTruncated = truncated;
  }

  indexOfPeer(peer: string): number | undefined {
    return this.indexOf.get(peer);
  }

  /** Whether a and b exchange frames at some step of the period, in either direction. */
  linked(a: string, b: string): boolean {
    const i = this.indexOf.get(a);
    const j = this.indexOf.get(b);
    if (i === undefined || j === undefined || i === j) return false;
    return binarySearch(this.neighbours[i], j);
  }

  /** How many members `peer` exchanges frames with (0 when it is no member). */
  degree(peer: string): number {
    const i = this.indexOf.get(peer);
    return i === undefined ? 0 : this.neighbours[i].length;
  }
}

function linksOf(topology: Topology, members: readonly string[]) {
  const n = members.length;
  const linkedSets = Array.from({ length: n }, () => new Set<number>());
  const edgeWeights = new Map<number, number[]>();
  let truncated = false;
  for (let k = 0; k < topology.period; k++) {
    const w = topology.at(k);
    for (let to = 0; to < n; to++) {
      for (const { from, weight } of inNeighbours(w, to)) {
        linkedSets[to].add(from);
        linkedSets[from].add(to);
        const key = from * n + to;
        let weights = edgeWeights.get(key);
        if (!weights) {
          if (edgeWeights.size >= MAX_SNAPSHOT_LINKS) {
            truncated = true;
            continue;
          }
          weights = new Array<number>(topology.period).fill(0);
          edgeWeights.set(key, weights);
        }
        weights[k] = weight;
      }
    }
  }
  const neighbours = linkedSets.map((set) => Int32Array.from(set).sort());
  const links = [...edgeWeights].map(([key, weights]) => ({
    from: members[Math.floor(key / n)],
    to: members[key % n],
    weights,
  }));
  return { neighbours, links, truncated };
}

function binarySearch(sorted: Int32Array, value: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] === value) return true;
    if (sorted[mid] < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}
