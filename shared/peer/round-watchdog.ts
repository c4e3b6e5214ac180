/**
 * Deadlines for gossip rounds that adapt to the peers: a round waits for a neighbour as long as the server
 * says that neighbour is alive and moving (its step or phase changes, or it has been in its phase for
 * less than a few of its own step times), and gives up on one that is silent or stuck. A neighbour given
 * up on is reported once and is not waited for again in this epoch until something arrives from it: the
 * server's next epoch routes around it, so the run never pays twice for the same absent peer.
 */
import type { MissReason, NeighbourStatusReply, PeerStatus } from '../protocol';

export interface RoundWatchdogOptions {
  /** This peer's id. */
  readonly self: string;
  /** What the server knows of `peer`; undefined when the server cannot be asked (signaling outage). */
  status(peer: string): Promise<NeighbourStatusReply | undefined>;
  /** Tells the server that a round gave up on `peer`. */
  report(peer: string, step: number, reason: MissReason): void;
  /** This peer's typical step time in ms, once it has one. */
  ownStepMs(): number | undefined;
  now(): number;
  /** Runs `fn` after `ms` (the platform's setTimeout); returns what cancels it. */
  after(ms: number, fn: () => void): () => void;
  /** Called at each look that decides to keep waiting: the wait is long enough to tell the user. */
  waiting?(peer: string, step: number, sinceMs: number): void;
  /** Shortest time between two looks at a waited-for neighbour (default 1000 ms). */
  minCheckMs?: number;
  /** A neighbour is stuck after this many of its step times in one phase (default 8)… */
  stuckFactor?: number;
  /** …and never before this long (default 10 000 ms): a loaded machine stalls a phase now and then. */
  minStuckMs?: number;
  /** Before anyone's step time is known, how long one phase may last (the run's gossipTimeoutMs). */
  startupMs: number;
}

/** How a round ended on a neighbour it gave up on. */
export class NeighbourMissed extends Error {
  constructor(
    readonly peer: string,
    readonly step: number,
    readonly reason: MissReason,
  ) {
    super(`gave up on neighbour ${peer} at step ${step}: ${reason}`);
  }
}

/**
 * What to do about a neighbour after a look at its status: keep waiting, or the reason to give up.
 * `self` is the waiting peer: a neighbour that itself waits in a round for someone else is not stuck (its
 * own deadline deals with that someone), nor is one held for an epoch commit (the server's deadline).
 */
export function judge(
  reply: NeighbourStatusReply | undefined,
  previous: PeerStatus | undefined,
  stuckAfterMs: number,
  self: string,
  /** How long the waiting peer itself has seen the neighbour in this step and phase. */
  observedMs = 0,
): 'wait' | MissReason {
  // No answer from the server: nothing says the neighbour is gone, and gossip does not need the server.
  if (!reply) return 'wait';
  if (!reply.alive) return 'silent';
  const status = reply.status;
  // Every peer of the run beats with its status: one that does not has nothing to show for the wait.
  if (!status) return observedMs > stuckAfterMs ? 'stuck' : 'wait';
  if (status.phase === 'barrier') return 'wait';
  if (status.phase === 'gossip' && status.waitingFor !== undefined && status.waitingFor !== self)
    return 'wait';
  const moved = !previous || previous.step !== status.step || previous.phase !== status.phase;
  if (moved) return 'wait';
  // The time in phase is the neighbour's own word: what the waiting peer saw itself counts as much.
  return Math.max(status.phaseMs, observedMs) > stuckAfterMs ? 'stuck' : 'wait';
}

/**
 * Whatever a neighbour's status says (none at all, a wait for someone else, a hold for an epoch), a round
 * gives up on it after this many stuck bounds in all: an honest neighbour waiting for a slow one delivers
 * within about one bound, since that slow one is given up on after one; a member that only claims to wait
 * stalls its neighbours no longer.
 */
const MAX_WAIT_BOUNDS = 3;
/**
 * A neighbour's step time is its own word too: the stuck bound takes it at most this many times this
 * peer's own (a phone is some tens of times slower than a desktop GPU, not thousands).
 */
const MAX_STEP_RATIO = 50;

interface Watch {
  readonly peer: string;
  readonly step: number;
  readonly since: number;
  readonly giveUp: (missed: NeighbourMissed) => void;
  cancel: () => void;
  previous: PeerStatus | undefined;
  /** When this peer first saw the neighbour in its current step and phase. */
  observedSince: number;
  done: boolean;
}

export class RoundWatchdog {
  private readonly absent = new Map<string, MissReason>();
  private readonly departed = new Set<string>();
  private readonly watches = new Set<Watch>();
  /** Rounds given up, by reason. */
  readonly misses: Partial<Record<MissReason, number>> = {};

  constructor(private readonly options: RoundWatchdogOptions) {}

  /**
   * Starts watching a round's wait for `peer` at `step`; `giveUp` is called at most once. Returns the
   * function to call when the message arrived (or the wait ended otherwise).
   */
  watch(peer: string, step: number, giveUp: (missed: NeighbourMissed) => void): () => void {
    const known = this.departed.has(peer) ? 'closed' : this.absent.get(peer);
    if (known) {
      void Promise.resolve().then(() => giveUp(new NeighbourMissed(peer, step, known)));
      return () => {};
    }
    const watch: Watch = {
      peer,
      step,
      since: this.options.now(),
      giveUp,
      cancel: () => {},
      previous: undefined,
      observedSince: this.options.now(),
      done: false,
    };
    this.watches.add(watch);
    this.schedule(watch);
    return () => this.end(watch);
  }

  /** Something arrived from `peer`: it is waited for again. */
  heard(peer: string): void {
    this.absent.delete(peer);
  }

  /** Gives up on `peer` now (its link closed, or never opened): reported once, not waited for again. */
  miss(peer: string, step: number, reason: MissReason): void {
    if (this.isAbsent(peer)) return;
    this.absent.set(peer, reason);
    this.misses[reason] = (this.misses[reason] ?? 0) + 1;
    this.options.report(peer, step, reason);
    for (const w of [...this.watches]) {
      if (w.peer !== peer) continue;
      this.end(w);
      w.giveUp(new NeighbourMissed(peer, w.step, reason));
    }
  }

  /**
   * `peer` is leaving (a proposed epoch leaves it out): never waited for again, even in an epoch committed
   * before it left, and not reported, since the server already knows. Peers come back under new ids.
   */
  leaving(peer: string): void {
    if (this.departed.has(peer)) return;
    this.departed.add(peer);
    for (const w of [...this.watches]) {
      if (w.peer !== peer) continue;
      this.end(w);
      w.giveUp(new NeighbourMissed(peer, w.step, 'closed'));
    }
  }

  /** A new epoch: who is absent is the server's business now. */
  newEpoch(): void {
    this.absent.clear();
  }

  /** Whether a proposal left `peer` out: it is gone for good (peers come back under new ids). */
  hasLeft(peer: string): boolean {
    return this.departed.has(peer);
  }

  isAbsent(peer: string): boolean {
    return this.absent.has(peer) || this.departed.has(peer);
  }

  /** The longest-waiting open watch, for the peer's activity. */
  longestWait(): { peer: string; step: number; sinceMs: number } | undefined {
    let oldest: Watch | undefined;
    for (const w of this.watches) if (!oldest || w.since < oldest.since) oldest = w;
    return oldest && { peer: oldest.peer, step: oldest.step, sinceMs: this.options.now() - oldest.since };
  }

  /** Stops every watch without giving up (the peer stops). */
  close(): void {
    for (const w of [...this.watches]) this.end(w);
  }

  private checkMs(): number {
    const own = this.options.ownStepMs() ?? 0;
    return Math.max(this.options.minCheckMs ?? 1000, 2 * own);
  }

  private schedule(watch: Watch): void {
    watch.cancel = this.options.after(this.checkMs(), () => void this.look(watch));
  }

  private async look(watch: Watch): Promise<void> {
    if (watch.done) return;
    const reply = await this.options.status(watch.peer).catch(() => undefined);
    if (watch.done) return;
    const factor = this.options.stuckFactor ?? 8;
    const own = this.options.ownStepMs();
    const reported = reply?.status?.stepMs;
    const stepMs =
      reported !== undefined && own ? Math.min(reported, MAX_STEP_RATIO * own) : (reported ?? own);
    const stuckAfterMs = stepMs
      ? Math.max(factor * stepMs, this.options.minStuckMs ?? 10_000, this.checkMs())
      : this.options.startupMs;
    const now = this.options.now();
    const status = reply?.status;
    const previous = watch.previous;
    if (status && previous && (previous.step !== status.step || previous.phase !== status.phase))
      watch.observedSince = now;
    let verdict = judge(reply, previous, stuckAfterMs, this.options.self, now - watch.observedSince);
    if (verdict === 'wait' && now - watch.since > MAX_WAIT_BOUNDS * stuckAfterMs) verdict = 'stuck';
    watch.previous = status ?? watch.previous;
    if (verdict === 'wait') {
      this.options.waiting?.(watch.peer, watch.step, now - watch.since);
      this.schedule(watch);
    } else this.miss(watch.peer, watch.step, verdict);
  }

  private end(watch: Watch): void {
    watch.done = true;
    watch.cancel();
    this.watches.delete(watch);
  }
}
