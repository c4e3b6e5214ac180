/**
 * The ordered members of one run and its topology epochs. Every change of membership (join, leave, crash,
 * heartbeat timeout) makes a new epoch over the members in join order and hands each member its payload.
 * Transport-free: members are reached through the MemberChannel the socket layer gives them.
 */
import { randomBytes } from 'node:crypto';
import type { TopologySpec } from '@demuon/shared/graph';
import type { Epoch } from '@demuon/shared/protocol';
import { TopologyEpoch } from './topology-epoch';

export type MemberInfo = {
  name?: string;
  platform: 'browser' | 'node';
  backend: 'webgpu' | 'wasm' | 'cpu';
};

/** How the server reaches a member's socket. */
export interface MemberChannel {
  epoch(payload: Epoch): void;
  signal(from: string, data: Record<string, unknown>): void;
  /** The server removed the member on its own (e.g. heartbeat timeout): tell it why. */
  evicted(reason: string): void;
}

export class Member {
  /** The largest step reported through progress or metrics; null before the first report. */
  step: number | null = null;

  constructor(
    readonly id: string,
    readonly info: MemberInfo,
    readonly channel: MemberChannel,
    readonly joinedAt: number,
    public lastSeenAt: number,
  ) {}

  report(step: number | undefined, now: number): void {
    if (step !== undefined && (this.step === null || step > this.step)) this.step = step;
    this.lastSeenAt = now;
  }
}

export type RelayCheck = 'ok' | 'unknown-peer' | 'not-neighbour';

export type MembershipOptions = {
  spec: TopologySpec;
  seed: number;
  /** The last epoch number handed out before (persisted across restarts, so numbers never repeat). */
  lastEpoch: number;
  /** How long the neighbours of a superseded epoch may still signal each other. */
  graceMs: number;
  /**
   * 0: every change starts its epoch at once. Otherwise changes within this window share one epoch, so
   * that a burst of N joins costs a few epochs instead of N (each epoch goes to every member).
   */
  batchMs?: number;
  /** Called after an epoch started later than the change that caused it (batchMs > 0). */
  onDeferredEpoch?: () => void;
};

/** At most this many superseded epochs are remembered for the grace period (bursts of joins). */
const MAX_GRACE_EPOCHS = 16;

export class Membership {
  private readonly members: Member[] = [];
  private readonly byId = new Map<string, Member>();
  private current: TopologyEpoch | null = null;
  private superseded: { epoch: TopologyEpoch; until: number }[] = [];
  private lastEpoch: number;
  /** Members that joined since the last epoch: each is told whom to bootstrap from. */
  private joiners: string[] = [];
  private batchTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MembershipOptions) {
    this.lastEpoch = options.lastEpoch;
  }

  get size(): number {
    return this.members.length;
  }

  /** The epoch in force, or null while nobody has joined since the server started. */
  get epoch(): TopologyEpoch | null {
    return this.current;
  }

  get epochNumber(): number {
    return this.lastEpoch;
  }

  list(): readonly Member[] {
    return this.members;
  }

  get(id: string): Member | undefined {
    return this.byId.get(id);
  }

  /**
   * Adds a member at the end of the order and starts a new epoch that includes it; `admitted` runs
   * before the epoch is handed out.
   */
  add(info: MemberInfo, channel: MemberChannel, now: number, admitted?: (member: Member) => void): Member {
    const member = new Member(this.freshId(), info, channel, now, now);
    this.members.push(member);
    this.byId.set(member.id, member);
    admitted?.(member);
    this.joiners.push(member.id);
    this.changed(now);
    return member;
  }

  /** Removes a member; the rest get a new epoch. False when it was not a member (already removed). */
  remove(id: string, now: number): boolean {
    const member = this.byId.get(id);
    if (!member) return false;
    this.byId.delete(id);
    this.members.splice(this.members.indexOf(member), 1);
    this.changed(now);
    return true;
  }

  /** Stops a pending batch (server shutdown). */
  dispose(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
  }

  /** Members with no report for longer than timeoutMs. */
  silent(now: number, timeoutMs: number): Member[] {
    return this.members.filter((m) => now - m.lastSeenAt > timeoutMs);
  }

  /**
   * Signals go between neighbours of the current epoch, or of an epoch superseded less than graceMs ago:
   * answers and ICE candidates of a link that was being set up when membership changed are still in
   * flight, and peers keep gossiping with their old neighbours until the new epoch's activation step.
   */
  canRelay(from: string, to: string, now: number): RelayCheck {
    if (!this.byId.has(to)) return 'unknown-peer';
    if (this.current?.linked(from, to)) return 'ok';
    this.pruneGrace(now);
    return this.superseded.some(({ epoch }) => epoch.linked(from, to)) ? 'ok' : 'not-neighbour';
  }

  private changed(now: number): void {
    const batchMs = this.options.batchMs ?? 0;
    if (batchMs <= 0) {
      this.startEpoch(now);
      return;
    }
    this.batchTimer ??= setTimeout(() => {
      this.batchTimer = undefined;
      this.startEpoch(Date.now());
      this.options.onDeferredEpoch?.();
    }, batchMs);
  }

  private startEpoch(now: number): void {
    this.retireCurrent(now);
    const joiners = new Set(this.joiners.filter((id) => this.byId.has(id)));
    this.joiners = [];
    if (this.members.length === 0) return;
    const reported = this.members.map((m) => m.step ?? -1);
    const { epoch, payloads } = TopologyEpoch.build({
      number: ++this.lastEpoch,
      // Every member is still before this step, so all switch at the same step (0 when none reported).
      activationStep: Math.max(-1, ...reported) + 1,
      members: this.members.map((m) => m.id),
      spec: this.options.spec,
      seed: this.options.seed,
      joiners,
    });
    this.current = epoch;
    for (const [i, member] of this.members.entries()) member.channel.epoch(payloads[i]);
  }

  private retireCurrent(now: number): void {
    if (this.current) this.superseded.push({ epoch: this.current, until: now + this.options.graceMs });
    this.current = null;
    this.pruneGrace(now);
  }

  private pruneGrace(now: number): void {
    this.superseded = this.superseded.filter(({ until }) => until > now).slice(-MAX_GRACE_EPOCHS);
  }

  private freshId(): string {
    for (;;) {
      const id = randomBytes(6).toString('base64url');
      if (!this.byId.has(id)) return id;
    }
  }
}
