/**
 * The scale-out part of the signaling load benchmark (`npm run bench:signaling`, see signaling-load.ts):
 * one signaling server process (no Redis) against PROCESSES processes on one Redis, at the same load, in
 * one run so that the machine's noise falls on both. Servers are `signaling-server/src/main.ts` child
 * processes (so that RSS and CPU time are each one's own); this process holds every client: socket.io
 * sockets over WebSocket, spread round-robin over the server processes, that join runs created through
 * the HTTP API (as many as maxPeers requires), answer every epoch proposal at once and beat as the join
 * acknowledgement says. Measured for each set-up: join acknowledgement latency, the time until every
 * member holds its run's final epoch, signal relay latency at the receiver (between processes when
 * scaled out), RSS and CPU time per server process, and Redis commands per second per phase
 * (`INFO stats`/`INFO commandstats` deltas). Members the server gives up on (evicted, dropped, a join
 * never acknowledged) are counted and left out, not rejoined: a set-up that loses any did not fit.
 * Writes docs/bench/signaling-scale-out.{md,json}.
 *
 * Everything started here (server processes, redis-server, data folders) is stopped and removed when the
 * bench ends, fails, runs past its deadline or is interrupted.
 */

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { type Epoch, type EpochProposal, EVENTS } from '@demuon/shared/protocol';
import { Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { type RedisInstance, startRedis } from '../helpers/redis-server';
import { sendTimedSignal, signalAgeMs, type TimedSignalData } from './timed-signals';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../signaling-server/src/main.ts', import.meta.url));

export type ScaleOutSettings = {
  /** Clients in all, the same in both set-ups; each count is measured in turn. */
  clients: number[];
  /** Server processes of the scaled-out set-up. */
  processes: number;
  /** maxPeers of each run; the clients are spread over as many runs as this requires. */
  maxPeersPerRun: number;
  /** Connects and joins in flight at once. */
  concurrency: number;
  /** The servers' --heartbeat-ms (eviction timeout; members beat every min(1 s, this / 4)). */
  heartbeatTimeoutMs: number;
  /** Seconds of heartbeats alone (no joins, no signals) after the joins. */
  holdS: number;
  /** Seconds a join may wait for its acknowledgement, and the members for their runs' final epochs. */
  settleS: number;
  steadyRate: number;
  steadyS: number;
  bursts: number;
};

type Phase = 'join' | 'heartbeats' | 'steady' | 'bursts';
const PHASES: Phase[] = ['join', 'heartbeats', 'steady', 'bursts'];

type ProcessFigures = {
  name: string;
  clients: number;
  rssAfterJoinMiB: number;
  /** VmHWM: the most the process ever held resident. */
  peakRssMiB: number;
  cpuS: number;
};

type RedisFigures = {
  peakRssMiB: number;
  cpuS: number;
  commandsPerS: Record<Phase, number>;
  peakInstantaneousOpsPerS: number;
  /** The busiest commands of the join phase and of the steady relay window, per second. */
  joinTopCommands: { command: string; perS: number }[];
  steadyTopCommands: { command: string; perS: number }[];
};

type Latencies = { count: number; p50Ms: number; p99Ms: number };

export type SetupFigures = {
  setup: string;
  clients: number;
  processes: ProcessFigures[];
  redis: RedisFigures | null;
  /** Members: joined through the bench; atEnd: in the run's final epoch. */
  runs: { id: string; members: number; atEnd: number; owner: string }[];
  /** Members the server gave up on, by how. */
  lost: { evicted: number; dropped: number; joinFailed: number };
  loadAverage1mBefore: number;
  connectMs: number;
  joinAck: Latencies;
  allAckedMs: number;
  allHoldFinalEpochMs: number;
  maxEpochsPerMember: number;
  /** Epoch proposals received by all members together (each answered, unless evicted). */
  proposalsReceived: number;
  /** The bench's own event loop while the members joined: when it lags, so do the answers. */
  clientLoopDelayMs: { p99: number; max: number };
  steady: Latencies & { crossProcessShare: number; crossProcess: Latencies; sameProcess: Latencies };
  bursts: Latencies & { relaysPerS: number; crossProcessShare: number; crossProcess: Latencies };
  allGoneMs: number | null;
  heartbeatsSent: number;
  /** Why members were lost (ids and numbers masked), with counts. */
  causes: Record<string, number>;
  errorReplies: Record<string, number>;
  clientCpuS: number;
  serverWarnings: { count: number; examples: string[] };
};

// ---- cleanup of everything started ------------------------------------------------------------

const livePids = new Set<number>();
const tempDirs = new Set<string>();
let cleanupInstalled = false;

/** On any exit (the deadline's process.exit, an uncaught error, Ctrl-C) nothing started here survives. */
function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', () => {
    for (const pid of livePids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  });
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'signaling-scale-out-'));
  tempDirs.add(dir);
  return dir;
}

// ---- server processes ---------------------------------------------------------------------------

type ServerProcess = {
  name: string;
  child: ChildProcess;
  pid: number;
  url: string;
  adminToken: string;
  warnings: { count: number; examples: string[] };
  stop(): Promise<void>;
};

async function startServer(name: string, args: string[]): Promise<ServerProcess> {
  const dataDir = tempDir();
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', MAIN, '--port', '0', '--data-dir', dataDir, ...args],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pid = child.pid!;
  livePids.add(pid);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    livePids.delete(pid);
    rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
  });
  // Everything on stderr is a warning or worse (consoleLogger.warn, stack traces); stdout is info.
  const warnings = { count: 0, examples: [] as string[] };
  const seen = new Set<string>();
  let pendingErr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    pendingErr += chunk.toString();
    const lines = pendingErr.split('\n');
    pendingErr = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      warnings.count++;
      // Alike warnings differ in ids and numbers: keep one example of each shape.
      const shape = line.replace(/[0-9a-f]{6,}|\d+/gi, '#');
      if (!seen.has(shape) && warnings.examples.length < 12) {
        seen.add(shape);
        warnings.examples.push(`${name}: ${line.slice(0, 300)}`);
      }
    }
  });
  let banner = '';
  const listening = new Promise<{ url: string; adminToken: string }>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      if (banner.length > 100_000) return;
      banner += chunk.toString();
      const url = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(banner)?.[1];
      const adminToken = /admin token \(Authorization: Bearer …\) for POST \/api\/runs: (\S+)/.exec(
        banner,
      )?.[1];
      if (url && adminToken) {
        child.stdout!.off('data', onData);
        resolve({ url, adminToken });
      }
    };
    child.stdout!.on('data', onData);
    // Keep reading stdout, or a chatty server would block on a full pipe.
    child.stdout!.on('data', () => {});
    child.once('exit', (code) =>
      reject(new Error(`server ${name} exited (${code}) before listening:\n${banner}${warnings.examples}`)),
    );
    setTimeout(
      () => reject(new Error(`server ${name} did not print its banner within 60 s`)),
      60_000,
    ).unref();
  });
  let url: string;
  let adminToken: string;
  try {
    ({ url, adminToken } = await listening);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    name,
    child,
    pid,
    url,
    adminToken,
    warnings,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Resident set now and at its highest (VmHWM), in MiB; CPU time (user + system) in seconds. */
function procStatus(pid: number): { rssMiB: number; peakRssMiB: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime), counted from the state (field 3).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024, cpuS: ticks / clockTicks() };
}

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

// ---- Redis --------------------------------------------------------------------------------------

type RedisSnapshot = { at: number; total: number; calls: Map<string, number> };

async function redisSnapshot(redis: Redis): Promise<RedisSnapshot> {
  const [stats, commandStats] = await Promise.all([redis.info('stats'), redis.info('commandstats')]);
  const calls = new Map<string, number>();
  for (const match of commandStats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls.set(match[1], Number(match[2]));
  }
  return { at: performance.now(), total: Number(infoField(stats, 'total_commands_processed')), calls };
}

function infoField(info: string, field: string): string | undefined {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

const perSecond = (a: RedisSnapshot, b: RedisSnapshot) => (b.total - a.total) / ((b.at - a.at) / 1000);

function topCommands(a: RedisSnapshot, b: RedisSnapshot, n = 5) {
  const seconds = (b.at - a.at) / 1000;
  return [...b.calls]
    .map(([command, calls]) => ({ command, perS: (calls - (a.calls.get(command) ?? 0)) / seconds }))
    .filter((c) => c.perS > 0)
    .sort((x, y) => y.perS - x.perS)
    .slice(0, n);
}

// ---- one set-up -----------------------------------------------------------------------------------

type Client = {
  index: number;
  server: number;
  run: number;
  socket: Socket;
  id: string;
  epoch?: Epoch;
  epochs: number;
  beat?: NodeJS.Timeout;
  leaving: boolean;
  /** Why the server no longer counts it as a member, if it does not. */
  lost?: 'evicted' | 'dropped' | 'join failed';
};

/** `processes` server processes (on one Redis when more than one) under `count` clients. */
async function measureSetup(
  settings: ScaleOutSettings,
  count: number,
  processes: number,
): Promise<SetupFigures> {
  const scaled = processes > 1;
  const setup = scaled ? `${processes} processes + Redis` : 'one process';
  console.log(`scale-out comparison: ${setup}, ${count} clients…`);
  const loadAverage1mBefore = loadavg()[0];
  // Client c talks to server c mod P. Runs (as many as maxPeers requires) take the clients in groups
  // of P, one per process, in turn, so that the joins of every run interleave and each run has members
  // on every process; none gets more than its share.
  const runCount = Math.ceil(count / settings.maxPeersPerRun);
  const runIds = Array.from({ length: runCount }, (_, k) => `scale-${k}`);
  const perRun = Math.ceil(count / runCount);
  const serverOf = (c: number) => c % processes;
  const runSize = runIds.map(() => 0);
  const runOfClient: number[] = [];
  for (let c = 0; c < count; c++) {
    let k = Math.floor(c / processes) % runCount;
    while (runSize[k] >= perRun) k = (k + 1) % runCount;
    runOfClient.push(k);
    runSize[k]++;
  }

  let redisServer: RedisInstance | undefined;
  let redis: Redis | undefined;
  let redisPid: number | undefined;
  const servers: ServerProcess[] = [];
  const clients: Client[] = [];
  const timers: NodeJS.Timeout[] = [];
  let heartbeatsSent = 0;
  let proposals = 0;
  let refusedSignals = 0;
  const errorReplies: Record<string, number> = {};
  const causes: Record<string, number> = {};
  const lose = (client: Client, how: NonNullable<Client['lost']>, cause: string) => {
    if (!client.lost) client.lost = how;
    clearInterval(client.beat);
    const shape = `${how}: ${cause.replace(/peer [\w-]+/g, 'peer #').replace(/\d+/g, '#')}`;
    causes[shape] = (causes[shape] ?? 0) + 1;
  };
  const lostCount = (how: Client['lost']) => clients.filter((c) => c?.lost === how).length;
  const diagnose = () => {
    const warnings = servers.flatMap((s) => s.warnings.examples);
    return [
      `lost members: ${JSON.stringify(causes)}`,
      `error replies: ${JSON.stringify(errorReplies)}`,
      ...(warnings.length ? ['server warnings:', ...warnings] : []),
    ].join('\n');
  };
  try {
    const common = ['--heartbeat-ms', String(settings.heartbeatTimeoutMs)];
    if (scaled) {
      redisServer = await startRedis();
      redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1 });
      redis.on('error', () => {});
      redisPid = Number(infoField(await redis.info('server'), 'process_id'));
      livePids.add(redisPid);
      for (let i = 0; i < processes; i++) {
        servers.push(
          await startServer(`p${i}`, [...common, '--redis', redisServer.url, '--process-name', `p${i}`]),
        );
      }
    } else {
      servers.push(await startServer('single', common));
    }
    const cpuAtStart = servers.map((s) => procStatus(s.pid).cpuS);
    const redisCpuAtStart = redisPid === undefined ? 0 : procStatus(redisPid).cpuS;
    const clientCpuAtStart = process.cpuUsage();

    // Runs, created through the HTTP API of the first process.
    const tokens: string[] = [];
    for (const id of runIds) {
      const reply = await fetch(`${servers[0].url}/api/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${servers[0].adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          id,
          topology: 'ring',
          algorithm: { name: 'demuon', lr: { eta: 0.05 } },
          maxPeers: settings.maxPeersPerRun,
        }),
      });
      if (reply.status !== 201)
        throw new Error(`POST /api/runs ${id}: ${reply.status} ${await reply.text()}`);
      tokens.push(((await reply.json()) as { token: string }).token);
    }

    const connectStart = performance.now();
    await inBatches(count, settings.concurrency, async (c) => {
      const server = serverOf(c);
      const socket = io(servers[server].url, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      const client: Client = {
        index: c,
        server,
        run: runOfClient[c],
        socket,
        id: '',
        epochs: 0,
        leaving: false,
      };
      clients[c] = client;
      // An evicted member stops beating and answering, as a peer would; it does not join again here.
      socket.on(EVENTS.evicted, ({ reason }: { reason: string }) => lose(client, 'evicted', reason));
      socket.on('disconnect', (reason: string) => {
        clearInterval(client.beat);
        if (!client.leaving) lose(client, 'dropped', reason);
      });
      socket.on(EVENTS.error, (reply: { code: string; event?: string }) => {
        const key = `${reply.event ?? '?'}: ${reply.code}`;
        errorReplies[key] = (errorReplies[key] ?? 0) + 1;
        if (reply.event === EVENTS.signal) refusedSignals++;
      });
      // Every proposal is answered at once (barrier 0: bench peers do not train); the commit is the epoch.
      socket.on(EVENTS.epochPropose, ({ epoch }: EpochProposal) => {
        proposals++;
        if (!client.lost) socket.emit(EVENTS.epochReady, { epoch, barrier: 0 });
      });
      socket.on(EVENTS.epoch, (epoch: Epoch) => {
        client.epoch = epoch;
        client.epochs++;
      });
    });
    const connectMs = performance.now() - connectStart;

    const snapshots = new Map<string, RedisSnapshot>();
    const snap = async (name: string) => {
      if (redis) snapshots.set(name, await redisSnapshot(redis));
    };
    let peakOps = 0;
    if (redis) {
      const r = redis;
      timers.push(
        setInterval(() => {
          r.info('stats').then(
            (info) => {
              peakOps = Math.max(peakOps, Number(infoField(info, 'instantaneous_ops_per_sec') ?? 0));
            },
            () => {},
          );
        }, 1000),
      );
    }

    // Join. The first member of run k joins through process k mod P, alone, so that the runs' owners
    // (the process that takes a run up: the first to get an event for it) are spread over the processes.
    const joinLatencies: number[] = [];
    let acked = 0;
    const joinOne = async (client: Client) => {
      const sent = performance.now();
      const join = { runId: runIds[client.run], token: tokens[client.run], platform: 'node', backend: 'cpu' };
      let ack: { ok: boolean; peerId: string; heartbeatMs: number; code?: string };
      try {
        ack = await client.socket.timeout(settings.settleS * 1000).emitWithAck(EVENTS.join, join);
      } catch (error) {
        return lose(client, 'join failed', `not acknowledged (${(error as Error).message})`);
      }
      joinLatencies.push(performance.now() - sent);
      acked++;
      if (!ack.ok) return lose(client, 'join failed', `refused: ${ack.code}`);
      client.id = ack.peerId;
      if (client.lost) return;
      client.beat = setInterval(() => {
        client.socket.emit(EVENTS.heartbeat);
        heartbeatsSent++;
      }, ack.heartbeatMs);
    };
    const seeds = runIds.map(
      (_, k) =>
        clients.find((c) => c.run === k && c.server === k % processes) ?? clients.find((c) => c.run === k)!,
    );
    const rest = clients.filter((c) => !seeds.includes(c));
    // Every member left holds an epoch of exactly the members left in its run.
    const survivors = (k: number) => clients.filter((c) => c.run === k && !c.lost);
    const settled = (k: number) => {
      const left = survivors(k);
      return left.every((c) => c.epoch?.members.length === left.length);
    };
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    await snap('join');
    const joinStart = performance.now();
    const progress = setInterval(() => {
      const holding = runIds.filter((_, k) => settled(k)).length;
      console.log(
        `  ${((performance.now() - joinStart) / 1000).toFixed(0)} s: ${acked} joins acknowledged, ` +
          `${holding} of ${runCount} run(s) settled, ${proposals} proposals received, lost ` +
          `${clients.filter((c) => c.lost).length}, server RSS ` +
          `${servers.map((s) => procStatus(s.pid).rssMiB.toFixed(0)).join('/')} MiB, bench event loop ` +
          `delay max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
      );
    }, 10_000);
    timers.push(progress);
    for (const seed of seeds) await joinOne(seed);
    await inBatches(rest.length, settings.concurrency, (i) => joinOne(rest[i]));
    const allAckedMs = performance.now() - joinStart;
    await until(
      "every member left holds an epoch of its run's members left",
      () => runIds.every((_, k) => settled(k)),
      () => {
        const runs = runIds.map((id, k) => {
          const left = survivors(k);
          const holding = left.filter((c) => c.epoch?.members.length === left.length).length;
          const sizes = [...new Set(left.map((c) => c.epoch?.members.length ?? 0))].sort((a, b) => a - b);
          return `${id}: ${holding} of ${left.length} hold it (member counts seen ${sizes.slice(-4)})`;
        });
        return `${runs.join('; ')}\n${diagnose()}`;
      },
      settings.settleS * 1000,
    );
    const allHoldFinalEpochMs = performance.now() - joinStart;
    loopDelay.disable();
    clearInterval(progress);
    await snap('heartbeats');
    const afterJoin = servers.map((s) => procStatus(s.pid));
    const owners = await Promise.all(
      // Owners are named `NAME#start`: the process name is enough here.
      runIds.map(async (id) =>
        redis ? ((await redis.get(`demuon:{run:${id}}:owner`)) ?? '?').split('#')[0] : 'single',
      ),
    );

    // Heartbeats alone.
    await new Promise((resolve) => setTimeout(resolve, settings.holdS * 1000));

    // Relays between the members left: a steady rate, then bursts. The send time rides in the candidate.
    const members = clients.filter((c) => !c.lost);
    const byId = new Map(members.map((c) => [c.id, c]));
    let sink: { ms: number; cross: boolean }[] = [];
    let received = 0;
    for (const client of members) {
      client.socket.on(EVENTS.signal, ({ from, data }: { from: string; data: TimedSignalData }) => {
        const ms = signalAgeMs(data);
        sink.push({ ms, cross: byId.get(from)?.server !== client.server });
        received++;
      });
    }
    const signal = (client: Client, to: string) => sendTimedSignal(client.socket, to);
    const neighbours = (client: Client) => client.epoch!.outNeighbours.filter((id) => byId.has(id));
    const arrived = (expected: number) => () => received + refusedSignals >= expected;

    // The steady signals go round the neighbour pairs; scaled out, only pairs on different processes
    // (how many there are depends on the join order the owners saw: the bursts show the mix).
    const pairs: [Client, string][] = [];
    for (const round of [0, 1]) {
      for (const client of members) {
        const to = neighbours(client)[round];
        if (to !== undefined && (!scaled || byId.get(to)!.server !== client.server)) pairs.push([client, to]);
      }
    }
    if (pairs.length === 0) throw new Error('no ring neighbours on different processes to signal between');
    await snap('steady');
    const steadyTotal = Math.round(settings.steadyRate * settings.steadyS);
    const steadyStart = performance.now();
    await new Promise<void>((resolve) => {
      let sent = 0;
      // Timers fire every ms or two: send the signals due since the last tick.
      const tick = setInterval(() => {
        const elapsedS = (performance.now() - steadyStart) / 1000;
        const due = Math.min(steadyTotal, Math.floor(elapsedS * settings.steadyRate));
        for (; sent < due; sent++) signal(...pairs[sent % pairs.length]);
        if (sent >= steadyTotal) {
          clearInterval(tick);
          resolve();
        }
      }, 2);
    });
    await until(
      'every steady signal arrives',
      arrived(steadyTotal),
      () => `${received} of ${steadyTotal}`,
      120_000,
    );
    await snap('bursts');
    const steadySink = sink;

    sink = [];
    received = 0;
    refusedSignals = 0;
    const burstStart = performance.now();
    for (let round = 0; round < settings.bursts; round++) {
      const expected = received + refusedSignals + members.reduce((sum, c) => sum + neighbours(c).length, 0);
      for (const client of members) for (const to of neighbours(client)) signal(client, to);
      await until(
        'every burst signal arrives',
        arrived(expected),
        () => `${received} of ${expected}`,
        120_000,
      );
    }
    const burstMs = performance.now() - burstStart;
    await snap('end');
    const burstSink = sink;
    const peaks = servers.map((s) => procStatus(s.pid));
    const redisStatus = redisPid === undefined ? undefined : procStatus(redisPid);
    const clientCpu = process.cpuUsage(clientCpuAtStart);
    const atEnd = runIds.map((_, k) => survivors(k).length);

    // Departure: every client disconnects at once.
    const leaveStart = performance.now();
    for (const client of clients) {
      client.leaving = true;
      clearInterval(client.beat);
      client.socket.disconnect();
    }
    let allGoneMs: number | null = null;
    try {
      await until(
        'every member is gone',
        async () => {
          const reply = await fetch(`${servers[0].url}/api/runs`);
          const runs = (await reply.json()) as { id: string; members: number }[];
          return runs.filter((r) => runIds.includes(r.id)).every((r) => r.members === 0);
        },
        () => 'members remain',
        60_000,
        100,
      );
      allGoneMs = performance.now() - leaveStart;
    } catch (error) {
      console.warn(`scale-out comparison (${setup}): ${(error as Error).message}`);
    }

    const latencies = (xs: number[]): Latencies => ({
      count: xs.length,
      p50Ms: percentile(xs, 0.5),
      p99Ms: percentile(xs, 0.99),
    });
    const share = (xs: { cross: boolean }[]) => xs.filter((x) => x.cross).length / Math.max(1, xs.length);
    const phaseRate = (phase: Phase) => {
      const next = PHASES[PHASES.indexOf(phase) + 1] ?? 'end';
      return perSecond(snapshots.get(phase)!, snapshots.get(next)!);
    };
    return {
      setup,
      clients: count,
      processes: servers.map((s, i) => ({
        name: s.name,
        clients: clients.filter((c) => c.server === i).length,
        rssAfterJoinMiB: afterJoin[i].rssMiB,
        peakRssMiB: peaks[i].peakRssMiB,
        cpuS: peaks[i].cpuS - cpuAtStart[i],
      })),
      redis:
        redis && redisStatus
          ? {
              peakRssMiB: redisStatus.peakRssMiB,
              cpuS: redisStatus.cpuS - redisCpuAtStart,
              commandsPerS: Object.fromEntries(PHASES.map((p) => [p, phaseRate(p)])) as Record<Phase, number>,
              peakInstantaneousOpsPerS: peakOps,
              joinTopCommands: topCommands(snapshots.get('join')!, snapshots.get('heartbeats')!),
              steadyTopCommands: topCommands(snapshots.get('steady')!, snapshots.get('bursts')!),
            }
          : null,
      runs: runIds.map((id, k) => ({ id, members: runSize[k], atEnd: atEnd[k], owner: owners[k] })),
      lost: {
        evicted: lostCount('evicted'),
        dropped: lostCount('dropped'),
        joinFailed: lostCount('join failed'),
      },
      loadAverage1mBefore,
      connectMs,
      joinAck: latencies(joinLatencies),
      allAckedMs,
      allHoldFinalEpochMs,
      maxEpochsPerMember: Math.max(...clients.map((c) => c.epochs)),
      proposalsReceived: proposals,
      clientLoopDelayMs: { p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
      steady: {
        ...latencies(steadySink.map((x) => x.ms)),
        crossProcessShare: share(steadySink),
        crossProcess: latencies(steadySink.filter((x) => x.cross).map((x) => x.ms)),
        sameProcess: latencies(steadySink.filter((x) => !x.cross).map((x) => x.ms)),
      },
      bursts: {
        ...latencies(burstSink.map((x) => x.ms)),
        relaysPerS: burstSink.length / (burstMs / 1000),
        crossProcessShare: share(burstSink),
        crossProcess: latencies(burstSink.filter((x) => x.cross).map((x) => x.ms)),
      },
      allGoneMs,
      heartbeatsSent,
      causes,
      errorReplies,
      clientCpuS: (clientCpu.user + clientCpu.system) / 1e6,
      serverWarnings: {
        count: servers.reduce((sum, s) => sum + s.warnings.count, 0),
        examples: servers.flatMap((s) => s.warnings.examples),
      },
    };
  } catch (error) {
    console.error(`scale-out comparison (${setup}, ${count} clients) failed:\n${diagnose()}`);
    throw error;
  } finally {
    for (const timer of timers) clearInterval(timer);
    for (const client of clients) {
      if (!client) continue;
      client.leaving = true;
      clearInterval(client.beat);
      client.socket.disconnect();
    }
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.quit().catch(() => {});
    await redisServer?.stop();
    if (redisPid !== undefined) livePids.delete(redisPid);
  }
}

// ---- the comparison -------------------------------------------------------------------------------

export async function scaleOutComparison(settings: ScaleOutSettings, outDir: string): Promise<void> {
  installCleanup();
  const started = new Date();
  const loadBefore = loadavg()[0];
  const setups: SetupFigures[] = [];
  for (const count of settings.clients) {
    setups.push(await measureSetup(settings, count, 1));
    setups.push(await measureSetup(settings, count, settings.processes));
  }
  const report = {
    date: started.toISOString(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cores: cpus().length,
    cpu: cpus()[0]?.model,
    loadAverage1m: { before: loadBefore, after: loadavg()[0] },
    command: commandLine(),
    settings,
    setups,
  };
  const markdown = scaleOutMarkdown(report);
  console.log(`\n${markdown}`);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'signaling-scale-out.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'signaling-scale-out.md'), markdown);
  console.log(`wrote ${join(outDir, 'signaling-scale-out.{md,json}')}`);
}

/** The command as typed, less --out (a folder of this machine). */
function commandLine(): string {
  const args = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--out') && all[i - 1] !== '--out');
  return `npm run bench:signaling${args.length ? ` -- ${args.join(' ')}` : ''}`;
}

type Report = {
  date: string;
  node: string;
  platform: string;
  cores: number;
  cpu?: string;
  loadAverage1m: { before: number; after: number };
  command: string;
  settings: ScaleOutSettings;
  setups: SetupFigures[];
};

function scaleOutMarkdown(r: Report): string {
  const { settings: s, setups } = r;
  const ms = (x: number) => (Number.isNaN(x) ? '–' : `${x.toFixed(x < 10 ? 2 : 0)} ms`);
  const sec = (x: number | null) => (x === null ? 'not within 60 s' : `${(x / 1000).toFixed(2)} s`);
  const pair = (l: Latencies) => `${ms(l.p50Ms)} / ${ms(l.p99Ms)}`;
  const each = (f: (p: ProcessFigures) => string) => (x: SetupFigures) => x.processes.map(f).join(' / ');
  const num = (x: number) => x.toFixed(0);
  const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
  const redisOr = (f: (redis: RedisFigures) => string) => (x: SetupFigures) => (x.redis ? f(x.redis) : '–');
  const lost = (x: SetupFigures) => x.lost.evicted + x.lost.dropped + x.lost.joinFailed;
  const rows: [string, (x: SetupFigures) => string][] = [
    ['clients per server process', each((p) => String(p.clients))],
    [
      'runs: members joined → left at the end (owner process)',
      (x) => x.runs.map((run) => `${run.members} → ${run.atEnd} (${run.owner})`).join(', '),
    ],
    [
      'members lost: evicted / dropped / join failed',
      (x) => `${x.lost.evicted} / ${x.lost.dropped} / ${x.lost.joinFailed}`,
    ],
    ['connect all clients (websocket)', (x) => sec(x.connectMs)],
    ['join ack p50 / p99', (x) => pair(x.joinAck)],
    ['all joins acknowledged', (x) => sec(x.allAckedMs)],
    ["every member left holds its run's final epoch", (x) => sec(x.allHoldFinalEpochMs)],
    ['epoch proposals received, all members together', (x) => String(x.proposalsReceived)],
    [
      'bench event loop delay during the joins, p99 / max',
      (x) => `${ms(x.clientLoopDelayMs.p99)} / ${ms(x.clientLoopDelayMs.max)}`,
    ],
    [`relay steady ${s.steadyRate}/s for ${s.steadyS} s: p50 / p99`, (x) => pair(x.steady)],
    ['relay steady: share between processes', (x) => pct(x.steady.crossProcessShare)],
    [`relay bursts (${s.bursts} × every member → both neighbours): p50 / p99`, (x) => pair(x.bursts)],
    ['relay bursts: throughput', (x) => `${num(x.bursts.relaysPerS)} relays/s`],
    [
      'relay bursts: share between processes; their p50 / p99',
      (x) => `${pct(x.bursts.crossProcessShare)}; ${pair(x.bursts.crossProcess)}`,
    ],
    ['all members gone after a mass disconnect', (x) => sec(x.allGoneMs)],
    ['server RSS MiB after the joins, per process', each((p) => num(p.rssAfterJoinMiB))],
    ['server RSS MiB, peak per process (VmHWM)', each((p) => num(p.peakRssMiB))],
    ['server CPU time per process (connect → bursts)', each((p) => `${p.cpuS.toFixed(1)} s`)],
    ['bench (all clients) CPU time, same span', (x) => `${x.clientCpuS.toFixed(1)} s`],
    [
      'Redis commands/s: joins / heartbeats only / steady relays / bursts',
      redisOr((redis) => PHASES.map((p) => num(redis.commandsPerS[p])).join(' / ')),
    ],
    ['Redis instantaneous_ops_per_sec, peak', redisOr((redis) => num(redis.peakInstantaneousOpsPerS))],
    [
      'Redis RSS MiB peak / CPU time',
      redisOr((redis) => `${num(redis.peakRssMiB)} / ${redis.cpuS.toFixed(1)} s`),
    ],
    [
      'error replies',
      (x) =>
        Object.entries(x.errorReplies)
          .map(([k, n]) => `${k} × ${n}`)
          .join(', ') || '0',
    ],
    ['lines the servers wrote to stderr', (x) => String(x.serverWarnings.count)],
  ];
  const label = (x: SetupFigures) => `${x.setup}, ${x.clients} clients`;
  const header = ['measure', ...setups.map(label)];
  const line = (row: string[]) => `| ${row.join(' | ')} |`;
  const commands = (list: { command: string; perS: number }[]) =>
    list.map((c) => `${c.command} ${num(c.perS)}/s`).join(', ');
  const warnings = [...new Set(setups.flatMap((x) => x.serverWarnings.examples))];
  const fit = setups.map((x) =>
    lost(x) === 0
      ? `- ${label(x)}: every member stayed.`
      : `- ${label(x)}: **did not fit**, ${lost(x)} members lost (` +
        `${Object.entries(x.causes)
          .map(([cause, n]) => `${n} × ${cause}`)
          .join('; ')}); the figures after the joins are over the members left.`,
  );
  return [
    `# Signaling server: one process vs ${s.processes} processes on one Redis`,
    '',
    '```sh',
    r.command,
    '```',
    '',
    `Socket.io clients (WebSocket, loopback, all in the bench's one process) against one signaling server ` +
      `process (no Redis), then against ${s.processes} processes started with one \`--redis\` URL, the ` +
      'clients spread round-robin over them; the same load for both, one set-up after the other in one ' +
      'run. Servers are `signaling-server/src/main.ts` child processes (' +
      `\`--heartbeat-ms ${s.heartbeatTimeoutMs}\`, main.ts's epoch batching of 50 ms and proposal timeout ` +
      `of 5 s). The clients join ring runs of at most ${s.maxPeersPerRun} peers created through POST ` +
      `/api/runs (${s.concurrency} connects or joins in flight; the first member of run k joins alone ` +
      `through process k mod ${s.processes}, so that the runs' owners are spread), answer every epoch ` +
      'proposal at once and beat every min(1 s, heartbeat timeout / 4). Then ' +
      `${s.holdS} s of heartbeats alone, a steady ${s.steadyRate} signals/s for ${s.steadyS} s, each to a ` +
      `ring neighbour (on another process when scaled out), and ${s.bursts} bursts in which every member ` +
      'signals both neighbours. Relay latency is taken at the receiver. Members the server gives up on ' +
      '(evicted, dropped, a join never acknowledged) are not rejoined: a set-up that loses any did not ' +
      'fit. Redis commands/s: `INFO stats` total_commands_processed over each phase (the bench itself ' +
      'reads INFO about once a second).',
    '',
    ...fit,
    ...(setups.some((x) => lost(x) > 0)
      ? [
          '',
          'How members are lost: a member is evicted when no answer of its to any epoch proposal reaches ' +
            "the run's owner within main.ts's proposal timeout of 5 s (no flag changes it; a late answer to " +
            'a replaced proposal counts as an answer). Scaled out, a process that cannot renew its lease on ' +
            'a run within 5 s loses the run, and the new owner disconnects the sockets of its members ' +
            '(`io server disconnect`) for them to resume; the bench does not reconnect, so they count as ' +
            'dropped. A join not acknowledged within --settle-s counts as failed.',
        ]
      : []),
    '',
    line(header),
    line(header.map(() => '---')),
    ...rows.map(([name, value]) => line([name, ...setups.map(value)])),
    '',
    ...setups.flatMap((x) =>
      x.redis
        ? [
            `Busiest Redis commands, ${label(x)}: joins ${commands(x.redis.joinTopCommands)}; steady ` +
              `relays ${commands(x.redis.steadyTopCommands)}.`,
            '',
          ]
        : [],
    ),
    ...(warnings.length
      ? [
          'What the servers wrote to stderr (one line of each kind):',
          '',
          ...warnings.map((w) => `- \`${w}\``),
          '',
        ]
      : []),
    `Machine: ${r.platform}, ${r.cpu ?? 'CPU unknown'}, ${r.cores} cores shared by the clients, the ` +
      `servers and Redis; load average ${r.loadAverage1m.before.toFixed(1)} before the run and ` +
      `${r.loadAverage1m.after.toFixed(1)} after (` +
      `${setups.map((x) => `${x.loadAverage1mBefore.toFixed(1)} before ${label(x)}`).join(', ')}); ` +
      `Node ${r.node}; ${r.date.slice(0, 10)}. Latencies include the bench's event loop: they bound the ` +
      "servers' from above. Raw figures: `signaling-scale-out.json`.",
    '',
  ].join('\n');
}

// ---- helpers ------------------------------------------------------------------------------------

async function inBatches(total: number, size: number, task: (i: number) => Promise<void>): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < total) await task(started++);
  };
  await Promise.all(Array.from({ length: Math.min(size, total) }, worker));
}

/** Polls `done`; fails after `timeoutMs` saying what was awaited and how far it got. */
async function until(
  what: string,
  done: () => boolean | Promise<boolean>,
  progress: () => string,
  timeoutMs: number,
  pollMs = 5,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    if (performance.now() > deadline) {
      throw new Error(`not within ${timeoutMs / 1000} s: ${what} (${progress()})`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}
