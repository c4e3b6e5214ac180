/**
 * The ordered members of one run and its topology epochs. Every change of membership (join, leave, crash,
 * heartbeat timeout) makes a new epoch over the members in join order and hands each member its payload.
 * Transport-free: members are reached through the MemberChannel the socket layer gives them. After a
 * server restart the members of the stored epoch come back *away* (no channel) and keep their places, so
 * that a peer that resumes finds the epoch it had.
 */
import { randomBytes } from 'node:crypto';
import type { TopologySpec } from '@demuon/shared/graph';
import type { Epoch } from '@demuon/shared/protocol';
import type { MembershipSnapshot, StoredMember } from './membership-store';
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

/** The channel of a member restored after a restart until its peer resumes: nothing reaches it. */
const AWAY: MemberChannel = { epoch() {}, signal() {}, evicted() {} };

export class Member {
  /** The largest step reported through progress or metrics; null before the first report. */
  step: number | null = null;

  constructor(
    readonly id: string,
    public info: MemberInfo,
    public channel: MemberChannel,
    readonly joinedAt: number,
    public lastSeenAt: number,
  ) {}

  /** A member of the stored epoch, back without a connection; its heartbeat clock starts now. */
  static away(stored: StoredMember, now: number): Member {
    const { id, name, platform, backend, joinedAt, step } = stored;
    const member = new Member(id, { name, platform, backend }, AWAY, joinedAt, now);
    member.step = step;
    return member;
  }

  /** True while nobody is connected as this member (restored after a restart, not resumed yet). */
  get away(): boolean {
    return this.channel === AWAY;
  }

  report(step: number | undefined, now: number): void {
    if (step !== undefined && (this.step === null || step > this.step)) this.step = step;
    this.lastSeenAt = now;
  }

  stored(): StoredMember {
    const { name, platform, backend } = this.info;
    return { id: this.id, name, platform, backend, joinedAt: this.joinedAt, step: this.step };
  }
}

export type RelayCheck = 'ok' | 'unknown-peer' | 'not-neighbour' | 'peer-away';

/** Why a peer cannot resume: its id is no member, or someone is connected as that member. */
export type ResumeRefusal = 'not-member' | 'connected';

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
  /**
   * Called with the new state when an epoch is made, or the last member left, before any member hears
   * of it: what is persisted is never behind what a peer holds.
   */
  persist?: (snapshot: MembershipSnapshot) => void;
};

/** At most this many superseded epochs are remembered for the grace period (bursts of joins). */
const MAX_GRACE_EPOCHS = 16;

export class Membership {
  private readonly members: Member[] = [];
  private readonly byId = new Map<string, Member>();
  private current: TopologyEpoch | null = null;
  /** The members of the current epoch, as they were then (a departed one keeps its last step). */
  private epochMembers: Member[] = [];
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
   * Takes back the stored epoch after a restart: its members, away, in their order, and the epoch itself
   * (rebuilt from the same inputs, so every payload is the one its peer holds). Nobody is told anything.
   */
  restore(snapshot: MembershipSnapshot, now: number): void {
    if (this.members.length > 0) throw new Error('restore() needs an empty membership');
    this.lastEpoch = Math.max(this.lastEpoch, snapshot.epoch);
    if (snapshot.members.length === 0) return;
    for (const stored of snapshot.members) {
      const member = Member.away(stored, now);
      this.members.push(member);
      this.byId.set(member.id, member);
    }
    this.current = TopologyEpoch.build({
      number: snapshot.epoch,
      activationStep: snapshot.activationStep,
      members: this.members.map((m) => m.id),
      spec: this.options.spec,
      seed: this.options.seed,
      joiners: new Set(snapshot.joiners),
    }).epoch;
    this.epochMembers = [...this.members];
  }

  /**
   * Connects a peer again as the away member `id`: same place, same epoch, no new one. The caller sends
   * it its payload (payloadOf).
   */
  resume(id: string, info: MemberInfo, channel: MemberChannel, now: number): Member | ResumeRefusal {
    const member = this.byId.get(id);
    if (!member) return 'not-member';
    if (!member.away) return 'connected';
    member.info = info;
    member.channel = channel;
    member.lastSeenAt = now;
    return member;
  }

  /** The payload of the current epoch for `id`, if it is a member of that epoch. */
  payloadOf(id: string): Epoch | undefined {
    return this.current?.payloadOf(id);
  }

  /** The state to persist: the current epoch and its members with their latest steps. */
  snapshot(): MembershipSnapshot {
    const epoch = this.current;
    if (!epoch) return { epoch: this.lastEpoch, activationStep: 0, members: [], joiners: [] };
    return {
      epoch: epoch.number,
      activationStep: epoch.activationStep,
      members: this.epochMembers.map((m) => m.stored()),
      joiners: [...epoch.joiners],
    };
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
    return this.removeAll([id], now).length > 0;
  }

  /** Removes several members at once: the rest get one new epoch, not one per departure. */
  removeAll(ids: readonly string[], now: number): Member[] {
    const removed = ids.map((id) => this.byId.get(id)).filter((m): m is Member => m !== undefined);
    if (removed.length === 0) return [];
    for (const member of removed) this.byId.delete(member.id);
    const gone = new Set(removed);
    this.members.splice(0, this.members.length, ...this.members.filter((m) => !gone.has(m)));
    this.changed(now);
    return removed;
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
    const target = this.byId.get(to);
    if (!target) return 'unknown-peer';
    if (!this.linked(from, to, now)) return 'not-neighbour';
    return target.away ? 'peer-away' : 'ok';
  }

  private linked(from: string, to: string, now: number): boolean {
    if (this.current?.linked(from, to)) return true;
    this.pruneGrace(now);
    return this.superseded.some(({ epoch }) => epoch.linked(from, to));
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
    if (this.members.length === 0) {
      this.epochMembers = [];
      this.options.persist?.(this.snapshot());
      return;
    }
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
    this.epochMembers = [...this.members];
    this.options.persist?.(this.snapshot());
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
