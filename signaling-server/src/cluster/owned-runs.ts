/**
 * The runs this process owns in a scaled-out deployment: it holds each one's lease in Redis, its
 * membership in memory (the same Run as a single server's), and a session (PeerSession over a
 * RemoteSocket) for every socket, on any process, that addresses it. A run is taken on demand, by the
 * first process that needs it while nobody holds it, and rebuilt from Redis as after a restart: its
 * members away until their peers resume. A process that loses a lease (frozen past it) steps down.
 */
import { EVENTS } from '@demuon/shared/protocol';
import { readSnapshot } from '../membership-store';
import { MetricsStore } from '../metrics-store';
import { BEFORE_JOIN, PeerSession, type RunLookup, type SessionContext } from '../peer-session';
import { Run } from '../run';
import type { RegistryOptions } from '../run-registry';
import { DETACHED } from '../sockets';
import type { BusMessage, EventMessage, ProcessBus } from './process-bus';
import type { SharedState } from './redis-state';
import { RemoteSocket } from './remote-socket';
import { Outbox, SharedMembership, SharedMetricsLog } from './shared-run-stores';

/** What every run is made with (as a single server's registry makes them), and this process's lease. */
export type OwnedRunsOptions = Omit<RegistryOptions, 'dataDir' | 'adminToken'> & {
  me: string;
  state: SharedState;
  leaseMs: number;
};

type OwnedRun = {
  run: Run;
  outbox: Outbox;
  /** By `gateway|socket`. */
  sessions: Map<string, RemoteSocket & { queue: Promise<void> }>;
  renewedAt: number;
};

export class OwnedRuns implements RunLookup {
  private readonly owned = new Map<string, OwnedRun>();
  private readonly loading = new Map<string, Promise<boolean>>();
  private bus: ProcessBus | undefined;
  private session: SessionContext | undefined;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: OwnedRunsOptions) {
    this.timer = setInterval(() => void this.tick(), Math.max(50, options.leaseMs / 3));
  }

  /** Wires what exists only once the server is up. */
  connect(bus: ProcessBus, session: SessionContext): void {
    this.bus = bus;
    this.session = session;
  }

  get(id: string): Run | undefined {
    return this.owned.get(id)?.run;
  }

  list(): Run[] {
    return [...this.owned.values()].map((o) => o.run);
  }

  /** Takes run `id` when nobody holds it (or `from`, a process known to be gone, held it): true when it is ours. */
  adopt(id: string, from?: string): Promise<boolean> {
    if (this.owned.has(id)) return Promise.resolve(true);
    let loading = this.loading.get(id);
    if (!loading) {
      loading = this.load(id, from).finally(() => this.loading.delete(id));
      this.loading.set(id, loading);
    }
    return loading;
  }

  /** An event for a run (`event`) or a socket gone (`gone`). */
  async handle(message: Extract<BusMessage, { kind: 'event' | 'gone' }>): Promise<void> {
    await this.loading.get(message.run);
    const owned = this.owned.get(message.run);
    const key = `${message.from}|${message.socket}`;
    if (message.kind === 'gone') {
      const socket = owned?.sessions.get(key);
      owned?.sessions.delete(key);
      socket?.fire('disconnect', message.detached ? DETACHED : 'transport close');
      return;
    }
    if (!owned) return void this.send(message.from, { kind: 'not-owner', message });
    let socket = owned.sessions.get(key);
    if (!socket) {
      if (!BEFORE_JOIN.has(message.event)) return void this.send(message.from, { kind: 'resync', message });
      socket = this.openSession(owned, message);
    }
    // A resume must not find its member still connected through a process that is gone.
    const resume = message.event === EVENTS.join && hasResume(message.args[0]);
    const deliver = () => socket.deliver(message.event, message.args, message.ack);
    socket.queue = socket.queue
      .then(async () => {
        if (resume) await this.sweepGateways();
        deliver();
      })
      .catch((error: Error) => this.options.log.warn(`'${message.event}' failed: ${error.stack ?? error}`));
  }

  /** Drain: stores every owned run's last state, then gives its lease back for another process to take. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await Promise.all([...this.loading.values()]);
    await Promise.all(
      [...this.owned.entries()].map(async ([id, owned]) => {
        await owned.run.close();
        await owned.outbox.drained();
        await this.options.state.release(id, this.options.me).catch(() => {});
      }),
    );
    this.owned.clear();
  }

  private openSession(owned: OwnedRun, message: EventMessage) {
    const { from } = message;
    const socket = Object.assign(
      new RemoteSocket(message.socket, from, (out) => owned.outbox.deliver(() => this.send(from, out))),
      { queue: Promise.resolve() },
    );
    owned.sessions.set(`${from}|${message.socket}`, socket);
    new PeerSession(socket, this.session!);
    return socket;
  }

  private send(to: string, message: BusMessage): void {
    this.bus?.send(to, message).then(
      (listeners) => {
        if (listeners === 0) this.gatewayGone(to);
      },
      (error: Error) => this.options.log.warn(`cannot send to process ${to}: ${error.message}`),
    );
  }

  /** The sockets of a process that is gone: their members stay, away, for their peers to resume elsewhere. */
  private gatewayGone(gateway: string): void {
    for (const owned of this.owned.values()) {
      for (const [key, socket] of owned.sessions) {
        if (socket.gateway !== gateway) continue;
        owned.sessions.delete(key);
        socket.fire('disconnect', DETACHED);
      }
    }
  }

  private async sweepGateways(): Promise<void> {
    const gateways = new Set<string>();
    for (const owned of this.owned.values()) for (const s of owned.sessions.values()) gateways.add(s.gateway);
    gateways.delete(this.options.me);
    try {
      const listeners = await this.options.state.listeners([...gateways]);
      for (const [gateway, count] of listeners) if (count === 0) this.gatewayGone(gateway);
    } catch (error) {
      this.options.log.warn(`cannot check which server processes are up: ${(error as Error).message}`);
    }
  }

  private async load(id: string, from?: string): Promise<boolean> {
    const { state, me, leaseMs, log } = this.options;
    if (this.closed) return false;
    const shared = await state.run(id);
    if (!shared) return false;
    const claimed = from ? await state.takeFrom(id, from, me, leaseMs) : await state.claim(id, me, leaseMs);
    if (!claimed) return false;
    const epochs = await state.epochs(id);
    const outbox = new Outbox(log, () => this.holds(id));
    const metrics = await MetricsStore.open(
      new SharedMetricsLog(state, id, log),
      this.options.metricsLimits,
      log,
    );
    let run: Run | undefined;
    const keeper = new SharedMembership(
      state,
      id,
      me,
      outbox,
      () => run?.epochNumber ?? 0,
      () => this.stepDown(id),
      log,
    );
    const { signalGraceMs, epochBatchMs, proposalTimeoutMs, suspicionMs, onChange } = this.options;
    const runOptions = {
      stored: { ...shared, lastEpoch: epochs.last, committedEpoch: epochs.committed },
      metrics,
      membershipStore: keeper,
      signalGraceMs,
      epochBatchMs,
      proposalTimeoutMs,
      suspicionMs,
      onChange,
      log,
    };
    const restored = await this.restorable(id, shared.config.steps, epochs.committed, keeper.file);
    try {
      run = new Run({ ...runOptions, restored });
    } catch (error) {
      log.warn(
        `${keeper.file}: cannot rebuild its epoch (${(error as Error).message}); its peers join again`,
      );
      run = new Run(runOptions);
    }
    this.owned.set(id, { run, outbox, sessions: new Map(), renewedAt: Date.now() });
    log.info(
      `run "${id}": taken over by this process${restored ? ` with ${restored.members.length} member(s) away` : ''}`,
    );
    onChange(run);
    return true;
  }

  private async restorable(id: string, steps: number, committed: number, where: string) {
    const text = await this.options.state.membership(id);
    if (text === null) return undefined;
    const snapshot = readSnapshot(text, steps, where, this.options.log);
    if (typeof snapshot === 'string') {
      this.options.log.warn(`${where}: ${snapshot}; the run starts without the members it held`);
      return undefined;
    }
    return snapshot.epoch >= committed ? snapshot : undefined;
  }

  /**
   * Whether this process may still speak for run `id`: at once when its lease was renewed within half
   * of it, else after renewing it (a process just thawed finds out here that another took the run).
   */
  private holds(id: string): boolean | Promise<boolean> {
    const owned = this.owned.get(id);
    if (!owned) return false;
    if (Date.now() - owned.renewedAt < this.options.leaseMs / 2) return true;
    const { state, me, leaseMs } = this.options;
    return state.claim(id, me, leaseMs, owned.run.epochNumber).then(
      (held) => {
        if (held) owned.renewedAt = Date.now();
        else this.stepDown(id);
        return held;
      },
      () => Date.now() - owned.renewedAt < leaseMs,
    );
  }

  /** Renews every lease; one another process holds now, or not renewed within the lease, is given up. */
  private async tick(): Promise<void> {
    const { state, me, leaseMs, log } = this.options;
    await Promise.all(
      [...this.owned.entries()].map(async ([id, owned]) => {
        try {
          if (await state.claim(id, me, leaseMs, owned.run.epochNumber)) owned.renewedAt = Date.now();
          else this.stepDown(id);
        } catch (error) {
          log.warn(`run "${id}": cannot renew its lease: ${(error as Error).message}`);
          if (Date.now() - owned.renewedAt > leaseMs) this.stepDown(id);
        }
      }),
    );
    if (this.owned.size > 0) await this.sweepGateways();
  }

  private stepDown(id: string): void {
    const owned = this.owned.get(id);
    if (!owned) return;
    this.owned.delete(id);
    owned.outbox.close();
    owned.run.retire();
    this.options.log.warn(`run "${id}": another server process holds it now; this one stepped down`);
  }
}

function hasResume(payload: unknown): boolean {
  return typeof payload === 'object' && payload !== null && 'resume' in payload;
}
