/**
 * One topology epoch of a run: the members in index order (join order), the mixing matrices of the run's
 * topology over that many nodes, and from them what every member is told and whom it may signal.
 * The matrices are only needed while the payloads are built; an epoch keeps the (sparse) neighbour lists
 * and the payloads, which a peer resuming after a server restart gets again.
 */
import {
  inNeighbours,
  type MixingMatrix,
  makeTopology,
  outNeighbours,
  selfWeight,
  type Topology,
  type TopologySpec,
} from '@demuon/shared/graph';
import type { Epoch } from '@demuon/shared/protocol';
import type { TopologyLink } from './wire-schemas';

/** A run-state snapshot lists at most this many directed edges (a complete graph of 500 has 249 500). */
export const MAX_SNAPSHOT_LINKS = 4096;

export type EpochInput = {
  number: number;
  activationStep: number;
  members: readonly string[];
  spec: TopologySpec;
  seed: number;
  /** Members that joined since the last epoch: each is told whom to bootstrap its state from. */
  joiners: ReadonlySet<string>;
};

export class TopologyEpoch {
  readonly number: number;
  readonly activationStep: number;
  readonly members: readonly string[];
  readonly topologyName: string;
  /** Set when the run's spec cannot be built on this many members and a ring is used instead. */
  readonly fallback?: string;
  readonly period: number;
  /** Directed edges for dashboards, capped at MAX_SNAPSHOT_LINKS. */
  readonly links: readonly TopologyLink[];
  readonly linksTruncated: boolean;
  /** The members told to bootstrap in this epoch (persisted: their payloads carry `bootstrapFrom`). */
  readonly joiners: ReadonlySet<string>;
  private memberPayloads: readonly Epoch[] = [];
  private readonly indexOf: Map<string, number>;
  /** Per member index, the sorted indices it sends to or receives from at some step of the period. */
  private readonly neighbours: Int32Array[];

  private constructor(input: EpochInput, topology: Topology, fallback: string | undefined) {
    this.number = input.number;
    this.activationStep = input.activationStep;
    this.members = input.members;
    this.topologyName = topology.name;
    this.fallback = fallback;
    this.period = topology.period;
    this.joiners = input.joiners;
    this.indexOf = new Map(input.members.map((peer, i) => [peer, i]));
    const { neighbours, links, truncated } = linksOf(topology, input.members);
    this.neighbours = neighbours;
    this.links = links;
    this.linksTruncated = truncated;
  }

  /** Builds the epoch and the payload of every member, in member order. */
  static build(input: EpochInput): { epoch: TopologyEpoch; payloads: Epoch[] } {
    const n = input.members.length;
    let topology: Topology;
    let fallback: string | undefined;
    try {
      topology = makeTopology(input.spec, n, { seed: input.seed });
    } catch (error) {
      // A departure cannot be refused, and a fixed-size spec (torus:4x4, edges:…) fits one count only:
      // a ring is connected and doubly stochastic for every N, so training goes on until the count fits.
      topology = makeTopology('ring', n);
      fallback = `${(error as Error).message}; using a ring meanwhile`;
    }
    const epoch = new TopologyEpoch(input, topology, fallback);
    epoch.memberPayloads = epoch.payloads(topology, input.joiners);
    return { epoch, payloads: [...epoch.memberPayloads] };
  }

  indexOfPeer(peer: string): number | undefined {
    return this.indexOf.get(peer);
  }

  /** The payload this epoch gave `peer`. */
  payloadOf(peer: string): Epoch | undefined {
    const index = this.indexOf.get(peer);
    return index === undefined ? undefined : this.memberPayloads[index];
  }

  /** Whether a and b exchange frames at some step of the period, in either direction. */
  linked(a: string, b: string): boolean {
    const i = this.indexOf.get(a);
    const j = this.indexOf.get(b);
    if (i === undefined || j === undefined || i === j) return false;
    return binarySearch(this.neighbours[i], j);
  }

  private payloads(topology: Topology, joiners: ReadonlySet<string>): Epoch[] {
    const members = [...this.members];
    const current = topology.at(this.activationStep);
    const schedule =
      topology.period > 1
        ? Array.from(
            { length: topology.period },
            (_, k) => (i: number) => neighbourhood(topology.at(k), i, members),
          )
        : undefined;
    // Joiners fetch the state from a member that has one; a run of joiners only starts afresh.
    const established = members.some((peer) => !joiners.has(peer));
    return members.map((peer, index) => {
      const own = neighbourhood(current, index, members);
      const payload: Epoch = {
        epoch: this.number,
        activationStep: this.activationStep,
        members,
        index,
        ...own,
      };
      if (joiners.has(peer) && established)
        payload.bootstrapFrom = bootstrapSource(own.inNeighbours, joiners);
      if (schedule) {
        payload.period = topology.period;
        payload.schedule = schedule.map((at) => at(index));
      }
      return payload;
    });
  }
}

/**
 * The first in-neighbour that did not just join (it has the state), else the first: in-neighbours are in
 * index order, so this is the longest-standing member the joiner receives from.
 */
function bootstrapSource(inNeighbours: { peer: string }[], joiners: ReadonlySet<string>): string | undefined {
  return (inNeighbours.find(({ peer }) => !joiners.has(peer)) ?? inNeighbours[0])?.peer;
}

function neighbourhood(w: MixingMatrix, i: number, members: readonly string[]) {
  return {
    selfWeight: selfWeight(w, i),
    inNeighbours: inNeighbours(w, i).map(({ from, weight }) => ({ peer: members[from], weight })),
    outNeighbours: outNeighbours(w, i).map((j) => members[j]),
  };
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
