/**
 * The ordered members of one run and its topology epochs. Every change of membership (join, leave,
 * eviction) makes a *proposal* over the members in join order: each connected member gets its payload
 * without an activation step (`epoch-propose`) and answers with a barrier, a step it will not start
 * before the commit. Once all have answered, the epoch is committed at the largest barrier, persisted,
 * and sent (`epoch`): every member switches at the same step and none waits on a timeout. A member that
 * does not answer in time is removed, which makes a new proposal. A departure of one of its members
 * replaces a pending proposal (it could never complete); joins wait for its commit and share the next
 * one. So proposals are clocked by their answers: under load they come slower and take in more joins,
 * instead of each join discarding the answers gathered so far. Transport-free: members are reached
 * through the MemberChannel the socket layer gives them.
 * After a server restart the members of the stored epoch come back *away* (no channel) and keep their
 * places, so that a peer that resumes finds the epoch it had; a pending proposal is not stored.
 */
import { randomBytes } from 'node:crypto';
import type { TopologySpec } from '@demuon/shared/graph';
import type { Epoch, FailedLink, NeighbourStatusReply, PendingEpoch } from '@demuon/shared/protocol';
import { Member, type MemberChannel, type MemberInfo } from './member';
import type { MembershipSnapshot } from './membership-store';
import { type MissReport, NeighbourReports, type Removal, type ReportOutcome } from './neighbour-reports';
import { PendingProposal } from './pending-proposal';
import { RecentLayouts } from './recent-layouts';
import { newToken } from './secrets';
import { ProposedEpoch, TopologyEpoch } from './topology-epoch';

export type RelayCheck = 'ok' | 'unknown-peer' | 'not-neighbour' | 'peer-away';

/**
 * Why a peer cannot resume: its id is no member, the secret is not that member's, or someone is connected
 * as that member.
 */
export type ResumeRefusal = 'not-member' | 'bad-secret' | 'connected';

export type { MissReport, ReportOutcome } from './neighbour-reports';

export type MembershipOptions = {
  spec: TopologySpec;
  seed: number;
  /** The last epoch number handed out before (persisted across restarts, so numbers never repeat). */
  lastEpoch: number;
  /** How long the neighbours of a superseded epoch or proposal may still signal each other. */
  graceMs: number;
  /**
   * 0: every change is proposed at once. Otherwise changes within this window share one proposal, so
   * that a burst of N joins costs a few epochs instead of N (each epoch goes to every member).
   */
  batchMs?: number;
  /** A member that owes an answer to a proposal for this long is removed. */
  proposalTimeoutMs: number;
  /** A reported member not heard from for longer than this is removed. */
  suspicionMs: number;
  /** Called after a change the membership made on its own timer (a batched proposal, an eviction). */
  onChange?: () => void;
  /** Called for each member the server gave up on, with the reason it is told (for the server's log). */
  onEvicted?: (member: Member, reason: string) => void;
  /**
   * Called with the new state when an epoch is committed, or the last member left, before any member
   * hears of it: what is persisted is never behind what a peer holds.
   */
  persist?: (snapshot: MembershipSnapshot) => void;
};

export class Membership {
  private readonly members: Member[] = [];
  private readonly byId = new Map<string, Member>();
  private current: TopologyEpoch | null = null;
  /** The members of the current epoch, as they were then (a departed one keeps its last state). */
  private epochMembers: Member[] = [];
  private pending: PendingProposal | null = null;
  private readonly superseded: RecentLayouts;
  private lastEpoch: number;
  /** The number of the committed epoch in force, or of the moment the last member left. */
  private lastCommitted: number;
  /** Members that joined since the last committed epoch: each is told whom to bootstrap from. */
  private joiners: string[] = [];
  private readonly reports: NeighbourReports;
  private batchTimer: NodeJS.Timeout | undefined;
  private answerTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: MembershipOptions) {
    this.lastEpoch = options.lastEpoch;
    this.lastCommitted = options.lastEpoch;
    this.superseded = new RecentLayouts(options.graceMs);
    const find = (list: readonly Member[] | undefined, id: string) => list?.find((m) => m.id === id);
    this.reports = new NeighbourReports(
      {
        current: () => this.current,
        pendingLayout: () => this.pending?.proposed.layout,
        get: (id) => this.byId.get(id),
        known: (id) => find(this.epochMembers, id) ?? find(this.pending?.members, id),
        order: (id) => this.members.findIndex((m) => m.id === id),
        evict: (removals, now) => this.evict(removals, now),
      },
      options.suspicionMs,
    );
  }

  get size(): number {
    return this.members.length;
  }

  /** The committed epoch in force, or null while nobody has joined since the server started. */
  get epoch(): TopologyEpoch | null {
    return this.current;
  }

  /** The last epoch number handed out, to a proposal or a commit. */
  get epochNumber(): number {
    return this.lastEpoch;
  }

  /** The number of the committed epoch in force (when nobody is a member: the last number then). */
  get committedNumber(): number {
    return this.lastCommitted;
  }

  get proposal(): PendingEpoch | null {
    return this.pending?.state() ?? null;
  }

  failedLinks(): FailedLink[] {
    return this.reports.failedLinks();
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
    this.lastCommitted = snapshot.epoch;
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
   * it its payload (payloadOf), then the pending proposal (askPending).
   */
  resume(
    id: string,
    secret: string,
    info: MemberInfo,
    channel: MemberChannel,
    now: number,
  ): Member | ResumeRefusal {
    const member = this.byId.get(id);
    if (!member) return 'not-member';
    // Before anything else about the member: whether it is connected is for its own peer to learn.
    if (!member.hasSecret(secret)) return 'bad-secret';
    if (!member.away) return 'connected';
    member.reconnect(info, channel, now);
    return member;
  }

  /** A member that resumed while a proposal including it is pending is asked for its answer too. */
  askPending(member: Member, now: number): void {
    if (!this.pending?.includes(member.id)) return;
    this.pending.ask(member, now);
    this.armAnswerTimer();
  }

  /** The payload of the current epoch for `id`, if it is a member of that epoch. */
  payloadOf(id: string): Epoch | undefined {
    return this.current?.payloadOf(id);
  }

  /** The state to persist: the current epoch and its members with their latest steps. */
  snapshot(): MembershipSnapshot {
    const epoch = this.current;
    if (!epoch) return { epoch: this.lastCommitted, activationStep: 0, members: [], joiners: [] };
    return {
      epoch: epoch.number,
      activationStep: epoch.activationStep,
      members: this.epochMembers.map((m) => m.stored()),
      joiners: [...epoch.joiners],
    };
  }

  /**
   * Adds a member at the end of the order and proposes an epoch that includes it; `admitted` runs
   * before the proposal is handed out.
   */
  add(
    info: MemberInfo,
    channel: MemberChannel,
    now: number,
    admitted?: (member: Member) => void,
    checkpointStep: number | null = null,
  ): Member {
    const member = new Member(this.freshId(), newToken(), info, channel, now, now);
    member.checkpointStep = checkpointStep;
    this.members.push(member);
    this.byId.set(member.id, member);
    admitted?.(member);
    this.joiners.push(member.id);
    this.changed(now, false);
    return member;
  }

  /** Removes a member; the rest get a new proposal. False when it was not a member (already removed). */
  remove(id: string, now: number): boolean {
    return this.removeAll([id], now).length > 0;
  }

  /** Removes several members at once: the rest get one new proposal, not one per departure. */
  removeAll(ids: readonly string[], now: number): Member[] {
    const removed = ids.map((id) => this.byId.get(id)).filter((m): m is Member => m !== undefined);
    if (removed.length === 0) return [];
    for (const member of removed) {
      this.byId.delete(member.id);
      this.reports.discount(member.id);
    }
    const gone = new Set(removed);
    this.members.splice(0, this.members.length, ...this.members.filter((m) => !gone.has(m)));
    this.changed(
      now,
      removed.some((m) => this.pending?.includes(m.id)),
    );
    return removed;
  }

  /** Removes members the server gave up on, in one proposal, and tells each why. */
  evict(removals: readonly Removal[], now: number): void {
    if (removals.length === 0) return;
    this.removeAll(
      removals.map(({ member }) => member.id),
      now,
    );
    for (const { member, reason } of removals) {
      this.options.onEvicted?.(member, reason);
      member.channel.evicted(reason);
    }
  }

  /**
   * `member` answers proposal `epoch`: it will not start step `barrier` before the commit. The last
   * answer commits the epoch. False when `epoch` is not the pending proposal (or not one of `member`).
   */
  ready(member: Member, epoch: number, barrier: number, now: number): boolean {
    const pending = this.pending;
    if (!pending || pending.number !== epoch || !pending.includes(member.id)) {
      // Too late for the proposal it answers, yet an answer: the member's clock restarts at this one's.
      if (pending && epoch < pending.number) pending.answeredReplaced(member);
      return false;
    }
    pending.answer(member, barrier);
    if (pending.complete) this.commit(now);
    return true;
  }

  /** `reporter` gave up on a neighbour (see NeighbourReports). */
  reportMissed(reporter: Member, report: MissReport, now: number): ReportOutcome {
    return this.reports.report(reporter, report, now);
  }

  /** Removes the reported members that have gone silent since (the periodic sweep). */
  sweepReports(now: number): Member[] {
    return this.reports.removeDue(now);
  }

  /** What the server knows of neighbour `peer` for `asker`; undefined for a peer it is not linked with. */
  neighbourStatus(asker: Member, peer: string, now: number): NeighbourStatusReply | undefined {
    return this.reports.status(asker, peer, now);
  }

  /** Stops pending timers (server shutdown). */
  dispose(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
  }

  /** Members with no report for longer than timeoutMs. */
  silent(now: number, timeoutMs: number): Member[] {
    return this.members.filter((m) => now - m.lastSeenAt > timeoutMs);
  }

  /**
   * Signals go between neighbours of the current epoch, of the pending proposal (peers open its links
   * while they answer), or of an epoch or proposal superseded less than graceMs ago: answers and ICE
   * candidates of a link being set up when membership changed are still in flight, and peers keep
   * gossiping with their old neighbours until the new epoch's activation step.
   */
  canRelay(from: string, to: string, now: number): RelayCheck {
    const target = this.byId.get(to);
    if (!target) return 'unknown-peer';
    if (!this.linked(from, to, now)) return 'not-neighbour';
    return target.away ? 'peer-away' : 'ok';
  }

  private linked(from: string, to: string, now: number): boolean {
    if (this.current?.linked(from, to) || this.pending?.proposed.layout.linked(from, to)) return true;
    return this.superseded.linked(from, to, now);
  }

  /**
   * `voidsPending`: the change removed a member the pending proposal waits for. Any other change waits
   * for the commit, which proposes again if the members are no longer the epoch's.
   */
  private changed(now: number, voidsPending: boolean): void {
    if (this.pending && !voidsPending) return;
    this.cancelPending(now);
    this.proposeSoon(now);
  }

  private proposeSoon(now: number): void {
    const batchMs = this.options.batchMs ?? 0;
    if (batchMs <= 0) {
      this.propose(now);
      return;
    }
    this.batchTimer ??= setTimeout(() => {
      this.batchTimer = undefined;
      this.propose(Date.now());
      this.options.onChange?.();
    }, batchMs);
  }

  private propose(now: number): void {
    this.cancelPending(now);
    this.joiners = this.joiners.filter((id) => this.byId.has(id));
    if (this.members.length === 0) {
      this.retireCurrent(now);
      this.epochMembers = [];
      this.reports.clear();
      this.lastCommitted = this.lastEpoch;
      this.options.persist?.(this.snapshot());
      return;
    }
    const proposed = ProposedEpoch.make(++this.lastEpoch, {
      members: this.members.map((m) => m.id),
      spec: this.options.spec,
      seed: this.options.seed,
      joiners: this.bootstrapping(),
    });
    const pending = new PendingProposal(proposed, [...this.members]);
    this.pending = pending;
    for (const member of this.members) pending.ask(member, now);
    if (pending.complete) this.commit(now);
    else this.armAnswerTimer();
  }

  /**
   * The members that take their state from a neighbour: those that joined since the last epoch. Before
   * anyone has trained here (all had left, or the server is new), the run resumes from the newest
   * checkpoint its members brought instead: those holding it start from it, and every other member,
   * whenever it joined, takes its state from them. With no checkpoint at all the run starts afresh.
   */
  private bootstrapping(): Set<string> {
    const joiners = new Set(this.joiners);
    if (this.members.some((m) => m.step !== null)) return joiners;
    const newest = Math.max(0, ...this.members.map((m) => m.checkpointStep ?? 0));
    if (newest === 0) return joiners;
    return new Set(this.members.filter((m) => m.checkpointStep !== newest).map((m) => m.id));
  }

  private commit(now: number): void {
    const pending = this.pending!;
    this.pending = null;
    clearTimeout(this.answerTimer);
    const floor = this.current?.activationStep ?? 0;
    const { epoch, payloads } = pending.proposed.commit(pending.activationStep(floor));
    this.retireCurrent(now);
    this.current = epoch;
    this.lastCommitted = epoch.number;
    this.epochMembers = [...pending.members];
    const inEpoch = new Set(epoch.members);
    this.joiners = this.joiners.filter((id) => !inEpoch.has(id));
    this.reports.clear();
    this.options.persist?.(this.snapshot());
    for (const [i, member] of pending.members.entries()) member.channel.epoch(payloads[i]);
    const unchanged = this.members.length === inEpoch.size && this.members.every((m) => inEpoch.has(m.id));
    if (!unchanged) this.proposeSoon(now);
  }

  /** Drops the pending proposal: a new one replaces it, and answers to it no longer count. */
  private cancelPending(now: number): void {
    if (!this.pending) return;
    this.superseded.retire(this.pending.proposed.layout, now);
    this.pending = null;
    clearTimeout(this.answerTimer);
  }

  private armAnswerTimer(): void {
    clearTimeout(this.answerTimer);
    const deadline = this.pending?.nextDeadline(this.options.proposalTimeoutMs);
    if (deadline === undefined) return;
    this.answerTimer = setTimeout(() => this.answersOverdue(), Math.max(0, deadline - Date.now()));
  }

  private answersOverdue(): void {
    const pending = this.pending;
    if (!pending) return;
    const now = Date.now();
    const timeoutMs = this.options.proposalTimeoutMs;
    const overdue = pending.overdue(now, timeoutMs);
    if (overdue.length === 0) {
      this.armAnswerTimer();
      return;
    }
    const reason = (member: Member) =>
      `peer ${member.id} did not answer the epoch proposal within ${timeoutMs} ms`;
    this.evict(
      overdue.map((member) => ({ member, reason: reason(member) })),
      now,
    );
    this.options.onChange?.();
  }

  private retireCurrent(now: number): void {
    if (this.current) this.superseded.retire(this.current.layout, now);
    this.current = null;
  }

  private freshId(): string {
    for (;;) {
      const id = randomBytes(6).toString('base64url');
      if (!this.byId.has(id)) return id;
    }
  }
}
