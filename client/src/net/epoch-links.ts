/**
 * A membership's epochs and the links they need: the server's commits and proposals (a proposal is
 * answered with the step this peer will not start before the commit), holding before such a step while the
 * proposal is undecided, and waiting until an epoch's links are open or given up on.
 */
import { EpochTimeline, neighboursOf, type RoundWatchdog, type StatusBoard } from '@demuon/shared/peer';
import type { Epoch, EpochProposal } from '@demuon/shared/protocol';
import type { ConnectionPool } from './connection-pool';

/** How often a wait for links to open looks at the connection deadline. */
const CONNECT_POLL_MS = 250;

export interface EpochLinksOptions {
  readonly pool: ConnectionPool;
  readonly watchdog: RoundWatchdog;
  readonly board: StatusBoard;
  /** A link that does not open within this long counts as absent (the run's gossipTimeoutMs). */
  readonly connectDeadlineMs: number;
  readonly now: () => number;
  /** The step the peer is in, and whether it has started training. */
  position(): { step: number; started: boolean };
  /** Sends the answer to a proposal: not to start step `barrier` before its commit. */
  answer(epoch: number, barrier: number): void;
  /** `peer` is leaving the run (a proposal left it out): nothing more is sent to it, and its link closes. */
  leaving(peer: string): void;
  /** Resolves with `check()` once it is defined (or the peer stops), re-checked at every `poke`. */
  until<V>(check: () => V | undefined): Promise<V | undefined>;
  poke(): void;
}

export class EpochLinks {
  readonly timeline = new EpochTimeline();
  /** Time spent held before steps for epoch commits, in ms, and how many times. */
  readonly barrierWaits: number[] = [];

  constructor(private readonly o: EpochLinksOptions) {}

  /** A committed epoch: its links start opening. */
  commit(epoch: Epoch): void {
    const { pool, watchdog, board } = this.o;
    if (!this.timeline.commit(epoch)) return;
    for (const peer of neighboursOf(epoch)) if (!watchdog.hasLeft(peer)) pool.ensure(peer);
    const { activity } = board;
    if (activity.kind === 'waiting-for-peers') board.show({ ...activity, have: epoch.members.length });
    this.o.poke();
  }

  /** A proposal: answered at once, and its links start opening while the server decides. */
  propose(proposal: EpochProposal): void {
    const { pool, watchdog } = this.o;
    const { step, started } = this.o.position();
    const barrier = this.timeline.propose(proposal, started ? step + 1 : step, started);
    // Neighbours the proposal leaves out are leaving (they left, or were removed): rounds until the new
    // epoch takes over do not wait for them, nor send to them, and their links close from this end.
    for (const peer of this.timeline.peersNeeded(step)) {
      if (proposal.members.includes(peer) || watchdog.hasLeft(peer)) continue;
      watchdog.leaving(peer);
      this.o.leaving(peer);
    }
    for (const peer of neighboursOf(proposal)) if (!watchdog.hasLeft(peer)) pool.ensure(peer);
    this.o.answer(proposal.epoch, barrier);
    this.o.poke();
  }

  /** Holds before `step` while a proposed epoch is undecided and its barrier is at or before `step`. */
  async heldBefore(step: number): Promise<void> {
    if (this.timeline.mayStart(step)) return;
    const { board, now } = this.o;
    const started = now();
    board.phase('barrier', step);
    board.show({ kind: 'changing-epoch', step });
    await this.o.until(() => (this.timeline.mayStart(step) ? true : undefined));
    this.barrierWaits.push(now() - started);
  }

  /**
   * Waits until every neighbour of `epoch` has an open channel or is absent: a channel that does not open
   * within the connection deadline counts as absent, once.
   */
  async linksReady(epoch: Epoch, step: number): Promise<void> {
    const { pool, watchdog, board, connectDeadlineMs } = this.o;
    const peers = neighboursOf(epoch);
    const ready = () => {
      let waitingFor: string | undefined;
      for (const p of peers) {
        if (watchdog.isAbsent(p)) continue;
        // A link this epoch needs that closed before the epoch began (a junk signal, a dropped channel)
        // is made again: otherwise every round would skip that neighbour and nobody would say so.
        if (pool.state(p) === 'closed') pool.ensure(p);
        if (pool.state(p) !== 'connecting') continue;
        if (pool.connectingMs(p) > connectDeadlineMs) watchdog.miss(p, step, 'no-connection');
        else waitingFor ??= p;
      }
      // Waiting for a link to open is waiting on that neighbour, as in a round.
      if (waitingFor !== undefined && board.status?.waitingFor !== waitingFor)
        board.phase('gossip', step, waitingFor);
      return waitingFor === undefined ? true : undefined;
    };
    if (ready()) return;
    const timer = setInterval(() => this.o.poke(), CONNECT_POLL_MS);
    try {
      await this.o.until(ready);
    } finally {
      clearInterval(timer);
    }
  }

  /** The neighbours of the epoch in force at `step`. */
  neighboursAt(step: number): string[] {
    const epoch = this.timeline.at(step);
    return epoch ? neighboursOf(epoch) : [];
  }
}
