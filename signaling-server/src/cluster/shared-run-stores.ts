/**
 * The stores of a run this process owns, kept in Redis: its membership (through the owner's commit
 * script, so that only the lease holder writes it) and its metrics log. Writes and the messages to the
 * run's sockets share one ordered Outbox: an epoch's payloads go out only once its snapshot is stored,
 * as the file store guarantees by writing before any member hears of an epoch.
 */
import type { Logger } from '../log';
import { type MembershipKeeper, type MembershipSnapshot, snapshotText } from '../membership-store';
import type { MetricsLog } from '../metrics-store';
import { runKey, type SharedState } from './redis-state';

/** Steps move at every report: they are written at most this often. */
const STEP_SAVE_DELAY_MS = 1000;

/**
 * Runs writes and deliveries one after another, in the order they were handed in. A write that finds
 * the lease lost closes the outbox: nothing after it goes out. So does a delivery that finds it lost:
 * `holds` says whether the lease still holds (at once when it was renewed lately, else by renewing it),
 * so that a process thawed after its lease ran out sends nothing its timers made meanwhile.
 */
export class Outbox {
  private tail: Promise<void> = Promise.resolve();
  private open = true;

  constructor(
    private readonly log: Logger,
    private readonly holds: () => boolean | Promise<boolean>,
  ) {}

  /** `write` resolves false when this process may no longer speak for the run. */
  write(write: () => Promise<boolean>): void {
    this.tail = this.tail.then(async () => {
      if (this.open && !(await write())) this.open = false;
    });
  }

  deliver(deliver: () => void): void {
    this.tail = this.tail.then(async () => {
      if (this.open && !(await this.holds())) this.open = false;
      if (!this.open) return;
      try {
        deliver();
      } catch (error) {
        this.log.warn(`a delivery failed: ${(error as Error).stack}`);
      }
    });
  }

  close(): void {
    this.open = false;
  }

  /** Resolves once everything handed in so far has been written or sent. */
  drained(): Promise<void> {
    return this.tail;
  }
}

export class SharedMembership implements MembershipKeeper {
  readonly file: string;
  private pending: NodeJS.Timeout | undefined;

  constructor(
    private readonly state: SharedState,
    private readonly runId: string,
    private readonly me: string,
    private readonly outbox: Outbox,
    /** The last epoch number handed out, stored with each commit. */
    private readonly lastEpoch: () => number,
    /** The lease was lost: another process owns the run now. */
    private readonly lost: () => void,
    private readonly log: Logger,
  ) {
    this.file = `Redis key ${runKey(runId, 'membership')}`;
  }

  save(snapshot: MembershipSnapshot): void {
    this.cancel();
    const text = snapshotText(snapshot);
    const last = this.lastEpoch();
    this.outbox.write(async () => {
      try {
        const outcome = await this.state.commit(this.runId, this.me, snapshot.epoch, last, text);
        if (outcome === 'not-owner') {
          this.lost();
          return false;
        }
        if (outcome === 'stale')
          this.log.warn(`${this.file}: a newer epoch than ${snapshot.epoch} is stored`);
      } catch (error) {
        // As with a file that cannot be written: the epoch still reaches the members, the next write may succeed.
        this.log.warn(`cannot write ${this.file}: ${(error as Error).message}`);
      }
      return true;
    });
  }

  saveSoon(snapshot: () => MembershipSnapshot): void {
    this.pending ??= setTimeout(() => this.save(snapshot()), STEP_SAVE_DELAY_MS).unref();
  }

  async flush(snapshot: () => MembershipSnapshot): Promise<void> {
    if (this.pending) this.save(snapshot());
    await this.outbox.drained();
  }

  cancel(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
  }
}

export class SharedMetricsLog implements MetricsLog {
  readonly name: string;
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly state: SharedState,
    private readonly runId: string,
    private readonly log: Logger,
  ) {
    this.name = `Redis key ${runKey(runId, 'metrics')}`;
  }

  append(line: string): void {
    this.writes = this.state
      .appendMetrics(this.runId, line)
      .catch((error: Error) => this.log.warn(`cannot append to ${this.name}: ${error.message}`));
  }

  lines(): AsyncIterable<string> {
    return this.state.metricsLines(this.runId);
  }

  async close(): Promise<void> {
    await this.writes;
  }
}
