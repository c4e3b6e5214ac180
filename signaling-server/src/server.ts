/**
 * The signaling server: node:http for the JSON API and pages, socket.io on the same port for peers and
 * dashboards, runs persisted under dataDir. `createSignalingServer` resolves once it listens.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClientToServerEvents, ServerToClientEvents } from '@demuon/shared/protocol';
import { Server } from 'socket.io';
import { answerClientError, answerConnect, answerStrayUpgrade, createHttpHandler } from './http-api';
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
import { PeerSession } from './peer-session';
import { DEFAULT_RUN, parseRunConfigs } from './run-configs';
import { localDirectory } from './run-directory';
import { RunRegistry } from './run-registry';
import { RunStateBroadcaster } from './run-state-broadcaster';
import { startupBanner } from './startup-banner';
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
};

export type SignalingServer = {
  /** http://HOST:PORT */
  url: string;
  port: number;
  adminToken: string;
  runs: RunRegistry;
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
  let closing = false;

  const registry: RunRegistry = await RunRegistry.open({
    dataDir,
    log,
    adminToken: options.adminToken,
    signalGraceMs: options.signalGraceMs ?? DEFAULT_SIGNAL_GRACE_MS,
    epochBatchMs: options.epochBatchMs ?? 0,
    proposalTimeoutMs: options.proposalTimeoutMs ?? DEFAULT_PROPOSAL_TIMEOUT_MS,
    suspicionMs: suspicionBoundMs(heartbeatMs),
    metricsLimits: { ...DEFAULT_METRICS_LIMITS, ...options.metricsLimits },
    onChange: (run) => {
      broadcaster.changed(run);
      registry.noteChange(run);
    },
  });
  try {
    await registry.ensure(configs);
    if (!registry.get(DEFAULT_RUN.id)) await registry.create(DEFAULT_RUN);
  } catch (error) {
    await registry.close();
    throw error;
  }

  // The HTTP handler must exist before socket.io attaches: engine.io wraps the listeners it finds.
  const http = { runs: localDirectory(registry), limits, log, urls: new PublicUrls(''), webRoot: options.webRoot };
  const httpServer = createServer(createHttpHandler(http));
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(httpServer, {
    maxHttpBufferSize: limits.maxMessageBytes,
    serveClient: false,
    // Upgrades elsewhere than socket.io's path are answered (answerStrayUpgrade), not silently dropped.
    destroyUpgrade: false,
  });
  // Whatever arrives gets an answer with a code: requests node:http cannot parse, stray upgrades, CONNECT.
  httpServer.on('clientError', answerClientError);
  httpServer.on('upgrade', answerStrayUpgrade);
  httpServer.on('connect', answerConnect);
  const broadcaster = new RunStateBroadcaster(
    io,
    options.runStateIntervalMs ?? DEFAULT_RUN_STATE_INTERVAL_MS,
  );
  const session = { registry, broadcaster, limits, log, heartbeatMs, closing: () => closing };
  io.on('connection', (socket) => {
    enforceUnreadBudget(socket, limits.maxUnreadBytes, log);
    new PeerSession(socket, session);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, host, () => resolve());
    });
  } catch (error) {
    await registry.close();
    throw new Error(`cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  const actualPort = (httpServer.address() as AddressInfo).port;
  const urls = new PublicUrls(publicBase(host, actualPort));
  http.urls = urls;

  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const run of registry.list()) {
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
    runs: registry.list(),
    adminToken: registry.adminToken,
    heartbeatTimeoutMs,
  });
  for (const line of banner) log.info(line);

  return {
    url: urls.base,
    port: actualPort,
    adminToken: registry.adminToken,
    runs: registry,
    urls,
    async close() {
      if (closing) return;
      // Departures during shutdown must not start epochs: the members come back after a restart.
      closing = true;
      clearInterval(sweep);
      broadcaster.close();
      const closed = new Promise<void>((resolve) => io.close(() => resolve()));
      httpServer.closeAllConnections();
      await closed;
      await registry.close();
    },
  };
}
