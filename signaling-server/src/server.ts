/**
 * The signaling server: node:http for the JSON API and pages, socket.io on the same port for peers and
 * dashboards, runs persisted under dataDir. `createSignalingServer` resolves once it listens.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import type { ClientToServerEvents, RunConfig, ServerToClientEvents } from '@demuon/shared/protocol';
import { Server } from 'socket.io';
import { Cluster } from './cluster/cluster';
import { answerClientError, answerConnect, answerStrayUpgrade, createHttpHandler } from './http-api';
import { PeerIceServers, type TurnRelayOptions } from './ice-servers';
import {
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_LIMITS,
  DEFAULT_PROPOSAL_TIMEOUT_MS,
  DEFAULT_RUN_STATE_INTERVAL_MS,
  DEFAULT_SIGNAL_GRACE_MS,
  heartbeatIntervalMs,
  type Limits,
  suspicionBoundMs,
} from './limits';
import { consoleLogger, type Logger } from './log';
import { DEFAULT_METRICS_LIMITS, type MetricsLimits } from './metrics-store';
import { PeerSession, type RunLookup } from './peer-session';
import type { Run } from './run';
import { DEFAULT_RUN, parseRunConfigs } from './run-configs';
import { localDirectory, type RunDirectory } from './run-directory';
import { type RegistryOptions, RunRegistry } from './run-registry';
import { RunStateBroadcaster } from './run-state-broadcaster';
import { type BannerRun, startupBanner } from './startup-banner';
import { enforceUnreadBudget } from './unread-budget';
import { PublicUrls, publicBase } from './urls';

export type SignalingServerOptions = {
  /** 0 picks a free port (tests). */
  port: number;
  /** Default 127.0.0.1; 0.0.0.0 to accept peers from other machines. */
  host?: string;
  /** Where runs.json and the metrics of every run live. */
  dataDir: string;
  /** Run configs (RunConfig inputs, validated here) to create, or to update when their config changed. */
  runs?: readonly unknown[];
  /**
   * A peer that sends no heartbeat (or any other event) for this long is removed (and so is a peer
   * restored after a restart that does not resume within it). Peers are asked to beat every
   * min(1 s, timeout / 4); a neighbour reported missing is removed after 3 beats of silence. Default 10 s.
   */
  heartbeatTimeoutMs?: number;
  log?: Logger;
  /** The browser client's build directory (client/dist), served at /join/<id>, /runs/<id> and below. */
  webRoot?: string;
  /** Fixes the admin token (otherwise the stored one, or a new random one). */
  adminToken?: string;
  signalGraceMs?: number;
  /**
   * Membership changes within this window share one epoch (default 0: one epoch per change). Worth it
   * for runs of hundreds of peers joining at once: every epoch goes to every member.
   */
  epochBatchMs?: number;
  /**
   * A member that does not answer an epoch proposal (`epoch-ready`) within this long is removed, and the
   * rest get a new proposal. Default 5 s.
   */
  proposalTimeoutMs?: number;
  runStateIntervalMs?: number;
  limits?: Partial<Limits>;
  metricsLimits?: Partial<MetricsLimits>;
  /**
   * Scale out: every process started with the same Redis URL shares the runs, their members, epochs and
   * metrics (see cluster/). Without it, this process holds everything, kept under dataDir.
   */
  redis?: string;
  /** This process's name in the overview (scaled out); default the host name and process id. */
  processName?: string;
  /** STUN URLs (stun:, stuns:) added to every run's ICE servers. */
  iceServerUrls?: readonly string[];
  /**
   * TURN relays for every run, with credentials minted per peer from the secret they share with this
   * server (coturn's use-auth-secret); handed to each peer in its join or collect acknowledgement only.
   */
  turn?: TurnRelayOptions;
};

export type SignalingServer = {
  /** http://HOST:PORT */
  url: string;
  port: number;
  adminToken: string;
  /** The runs whose members this process holds (scaled out: the runs it owns). */
  runs: RunLookup & { list(): Run[] };
  /** This process's name on the bus between processes (scaled out only). */
  processName?: string;
  urls: PublicUrls;
  close(): Promise<void>;
};

export async function createSignalingServer(options: SignalingServerOptions): Promise<SignalingServer> {
  const { port, host = '127.0.0.1', dataDir } = options;
  const log = options.log ?? consoleLogger;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
  const heartbeatMs = heartbeatIntervalMs(heartbeatTimeoutMs);
  const configs = parseRunConfigs(options.runs ?? [], 'runs');
  const iceServers = new PeerIceServers(options.iceServerUrls, options.turn);
  let closing = false;

  const runOptions = {
    log,
    adminToken: options.adminToken,
    signalGraceMs: options.signalGraceMs ?? DEFAULT_SIGNAL_GRACE_MS,
    epochBatchMs: options.epochBatchMs ?? 0,
    proposalTimeoutMs: options.proposalTimeoutMs ?? DEFAULT_PROPOSAL_TIMEOUT_MS,
    suspicionMs: suspicionBoundMs(heartbeatMs),
    metricsLimits: { ...DEFAULT_METRICS_LIMITS, ...options.metricsLimits },
    onChange: (run: Run) => {
      broadcaster.changed(run);
      backing.onChange(run);
    },
  };
  const processName = `${options.processName ?? `${hostname()}-${process.pid}`}#${randomBytes(3).toString('hex')}`;
  const cluster = options.redis
    ? await Cluster.open(
        { ...runOptions, redisUrl: options.redis, name: processName, configs, defaultRun: DEFAULT_RUN },
        limits,
      )
    : undefined;
  const backing: Backing = cluster
    ? clusterBacking(cluster)
    : await localBacking(dataDir, configs, runOptions);

  // The HTTP handler must exist before socket.io attaches: engine.io wraps the listeners it finds.
  const http = { runs: backing.directory, limits, log, urls: new PublicUrls(''), webRoot: options.webRoot };
  const httpServer = createServer(createHttpHandler(http));
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(httpServer, {
    maxHttpBufferSize: limits.maxMessageBytes,
    serveClient: false,
    // Upgrades elsewhere than socket.io's path are answered (answerStrayUpgrade), not silently dropped.
    destroyUpgrade: false,
    // Scaled out, a load balancer may send each HTTP request to another process: WebSocket only (one
    // connection, one process), so that no sticky sessions are needed. Every client of ours speaks it.
    ...(cluster ? { adapter: cluster.adapter(), transports: ['websocket' as const] } : {}),
  });
  // Whatever arrives gets an answer with a code: requests node:http cannot parse, stray upgrades, CONNECT.
  httpServer.on('clientError', answerClientError);
  httpServer.on('upgrade', answerStrayUpgrade);
  httpServer.on('connect', answerConnect);
  const broadcaster = new RunStateBroadcaster(
    io,
    options.runStateIntervalMs ?? DEFAULT_RUN_STATE_INTERVAL_MS,
    cluster && ((run, text) => void cluster.state.putState(run.id, text).catch(() => {})),
  );
  const session = {
    registry: backing.runs,
    broadcaster,
    limits,
    log,
    heartbeatMs,
    iceServers,
    closing: () => closing,
  };
  io.on('connection', (socket) => {
    enforceUnreadBudget(socket, limits.maxUnreadBytes, log);
    if (cluster) cluster.attach(socket);
    else new PeerSession(socket, session);
  });
  await cluster?.start(session);

  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, host, () => resolve());
    });
  } catch (error) {
    await backing.close(async () => {});
    throw new Error(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  const actualPort = (httpServer.address() as AddressInfo).port;
  const urls = new PublicUrls(publicBase(host, actualPort));
  http.urls = urls;

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const run of backing.runs.list()) {
        // Reports first: a reported member gone silent is removed with the reason that names its reporters.
        run.sweepReports(now);
        run.evictSilent(now, heartbeatTimeoutMs);
      }
    },
    Math.min(1000, Math.max(20, heartbeatTimeoutMs / 4)),
  );

  const banner = startupBanner({
    urls,
    host,
    dataDir,
    runs: await backing.bannerRuns(),
    adminToken: backing.directory.adminToken,
    heartbeatTimeoutMs,
    processName: cluster && processName,
  });
  for (const line of banner) log.info(line);

  return {
    url: urls.base,
    port: actualPort,
    adminToken: backing.directory.adminToken,
    runs: backing.runs,
    processName: cluster && processName,
    urls,
    async close() {
      if (closing) return;
      // Departures during shutdown must not start epochs: the members come back after a restart.
      closing = true;
      clearInterval(sweep);
      broadcaster.close();
      await backing.close(async () => {
        const closed = new Promise<void>((resolve) => io.close(() => resolve()));
        httpServer.closeAllConnections();
        await closed;
      });
    },
  };
}

/** Where the runs live: this process's registry, or Redis shared by every process (cluster/). */
type Backing = {
  runs: RunLookup & { list(): Run[] };
  directory: RunDirectory;
  onChange(run: Run): void;
  bannerRuns(): Promise<BannerRun[]>;
  /** Stops: `closeSockets` closes the sockets, then the runs are stored. */
  close(closeSockets: () => Promise<void>): Promise<void>;
};

async function localBacking(
  dataDir: string,
  configs: RunConfig[],
  options: Omit<RegistryOptions, 'dataDir'>,
): Promise<Backing> {
  const registry = await RunRegistry.open({ ...options, dataDir });
  try {
    await registry.ensure(configs);
    if (!registry.get(DEFAULT_RUN.id)) await registry.create(DEFAULT_RUN);
  } catch (error) {
    await registry.close();
    throw error;
  }
  return {
    runs: registry,
    directory: localDirectory(registry),
    onChange: (run) => registry.noteChange(run),
    bannerRuns: async () =>
      registry.list().map((run) => ({
        config: run.config,
        token: run.secretToken(),
        away: { count: run.awayCount, epoch: run.committedEpoch },
      })),
    async close(closeSockets) {
      await closeSockets();
      await registry.close();
    },
  };
}

function clusterBacking(cluster: Cluster): Backing {
  return {
    runs: cluster.owned,
    directory: cluster.directory,
    onChange: () => {},
    bannerRuns: async () => (await cluster.state.runs()).map(({ config, token }) => ({ config, token })),
    close: (closeSockets) => cluster.close(closeSockets),
  };
}
