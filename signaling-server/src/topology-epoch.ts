/**
 * Topology epochs of a run: the members in index order (join order), the mixing matrices of the run's
 * topology over that many nodes, and from them what every member is told. An epoch is first *proposed*
 * (its payloads without an activation step) and then *committed* at the activation step its members'
 * answers allow. The matrices live only from the proposal to the commit; a committed epoch keeps its
 * layout (sparse neighbour lists) and its payloads, which a peer resuming after a server restart gets
 * again.
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
import type { Epoch, EpochProposal } from '@demuon/shared/protocol';
import { EpochLayout } from './epoch-layout';

export type LayoutInput = {
  members: readonly string[];
  spec: TopologySpec;
  seed: number;
  /** Members that joined since the last committed epoch: each is told whom to bootstrap its state from. */
  joiners: ReadonlySet<string>;
};

export type EpochInput = LayoutInput & { number: number; activationStep: number };

/** The next epoch before its activation step is known: what `epoch-propose` carries. */
export class ProposedEpoch {
  private constructor(
    readonly number: number,
    readonly layout: EpochLayout,
    private readonly topology: Topology,
  ) {}

  static make(number: number, input: LayoutInput): ProposedEpoch {
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
    return new ProposedEpoch(
      number,
      new EpochLayout(input.members, topology, fallback, input.joiners),
      topology,
    );
  }

  /**
   * Every member's proposal, in member order. For a time-varying graph the neighbourhood outside the
   * schedule is that of step 0 of the period (the activation step is not known yet): the schedule is
   * what counts.
   */
  payloads(): EpochProposal[] {
    return payloadsOf(this.layout, this.topology, this.number, 0);
  }

  /** The epoch from `activationStep` on, with every member's payload in member order. */
  commit(activationStep: number): { epoch: TopologyEpoch; payloads: Epoch[] } {
    const payloads = payloadsOf(this.layout, this.topology, this.number, activationStep).map(
      (proposal): Epoch => ({ ...proposal, activationStep }),
    );
    const epoch = new TopologyEpoch(this.number, activationStep, this.layout, payloads);
    return { epoch, payloads: [...payloads] };
  }
}

export class TopologyEpoch {
  constructor(
    readonly number: number,
    readonly activationStep: number,
    readonly layout: EpochLayout,
    private readonly memberPayloads: readonly Epoch[],
  ) {}

  /** Proposes and commits at once: the epoch a restarted server takes back from its stored inputs. */
  static build(input: EpochInput): { epoch: TopologyEpoch; payloads: Epoch[] } {
    return ProposedEpoch.make(input.number, input).commit(input.activationStep);
  }

  get members(): readonly string[] {
    return this.layout.members;
  }

  get joiners(): ReadonlySet<string> {
    return this.layout.joiners;
  }

  /** The payload this epoch gave `peer`. */
  payloadOf(peer: string): Epoch | undefined {
    const index = this.layout.indexOfPeer(peer);
    return index === undefined ? undefined : this.memberPayloads[index];
  }

  linked(a: string, b: string): boolean {
    return this.layout.linked(a, b);
  }
}

/** Every member's payload without an activation step; the neighbourhood outside the schedule is `step`'s. */
function payloadsOf(layout: EpochLayout, topology: Topology, number: number, step: number): EpochProposal[] {
  const members = [...layout.members];
  const { joiners } = layout;
  const current = topology.at(step);
  // The bootstrap source must be the same in the proposal and the commit: it comes from step 0.
  const first = topology.at(0);
  const schedule =
    topology.period > 1
      ? Array.from(
          { length: topology.period },
          (_, k) => (i: number) => neighbourhood(topology.at(k), i, members),
        )
      : undefined;
  // Joiners fetch the state from a member that has one; a run of joiners only starts afresh.
  const established = members.some((peer) => !joiners.has(peer));
  const sources = established ? bootstrapSources(first, members, joiners) : [];
  const payloads = members.map((_, index) => {
    const payload: EpochProposal = {
      epoch: number,
      members,
      index,
      ...neighbourhood(current, index, members),
    };
    if (sources[index] !== undefined) payload.bootstrapFrom = members[sources[index]];
    if (schedule) {
      payload.period = topology.period;
      payload.schedule = schedule.map((at) => at(index));
    }
    return payload;
  });
  // Each source is told whom it bootstraps: a member resuming from its checkpoint, or a joiner passing on
  // the state it took, has no earlier epoch to tell it who is new.
  for (const [i, source] of sources.entries()) {
    if (source === undefined) continue;
    payloads[source].bootstrapTo = [...(payloads[source].bootstrapTo ?? []), members[i]];
  }
  return payloads;
}

/**
 * Each joiner's source: of its in-neighbours, the one fewest hops from a member that has the state (the
 * first in index order among equals, so a member with state when there is one). Sources then form chains
 * that end at a member with state, never a cycle; a member with state has no source.
 */
function bootstrapSources(
  w: MixingMatrix,
  members: readonly string[],
  joiners: ReadonlySet<string>,
): (number | undefined)[] {
  const hops = members.map((peer) => (joiners.has(peer) ? Number.POSITIVE_INFINITY : 0));
  const queue = members.flatMap((_, i) => (hops[i] === 0 ? [i] : []));
  for (let head = 0; head < queue.length; head++) {
    const from = queue[head];
    for (const to of outNeighbours(w, from)) {
      if (hops[to] !== Number.POSITIVE_INFINITY) continue;
      hops[to] = hops[from] + 1;
      queue.push(to);
    }
  }
  return members.map((_, i) => {
    if (hops[i] === 0) return undefined;
    let best: number | undefined;
    for (const { from } of inNeighbours(w, i)) if (best === undefined || hops[from] < hops[best]) best = from;
    return best;
  });
}

function neighbourhood(w: MixingMatrix, i: number, members: readonly string[]) {
  return {
    selfWeight: selfWeight(w, i),
    inNeighbours: inNeighbours(w, i).map(({ from, weight }) => ({ peer: members[from], weight })),
    outNeighbours: outNeighbours(w, i).map((j) => members[j]),
  };
}
