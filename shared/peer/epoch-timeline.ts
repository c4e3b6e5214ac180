/**
 * A peer's view of its run's topology epochs: the committed ones, each in force from its activation step,
 * and at most one proposal the server has not committed yet. A proposal holds the peer before its barrier
 * step (the step it promised not to start before the commit), so every member switches epochs at the
 * same step without anyone waiting for a timeout.
 */
import type { Neighbourhood } from '../gossip';
import type { Epoch, EpochProposal } from '../protocol';

/** Steps a training peer may still run on the old epoch while a proposal is decided. */
export const PROPOSAL_LOOKAHEAD = 2;

export class EpochTimeline {
  private readonly committed: Epoch[] = [];
  private proposal: { readonly epoch: EpochProposal; readonly barrier: number } | null = null;

  /** Takes a committed epoch; false when it was known already (the server repeats it on resume). */
  commit(epoch: Epoch): boolean {
    if (this.proposal && this.proposal.epoch.epoch <= epoch.epoch) this.proposal = null;
    if (this.committed.some((e) => e.epoch === epoch.epoch)) return false;
    this.committed.push(epoch);
    this.committed.sort((a, b) => a.activationStep - b.activationStep || a.epoch - b.epoch);
    return true;
  }

  /**
   * Takes a proposal and returns the barrier to answer with: a peer that trains promises to hold before
   * `next + PROPOSAL_LOOKAHEAD`, so a commit that comes within that many steps costs it no wait; a peer
   * that has not started yet holds before its first step anyway. A later proposal replaces an earlier
   * one (the server never commits a replaced proposal).
   */
  propose(epoch: EpochProposal, next: number, started: boolean): number {
    const barrier = started ? next + PROPOSAL_LOOKAHEAD : next;
    if (!this.proposal || this.proposal.epoch.epoch < epoch.epoch) this.proposal = { epoch, barrier };
    return this.proposal.barrier;
  }

  /** Forgets an undecided proposal (the signaling connection dropped: the server starts afresh). */
  dropProposal(): void {
    this.proposal = null;
  }

  get pending(): EpochProposal | undefined {
    return this.proposal?.epoch;
  }

  /** Whether `step` may start now: not while a proposal whose barrier is at or before it is undecided. */
  mayStart(step: number): boolean {
    return !this.proposal || step < this.proposal.barrier;
  }

  /** The epoch in force at `step`: the latest committed one activated at or before it. */
  at(step: number): Epoch | undefined {
    let current: Epoch | undefined;
    for (const e of this.committed) if (e.activationStep <= step) current = e;
    return current;
  }

  /** The first committed epoch with at least `members` members. */
  firstWith(members: number): Epoch | undefined {
    return this.committed.find((e) => e.members.length >= members);
  }

  get latest(): Epoch | undefined {
    return this.committed.at(-1);
  }

  /**
   * Every peer a link is needed to from `step` on: the neighbours of the epoch in force, of later ones,
   * and of the proposal (links open while the server decides).
   */
  peersNeeded(step: number): Set<string> {
    const current = this.at(step);
    const peers = new Set<string>();
    for (const e of this.committed)
      if (e === current || (current && e.activationStep > current.activationStep))
        for (const p of neighboursOf(e)) peers.add(p);
    if (this.proposal) for (const p of neighboursOf(this.proposal.epoch)) peers.add(p);
    return peers;
  }
}

/** Everyone `epoch` makes this peer send to or receive from, at any step of its period. */
export function neighboursOf(epoch: Epoch | EpochProposal): string[] {
  const views = epoch.schedule ?? [epoch];
  const peers = new Set<string>();
  for (const v of views) {
    for (const n of v.inNeighbours) peers.add(n.peer);
    for (const p of v.outNeighbours) peers.add(p);
  }
  return [...peers];
}

/** The epoch's neighbourhood at `step`, with peers as numeric handles, in the server's (index) order. */
export function neighbourhoodAt(epoch: Epoch, step: number, handle: (peer: string) => number): Neighbourhood {
  const view = epoch.schedule && epoch.period ? epoch.schedule[step % epoch.period] : epoch;
  return {
    selfWeight: view.selfWeight,
    inNeighbours: view.inNeighbours.map(({ peer, weight }) => ({ from: handle(peer), weight })),
    outNeighbours: view.outNeighbours.map(handle),
  };
}

export function sameMembers(a: { members: readonly string[] }, b: { members: readonly string[] }): boolean {
  return a.members.length === b.members.length && a.members.every((m, i) => m === b.members[i]);
}
