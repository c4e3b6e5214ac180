/**
 * One server process of a scaled-out deployment (`--redis URL`): the shared state in Redis, the runs
 * this process owns, the sockets it holds, the bus between processes and socket.io's sharded Redis
 * adapter (watchers of a run get its snapshots whichever process holds their socket). Processes need no
 * sticky sessions: peers speak WebSocket only, and any process can hold any socket.
 */
import { isDeepStrictEqual } from 'node:util';
import type { RunConfig } from '@demuon/shared/protocol';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import type { SessionContext } from '../peer-session';
import type { RunDirectory } from '../run-directory';
import { newToken } from '../secrets';
import type { PeerSocket } from '../sockets';
import { OwnedRuns, type OwnedRunsOptions } from './owned-runs';
import { ProcessBus } from './process-bus';
import { SharedState } from './redis-state';
import { sharedDirectory } from './shared-directory';
import { SocketGateway } from './socket-gateway';

/** A run's owner renews its lease this often ×3; a process frozen this long loses its runs. */
export const DEFAULT_LEASE_MS = 5000;

export type ClusterOptions = Omit<OwnedRunsOptions, 'me' | 'state' | 'leaseMs'> & {
  redisUrl: string;
  /** This process's name on the bus and in the overview; unique per process start. */
  name: string;
  adminToken?: string;
  /** Runs to create, or to update when their config changed and nobody may resume them. */
  configs: readonly RunConfig[];
  /** Created when missing (never updated: a stored one keeps its config, as with one process). */
  defaultRun: RunConfig;
  leaseMs?: number;
};

export class Cluster {
  private bus: ProcessBus | undefined;
  private readonly adapterClients = new Set<Redis>();

  private constructor(
    readonly name: string,
    readonly state: SharedState,
    readonly adminToken: string,
    readonly owned: OwnedRuns,
    readonly gateway: SocketGateway,
    readonly directory: RunDirectory,
  ) {}

  static async open(options: ClusterOptions, limits: SessionContext['limits']): Promise<Cluster> {
    const state = await SharedState.connect(options.redisUrl);
    try {
      const adminToken = await state.adminToken(options.adminToken, newToken());
      await ensureRuns(state, options.configs, options.log);
      const { defaultRun } = options;
      await state.createRun(
        { config: defaultRun, token: newToken(), createdAt: Date.now() },
        Number.POSITIVE_INFINITY,
      );
      const { name, leaseMs = DEFAULT_LEASE_MS } = options;
      const owned = new OwnedRuns({ ...options, me: name, state, leaseMs });
      const gateway = new SocketGateway(name, state, owned, limits, options.log);
      return new Cluster(name, state, adminToken, owned, gateway, sharedDirectory(state, adminToken));
    } catch (error) {
      await state.close();
      throw error;
    }
  }

  /** socket.io's sharded Redis adapter (Redis 7 sharded pub/sub): room broadcasts reach every process. */
  adapter() {
    const pub = this.state.redis.duplicate();
    const sub = this.state.redis.duplicate();
    for (const client of [pub, sub]) {
      client.on('error', () => {});
      this.adapterClients.add(client);
    }
    return createShardedAdapter(pub, sub);
  }

  /** Starts taking messages from the other processes. */
  async start(session: SessionContext): Promise<void> {
    this.bus = await ProcessBus.open(
      this.name,
      this.state.redis,
      (message) => this.gateway.deliver(message),
      session.log,
    );
    // Each socket's events were rate-limited where the socket is: the owner does not count them twice.
    const unlimited = { ...session.limits, eventsPerSecond: 1e12, eventBurst: 1e12 };
    this.owned.connect(this.bus, { ...session, limits: unlimited });
    this.gateway.connect(this.bus);
  }

  attach(socket: PeerSocket): void {
    this.gateway.attach(socket);
  }

  /**
   * Drain: the sockets' members stay (their peers resume through another process), every owned run is
   * stored and its lease given back.
   */
  async close(closeSockets: () => Promise<void>): Promise<void> {
    this.gateway.closing = true;
    await closeSockets();
    await this.gateway.flushed();
    await this.owned.close();
    await this.bus?.close();
    await Promise.all([...this.adapterClients].map((client) => client.quit().catch(() => {})));
    await this.state.close();
  }
}

/** The runs of the config file and the default run: created when missing, updated when nobody may resume them. */
async function ensureRuns(state: SharedState, configs: readonly RunConfig[], log: Logger): Promise<void> {
  for (const config of configs) {
    const stored = await state.run(config.id);
    if (!stored) {
      await state.createRun({ config, token: newToken(), createdAt: Date.now() }, Number.POSITIVE_INFINITY);
      continue;
    }
    if (isDeepStrictEqual(JSON.parse(JSON.stringify(stored.config)), JSON.parse(JSON.stringify(config)))) {
      continue;
    }
    const membership = await state.membership(config.id);
    const members = membership === null ? 0 : ((JSON.parse(membership).members as unknown[])?.length ?? 0);
    if (members > 0) {
      throw new Error(
        `run "${config.id}": its config changed, but ${members} peer(s) may resume it; start with its old ` +
          'config so that they can',
      );
    }
    log.warn(`run "${config.id}": config changed, keeping its token and metrics`);
    await state.replaceRun({ ...stored, config });
  }
}
