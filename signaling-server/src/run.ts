/**
 * One run: its config and join token, its membership and epochs, and its metrics. Every accepted change
 * is reported through `onChange`, which feeds the watchers' snapshots and the persisted epoch counter;
 * the membership of the current epoch is persisted through its MembershipStore.
 */
import { formatTopologySpec } from '@demuon/shared/graph';
import type { Metrics, RunConfig } from '@demuon/shared/protocol';
import { type Member, type MemberChannel, type MemberInfo, Membership, type RelayCheck } from './membership';
import type { MembershipSnapshot, MembershipStore } from './membership-store';
import type { MetricsStore } from './metrics-store';
import type { StoredRun } from './run-store';
import { sameSecret } from './secrets';
import type { RunState, RunSummary } from './wire-schemas';

/** A refused request: the error reply's code and a message that says what to do. */
export class Refusal {
  constructor(
    readonly code: string,
    readonly message: string,
  ) {}
}

export type RunOptions = {
  stored: StoredRun;
  metrics: MetricsStore;
  membershipStore: MembershipStore;
  /** The membership stored before a restart, taken back with every member away. */
  restored?: MembershipSnapshot;
  signalGraceMs: number;
  /** See MembershipOptions.batchMs. */
  epochBatchMs: number;
  onChange: (run: Run) => void;
};

export class Run {
  readonly config: RunConfig;
  readonly createdAt: number;
  readonly metrics: MetricsStore;
  private readonly token: string;
  private readonly membership: Membership;
  private readonly membershipStore: MembershipStore;
  private readonly onChange: (run: Run) => void;

  constructor(options: RunOptions) {
    const { stored, metrics, membershipStore, signalGraceMs, epochBatchMs, onChange } = options;
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
      onDeferredEpoch: () => onChange(this),
      persist: (snapshot) => membershipStore.save(snapshot),
    });
    if (options.restored) this.membership.restore(options.restored, Date.now());
  }

  get id(): string {
    return this.config.id;
  }

  get epochNumber(): number {
    return this.membership.epochNumber;
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
   * Shutdown: drops a pending epoch, writes the members' latest steps (they come back after a restart)
   * and flushes the metrics file.
   */
  async close(): Promise<void> {
    this.membership.dispose();
    this.membershipStore.flush(() => this.membership.snapshot());
    await this.metrics.close();
  }

  /** Stops this object's timers: it is being replaced by a Run of a new config (no members, same files). */
  retire(): void {
    this.membership.dispose();
    this.membershipStore.cancel();
  }

  /** The join token; only the registry's persistence and the host's printed URLs need it. */
  secretToken(): string {
    return this.token;
  }

  stored(): StoredRun {
    return { config: this.config, token: this.token, createdAt: this.createdAt, lastEpoch: this.epochNumber };
  }

  checkToken(token: string): boolean {
    return sameSecret(token, this.token);
  }

  /**
   * Adds a peer and starts an epoch that includes it. `admitted` runs between the two, so that the joiner
   * learns its id before the first epoch that names it.
   */
  join(
    info: MemberInfo,
    channel: MemberChannel,
    now: number,
    admitted: (member: Member) => void,
  ): Member | Refusal {
    if (this.membership.size >= this.config.maxPeers) {
      return new Refusal(
        'run-full',
        `run "${this.id}" already has its ${this.config.maxPeers} peers (maxPeers)`,
      );
    }
    const member = this.membership.add(info, channel, now, admitted);
    this.onChange(this);
    return member;
  }

  /**
   * Connects a peer again as the member it was (after a server restart): same id, same place, no new
   * epoch. `admitted` runs first (the acknowledgement), then the peer gets its payload of the current epoch.
   */
  resume(
    peer: string,
    info: MemberInfo,
    channel: MemberChannel,
    now: number,
    admitted: (member: Member) => void,
  ): Member | Refusal {
    const member = this.membership.resume(peer, info, channel, now);
    if (member === 'not-member') {
      return new Refusal(
        'cannot-resume',
        `peer ${peer} is not a member of run "${this.id}" (it left or was evicted); join without 'resume' for a new id`,
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
    this.membershipStore.saveSoon(() => this.membership.snapshot()); // its name or backend may be new
    this.onChange(this);
    return member;
  }

  leave(peer: string, now: number): void {
    if (this.membership.remove(peer, now)) this.onChange(this);
  }

  /** Removes the members silent (or away) for longer than timeoutMs in one epoch, telling each why. */
  evictSilent(now: number, timeoutMs: number): Member[] {
    const silent = this.membership.silent(now, timeoutMs);
    if (silent.length === 0) return silent;
    this.membership.removeAll(
      silent.map((m) => m.id),
      now,
    );
    for (const member of silent) {
      member.channel.evicted(
        `no heartbeat, progress or metrics from peer ${member.id} for over ${timeoutMs} ms`,
      );
    }
    this.onChange(this);
    return silent;
  }

  /** A heartbeat: the member is alive, nothing else changed. */
  heartbeat(member: Member, now: number): void {
    member.report(undefined, now);
    this.onChange(this);
  }

  progress(member: Member, step: number, now: number): void {
    this.report(member, step, now);
  }

  recordMetrics(member: Member, metrics: Metrics, now: number): void {
    this.report(member, metrics.step, now);
    this.metrics.add(member.id, metrics, now);
  }

  /** Relays a signal if the topology lets `from` and `to` talk; the reason otherwise. */
  relay(from: Member, to: string, data: Record<string, unknown>, now: number): RelayCheck {
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
      epoch: this.epochNumber,
      createdAt: this.createdAt,
    };
  }

  state(now: number): RunState {
    const epoch = this.membership.epoch;
    return {
      runId: this.id,
      name: this.config.name,
      topology: epoch?.topologyName ?? formatTopologySpec(this.config.topology),
      topologyFallback: epoch?.fallback,
      epoch: this.epochNumber,
      activationStep: epoch?.activationStep ?? 0,
      period: epoch?.period ?? 1,
      members: this.membership.list().map((m, index) => ({
        peer: m.id,
        away: m.away,
        name: m.info.name,
        platform: m.info.platform,
        backend: m.info.backend,
        index,
        step: m.step,
        joinedAt: m.joinedAt,
        lastSeenAt: m.lastSeenAt,
        latest: this.metrics.latest(m.id),
        links: this.metrics.links(m.id),
      })),
      links: epoch ? [...epoch.links] : [],
      linksTruncated: epoch?.linksTruncated ?? false,
      updatedAt: now,
    };
  }

  /** A new step moves the next epoch's activation step, so the stored membership is brought up to date. */
  private report(member: Member, step: number, now: number): void {
    const before = member.step;
    member.report(step, now);
    if (member.step !== before) this.membershipStore.saveSoon(() => this.membership.snapshot());
    this.onChange(this);
  }
}
