/**
 * One run: its config and join token, its membership and epochs, and its metrics. Every accepted change
 * is reported through `onChange`, which feeds the watchers' snapshots and the persisted epoch counters;
 * the membership of the current epoch is persisted through its MembershipKeeper (a file, or Redis when scaled out).
 */
import { formatTopologySpec } from '@demuon/shared/graph';
import type {
  Metrics,
  NeighbourStatusReply,
  PeerStatus,
  RefusalCode,
  RunConfig,
  RunState,
  RunSummary,
  SignalData,
} from '@demuon/shared/protocol';
import { Collectors, MAX_COLLECTORS } from './collectors';
import { maxActivationStep } from './limits';
import type { Logger } from './log';
import type { Member, MemberChannel, MemberInfo } from './member';
import { Membership, type MissReport, type RelayCheck } from './membership';
import type { MembershipKeeper, MembershipSnapshot } from './membership-store';
import type { MetricsStore } from './metrics-store';
import type { StoredRun } from './run-store';
import { sameSecret } from './secrets';

/** A refused request: the error reply's code and a message that says what to do. */
export class Refusal {
  constructor(
    readonly code: RefusalCode | 'run-exists' | 'too-many-runs',
    readonly message: string,
  ) {}
}

export type RunOptions = {
  stored: StoredRun;
  metrics: MetricsStore;
  membershipStore: MembershipKeeper;
  /** The membership stored before a restart, taken back with every member away. */
  restored?: MembershipSnapshot;
  signalGraceMs: number;
  /** See MembershipOptions. */
  epochBatchMs: number;
  proposalTimeoutMs: number;
  suspicionMs: number;
  onChange: (run: Run) => void;
  log: Logger;
};

export class Run {
  readonly config: RunConfig;
  readonly createdAt: number;
  readonly metrics: MetricsStore;
  private readonly token: string;
  private readonly membership: Membership;
  private readonly membershipStore: MembershipKeeper;
  private readonly onChange: (run: Run) => void;
  readonly collectors = new Collectors();

  constructor(options: RunOptions) {
    const { stored, metrics, membershipStore, signalGraceMs, epochBatchMs, onChange } = options;
    const { proposalTimeoutMs, suspicionMs } = options;
    this.config = stored.config;
    this.token = stored.token;
    this.createdAt = stored.createdAt;
    this.metrics = metrics;
    this.membershipStore = membershipStore;
    this.onChange = onChange;
    this.membership = new Membership({
      spec: stored.config.topology,
      seed: stored.config.seed,
      // Epoch numbers are persisted lazily; the metrics carry the epochs peers actually saw.
      lastEpoch: Math.max(stored.lastEpoch, metrics.maxEpoch),
      graceMs: signalGraceMs,
      batchMs: epochBatchMs,
      proposalTimeoutMs,
      suspicionMs,
      onChange: () => onChange(this),
      onEvicted: ({ id, info }, reason) =>
        options.log.info(
          `run "${this.id}": evicted ${id}${info.name ? ` ${JSON.stringify(info.name)}` : ''}: ${reason}`,
        ),
      persist: (snapshot) => membershipStore.save(snapshot),
    });
    if (options.restored) this.membership.restore(options.restored, Date.now());
  }

  get id(): string {
    return this.config.id;
  }

  /** The last epoch number handed out, to a proposal or a commit. */
  get epochNumber(): number {
    return this.membership.epochNumber;
  }

  /** The committed epoch in force (what peers hold). */
  get committedEpoch(): number {
    return this.membership.committedNumber;
  }

  get memberCount(): number {
    return this.membership.size;
  }

  /** Members restored after a restart whose peers have not resumed yet. */
  get awayCount(): number {
    return this.membership.list().filter((m) => m.away).length;
  }

  get membershipFile(): string {
    return this.membershipStore.file;
  }

  /**
   * Shutdown: drops a pending proposal, writes the members' latest steps (they come back after a restart)
   * and flushes the metrics file.
   */
  async close(): Promise<void> {
    this.membership.dispose();
    this.collectors.closeAll();
    await this.membershipStore.flush(() => this.membership.snapshot());
    await this.metrics.close();
  }

  /** Stops this object's timers: it is being replaced by a Run of a new config (no members, same files). */
  retire(): void {
    this.membership.dispose();
    this.collectors.closeAll();
    this.membershipStore.cancel();
  }

  /** The join token; only the registry's persistence and the host's printed URLs need it. */
  secretToken(): string {
    return this.token;
  }

  stored(): StoredRun {
    return {
      config: this.config,
      token: this.token,
      createdAt: this.createdAt,
      lastEpoch: this.epochNumber,
      committedEpoch: this.committedEpoch,
    };
  }

  checkToken(token: string): boolean {
    return sameSecret(token, this.token);
  }

  /**
   * Adds a peer and proposes an epoch that includes it. `admitted` runs between the two, so that the
   * joiner learns its id before the first proposal that names it.
   */
  join(
    info: MemberInfo,
    channel: MemberChannel,
    now: number,
    admitted: (member: Member) => void,
    checkpointStep: number | null = null,
  ): Member | Refusal {
    if (this.membership.size >= this.config.maxPeers) {
      return new Refusal(
        'run-full',
        `run "${this.id}" already has its ${this.config.maxPeers} peers (maxPeers)`,
      );
    }
    const member = this.membership.add(info, channel, now, admitted, checkpointStep);
    this.onChange(this);
    return member;
  }

  /**
   * Connects a peer again as the member it was (after a server restart): same id, same place, no new
   * epoch. `admitted` runs first (the acknowledgement), then the peer gets its payload of the current
   * epoch, then the pending proposal when there is one.
   */
  resume(
    peer: string,
    secret: string,
    info: MemberInfo,
    channel: MemberChannel,
    now: number,
    admitted: (member: Member) => void,
  ): Member | Refusal {
    const member = this.membership.resume(peer, secret, info, channel, now);
    if (member === 'not-member') {
      return new Refusal(
        'cannot-resume',
        `peer ${peer} is not a member of run "${this.id}" (it left or was evicted); join without 'resume' for a new id`,
      );
    }
    if (member === 'bad-secret') {
      return new Refusal(
        'bad-secret',
        `wrong secret for peer ${peer} of run "${this.id}": resume with the secret of that peer's join acknowledgement`,
      );
    }
    if (member === 'connected') {
      return new Refusal(
        'cannot-resume',
        `peer ${peer} of run "${this.id}" is connected on another socket; only a peer away from the server can resume`,
      );
    }
    admitted(member);
    const payload = this.membership.payloadOf(peer);
    if (payload) channel.epoch(payload);
    this.membership.askPending(member, now);
    this.membershipStore.saveSoon(() => this.membership.snapshot()); // its name or backend may be new
    this.onChange(this);
    return member;
  }

  /** The member's socket is gone with its server process; it stays a member, away (see Member.detach). */
  detach(member: Member): void {
    if (this.membership.get(member.id) !== member || member.away) return;
    member.detach();
    this.onChange(this);
  }

  leave(peer: string, now: number): void {
    if (this.membership.remove(peer, now)) this.onChange(this);
  }

  /** Removes the members silent (or away) for longer than timeoutMs in one proposal, telling each why. */
  evictSilent(now: number, timeoutMs: number): Member[] {
    const silent = this.membership.silent(now, timeoutMs);
    if (silent.length === 0) return silent;
    const reason = (m: Member) =>
      `no heartbeat or any other event from peer ${m.id} for over ${timeoutMs} ms`;
    this.membership.evict(
      silent.map((member) => ({ member, reason: reason(member) })),
      now,
    );
    this.onChange(this);
    return silent;
  }

  /** Removes reported members that have gone silent since their report (the periodic sweep). */
  sweepReports(now: number): void {
    if (this.membership.sweepReports(now).length > 0) this.onChange(this);
  }

  /** A heartbeat: the member is alive, and says what it is doing when `status` is given. */
  heartbeat(member: Member, status: PeerStatus | undefined, now: number): Refusal | undefined {
    // Its neighbours are told this status: it must be a step they can be at too.
    if (status && status.step > this.config.steps) return this.pastLastStep('status step', status.step);
    if (status) member.reportStatus(status, now);
    else member.report(undefined, now);
    this.onChange(this);
    return undefined;
  }

  /** `epoch-ready`: an answer to the pending proposal; the last answer commits it. */
  epochReady(member: Member, epoch: number, barrier: number, now: number): Refusal | undefined {
    // The largest barrier becomes the epoch's activation step, which every member must accept.
    const maxBarrier = maxActivationStep(this.config.steps);
    if (barrier > maxBarrier) {
      return new Refusal(
        'bad-step',
        `barrier ${barrier} is past any step of run "${this.id}" (${this.config.steps} steps): at most ${maxBarrier}`,
      );
    }
    const pending = this.membership.proposal;
    if (!this.membership.ready(member, epoch, barrier, now)) {
      const what = pending ? `the pending proposal is epoch ${pending.epoch}` : 'no proposal is pending';
      return new Refusal('stale-epoch', `epoch ${epoch} is not a proposal awaiting your answer (${what})`);
    }
    this.onChange(this);
    return undefined;
  }

  /** `neighbour-missed`: `member` gave up on a neighbour; enough reports remove that neighbour. */
  neighbourMissed(member: Member, report: MissReport, now: number): Refusal | undefined {
    const outcome = this.membership.reportMissed(member, report, now);
    if (outcome === 'not-neighbour') {
      return new Refusal(
        'not-neighbour',
        `peer ${report.peer} is not a neighbour of ${member.id} in epoch ${report.epoch}`,
      );
    }
    if (outcome === 'recorded') this.onChange(this);
    return undefined;
  }

  /** `neighbour-status`: what the server knows of a neighbour of `member`. */
  neighbourStatus(member: Member, peer: string, now: number): NeighbourStatusReply | Refusal {
    const reply = this.membership.neighbourStatus(member, peer, now);
    if (reply) return reply;
    return new Refusal(
      'not-neighbour',
      `peer ${peer} is not a neighbour of ${member.id} in the current or the pending epoch`,
    );
  }

  /** `progress`: the member finished `step` steps; never fewer than it said before, nor more than the run has. */
  progress(member: Member, step: number, now: number): Refusal | undefined {
    if (step > this.config.steps) return this.pastLastStep('progress step', step);
    if (member.step !== null && step < member.step) {
      return new Refusal(
        'bad-step',
        `progress step ${step} is below step ${member.step}, which peer ${member.id} reported before: steps only grow`,
      );
    }
    this.report(member, step, now);
    return undefined;
  }

  /**
   * A metrics report. Reports may come late (held through an outage), so its step may be below the
   * member's latest; but not past the run's last step, nor of an epoch the server never handed out (the
   * stored epochs number the next ones after a restart).
   */
  recordMetrics(member: Member, metrics: Metrics, now: number): Refusal | undefined {
    if (metrics.step > this.config.steps) return this.pastLastStep('metrics step', metrics.step);
    if (metrics.epoch > this.epochNumber) {
      return new Refusal(
        'bad-epoch',
        `metrics of epoch ${metrics.epoch}, but run "${this.id}" has handed out epochs up to ${this.epochNumber} only`,
      );
    }
    this.report(member, metrics.step, now);
    this.metrics.add(member.id, metrics, now);
    return undefined;
  }

  /** Relays a signal if the topology lets `from` and `to` talk; the reason otherwise. */
  /**
   * Names a collector of the parameters of every member (or of `peer` alone) and asks each of them to
   * send them; the collector's signals go to `signal`.
   */
  collect(
    peer: string | undefined,
    signal: (from: string, data: SignalData) => void,
  ): { collector: string; peers: { peer: string; step: number | null }[] } | Refusal {
    const members = this.membership.list().filter((m) => !m.away && (peer === undefined || m.id === peer));
    if (members.length === 0)
      return new Refusal(
        'no-members',
        peer === undefined
          ? `run "${this.id}" has no members to collect parameters from`
          : `peer ${peer} is not a connected member of run "${this.id}"`,
      );
    const collector = this.collectors.open(
      members.map((m) => m.id),
      signal,
    );
    if (collector === undefined)
      return new Refusal(
        'busy',
        `run "${this.id}" already serves ${MAX_COLLECTORS} model downloads; retry shortly`,
      );
    for (const m of members) m.channel.collect(collector);
    return { collector, peers: members.map((m) => ({ peer: m.id, step: m.step })) };
  }

  /** Relays a collector's signal to a member it asked. */
  relayFromCollector(collector: string, to: string, data: SignalData): RelayCheck {
    const member = this.membership.get(to);
    if (!member) return 'unknown-peer';
    if (!this.collectors.asked(collector, to)) return 'not-neighbour';
    if (member.away) return 'peer-away';
    member.channel.signal(collector, data);
    return 'ok';
  }

  relay(from: Member, to: string, data: SignalData, now: number): RelayCheck {
    if (this.collectors.relay(from.id, to, data)) return 'ok';
    const check = this.membership.canRelay(from.id, to, now);
    if (check === 'ok') this.membership.get(to)!.channel.signal(from.id, data);
    return check;
  }

  summary(): RunSummary {
    return {
      id: this.id,
      name: this.config.name,
      topology: formatTopologySpec(this.config.topology),
      algorithm: this.config.algorithm.name,
      members: this.membership.size,
      maxPeers: this.config.maxPeers,
      epoch: this.committedEpoch,
      createdAt: this.createdAt,
    };
  }

  state(now: number): RunState {
    const epoch = this.membership.epoch;
    return {
      runId: this.id,
      name: this.config.name,
      topology: epoch?.layout.topologyName ?? formatTopologySpec(this.config.topology),
      topologyFallback: epoch?.layout.fallback,
      epoch: this.committedEpoch,
      activationStep: epoch?.activationStep ?? 0,
      period: epoch?.layout.period ?? 1,
      pending: this.membership.proposal,
      members: this.membership.list().map((m, index) => ({
        peer: m.id,
        away: m.away,
        name: m.info.name,
        platform: m.info.platform,
        backend: m.info.backend,
        ...(m.info.server ? { server: m.info.server } : {}),
        index,
        step: m.step,
        joinedAt: m.joinedAt,
        lastSeenAt: m.lastSeenAt,
        longestGapMs: m.longestGapMs,
        status: m.status,
        statusAgeMs: m.statusAt === null ? null : Math.max(0, now - m.statusAt),
        latest: this.metrics.latest(m.id),
        links: this.metrics.links(m.id),
      })),
      links: epoch ? [...epoch.layout.links] : [],
      linksTruncated: epoch?.layout.linksTruncated ?? false,
      failedLinks: this.membership.failedLinks(),
      updatedAt: now,
    };
  }

  private pastLastStep(what: string, step: number): Refusal {
    return new Refusal(
      'bad-step',
      `${what} ${step} is past the last step of run "${this.id}" (${this.config.steps} steps)`,
    );
  }

  /** Steps are kept in the stored membership: a restarted server shows where its members were. */
  private report(member: Member, step: number, now: number): void {
    const before = member.step;
    member.report(step, now);
    if (member.step !== before) this.membershipStore.saveSoon(() => this.membership.snapshot());
    this.onChange(this);
  }
}
