/**
 * One run: its config and join token, its membership and epochs, and its metrics. Every accepted change
 * is reported through `onChange`, which feeds the watchers' snapshots and the persisted epoch counter.
 */
import { formatTopologySpec } from '@demuon/shared/graph';
import type { Metrics, RunConfig } from '@demuon/shared/protocol';
import { type Member, type MemberChannel, type MemberInfo, Membership, type RelayCheck } from './membership';
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
  private readonly onChange: (run: Run) => void;

  constructor({ stored, metrics, signalGraceMs, epochBatchMs, onChange }: RunOptions) {
    this.config = stored.config;
    this.token = stored.token;
    this.createdAt = stored.createdAt;
    this.metrics = metrics;
    this.onChange = onChange;
    this.membership = new Membership({
      spec: stored.config.topology,
      seed: stored.config.seed,
      // Epoch numbers are persisted lazily; the metrics carry the epochs peers actually saw.
      lastEpoch: Math.max(stored.lastEpoch, metrics.maxEpoch),
      graceMs: signalGraceMs,
      batchMs: epochBatchMs,
      onDeferredEpoch: () => onChange(this),
    });
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

  /** Drops a pending epoch (shutdown) and flushes the metrics file. */
  async close(): Promise<void> {
    this.membership.dispose();
    await this.metrics.close();
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

  leave(peer: string, now: number): void {
    if (this.membership.remove(peer, now)) this.onChange(this);
  }

  /** Removes the members silent for longer than timeoutMs, telling each why. */
  evictSilent(now: number, timeoutMs: number): Member[] {
    const silent = this.membership.silent(now, timeoutMs);
    for (const member of silent) {
      this.membership.remove(member.id, now);
      member.channel.evicted(`no progress or metrics from peer ${member.id} for over ${timeoutMs} ms`);
    }
    if (silent.length > 0) this.onChange(this);
    return silent;
  }

  progress(member: Member, step: number, now: number): void {
    member.report(step, now);
    this.onChange(this);
  }

  recordMetrics(member: Member, metrics: Metrics, now: number): void {
    member.report(metrics.step, now);
    this.metrics.add(member.id, metrics, now);
    this.onChange(this);
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
}
