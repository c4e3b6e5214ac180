/**
 * Signaling load benchmark. A signaling server runs in a child process (so that its memory and CPU time
 * are its own); this process opens N socket.io clients on loopback, joins them all to one ring run, then
 * relays signals between neighbours: bursts (every peer signals both neighbours at once) and a steady rate.
 * Peers answer every epoch proposal at once. Reports join latency, the time until every peer holds the
 * final (committed) epoch, relay latency p50/p99, the departure of all peers at once, and the server's
 * RSS, heap and CPU time. It runs twice: with one proposal per membership change (the default) and with
 * changes batched over --batch-ms. Bounded in peers, rounds and
 * time (--deadline-s); prints a table and writes docs/bench/signaling-load.{md,json}.
 *
 * Then the scale-out comparison (signaling-scale-out.ts): --clients clients against one server process,
 * then against --processes processes on one Redis, side by side; writes docs/bench/signaling-scale-out.
 * {md,json}. `--only load` or `--only scale-out` runs one part.
 *
 *   npm run bench:signaling [-- --peers 500 --concurrency 50 --bursts 10 --steady-rate 1000 --batch-ms 50]
 *   npm run bench:signaling -- --only scale-out [--clients 3000[,1000,…] --processes 3 --max-peers 1000
 *     --heartbeat-ms 10000 --hold-s 5 --settle-s 180]
 *
 * (--concurrency, --bursts, --steady-rate and --steady-s shape both parts.)
 *
 * All clients share this one process, so latencies include its event loop: they bound the server's from
 * above.
 */

import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Epoch, type EpochProposal, EVENTS } from '@demuon/shared/protocol';
import { io, type Socket } from 'socket.io-client';
import { createSignalingServer, silentLogger } from '../../signaling-server/src';
import { scaleOutComparison } from './signaling-scale-out';
import { sendTimedSignal, signalAgeMs, type TimedSignalData } from './timed-signals';

const RUN_ID = 'load';

type ServerReport = { rss: number; heapUsed: number; peakRss: number; cpuMs: number };
type Message = { type: 'ready'; url: string; token: string } | ({ type: 'memory' } & ServerReport);

type Settings = {
  peers: number;
  concurrency: number;
  bursts: number;
  steadyRate: number;
  steadyS: number;
};

type Measurement = {
  epochBatchMs: number;
  connectMs: number;
  joinAckP50Ms: number;
  joinAckP99Ms: number;
  allAckedMs: number;
  allHoldFinalEpochMs: number;
  epochs: number;
  epochMessages: number;
  finalEpochBytes: number;
  burstRelays: number;
  burstRelaysPerSecond: number;
  burstP50Ms: number;
  burstP99Ms: number;
  steadyRelays: number;
  steadyP50Ms: number;
  steadyP99Ms: number;
  allGoneMs: number;
  serverRssMiB: { idle: number; joined: number; afterRelays: number; peak: number };
  serverHeapUsedMiB: { joined: number; afterRelays: number; afterLeave: number };
  serverCpuS: number;
};

if (process.argv.includes('--serve')) await serve(Number(process.argv[process.argv.indexOf('--serve') + 1]));
else await bench();

// ---- the server process --------------------------------------------------------------------------

async function serve(epochBatchMs: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'signaling-load-'));
  const server = await createSignalingServer({
    port: 0,
    dataDir,
    runs: [
      { id: RUN_ID, topology: 'ring', maxPeers: 1024, algorithm: { name: 'demuon', lr: { eta: 0.05 } } },
    ],
    // Bench clients send no progress; nobody should be evicted while the bench runs, not even when
    // answers to proposals queue up behind hundreds of joins in the clients' one process.
    heartbeatTimeoutMs: 3_600_000,
    proposalTimeoutMs: 600_000,
    epochBatchMs,
    log: silentLogger,
  });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const send = (message: Message) => process.send!(message);
  send({ type: 'ready', url: server.url, token: server.runs.get(RUN_ID)!.secretToken() });
  process.on('message', async (message: { type: string }) => {
    if (message.type === 'memory') {
      const { rss, heapUsed } = process.memoryUsage();
      const { user, system } = process.cpuUsage();
      peakRss = Math.max(peakRss, rss);
      send({ type: 'memory', rss, heapUsed, peakRss, cpuMs: (user + system) / 1000 });
    } else if (message.type === 'stop') {
      clearInterval(sampler);
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- the clients ---------------------------------------------------------------------------------

async function bench(): Promise<void> {
  const { values } = parseArgs({
    options: {
      peers: { type: 'string', default: '500' },
      concurrency: { type: 'string', default: '50' },
      bursts: { type: 'string', default: '10' },
      'steady-rate': { type: 'string', default: '1000' },
      'steady-s': { type: 'string', default: '3' },
      'batch-ms': { type: 'string', default: '50' },
      only: { type: 'string' },
      clients: { type: 'string', default: '3000' },
      processes: { type: 'string', default: '3' },
      'max-peers': { type: 'string', default: '1000' },
      'heartbeat-ms': { type: 'string', default: '10000' },
      'hold-s': { type: 'string', default: '5' },
      'settle-s': { type: 'string', default: '180' },
      'deadline-s': { type: 'string', default: '1200' },
      out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
    },
  });
  const settings: Settings = {
    peers: positive(values.peers, '--peers'),
    concurrency: positive(values.concurrency, '--concurrency'),
    bursts: positive(values.bursts, '--bursts'),
    steadyRate: positive(values['steady-rate'], '--steady-rate'),
    steadyS: positive(values['steady-s'], '--steady-s'),
  };
  const batchMs = positive(values['batch-ms'], '--batch-ms');
  if (values.only !== undefined && values.only !== 'load' && values.only !== 'scale-out') {
    throw new Error(`--only must be load or scale-out, got "${values.only}"`);
  }
  const maxPeersPerRun = positive(values['max-peers'], '--max-peers');
  if (maxPeersPerRun > 1024) throw new Error(`--max-peers must be at most 1024 (a run's limit)`);
  const scaleOut = {
    clients: values.clients.split(',').map((n) => positive(n.trim(), '--clients')),
    processes: positive(values.processes, '--processes'),
    maxPeersPerRun,
    concurrency: settings.concurrency,
    heartbeatTimeoutMs: positive(values['heartbeat-ms'], '--heartbeat-ms'),
    holdS: positive(values['hold-s'], '--hold-s'),
    settleS: positive(values['settle-s'], '--settle-s'),
    steadyRate: settings.steadyRate,
    steadyS: settings.steadyS,
    bursts: settings.bursts,
  };
  setTimeout(() => {
    console.error(`signaling-load: not done within ${values['deadline-s']} s, stopping`);
    process.exit(1);
  }, positive(values['deadline-s'], '--deadline-s') * 1000).unref();

  if (values.only !== 'scale-out') await loadPart(settings, batchMs, values.out);
  if (values.only !== 'load') await scaleOutComparison(scaleOut, values.out);
  process.exit(0);
}

async function loadPart(settings: Settings, batchMs: number, out: string): Promise<void> {
  const loadBefore = loadavg()[0];
  console.log(`${settings.peers} clients, ${cpus().length} cores, load ${loadBefore.toFixed(1)}`);
  const modes: Measurement[] = [];
  for (const epochBatchMs of [0, batchMs]) {
    console.log(`epochBatchMs ${epochBatchMs}…`);
    modes.push(await measure(settings, epochBatchMs));
  }
  const report = {
    date: new Date().toISOString(),
    node: process.version,
    cores: cpus().length,
    loadAverage1m: { before: loadBefore, after: loadavg()[0] },
    topology: 'ring',
    ...settings,
    modes,
  };
  const markdown = toMarkdown(report);
  console.log(`\n${markdown}`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'signaling-load.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(out, 'signaling-load.md'), markdown);
  console.log(`wrote ${join(out, 'signaling-load.{md,json}')}`);
}

type Peer = { socket: Socket; id: string; epoch?: Epoch; epochsReceived: number };

async function measure(settings: Settings, epochBatchMs: number): Promise<Measurement> {
  const { peers: count, concurrency } = settings;
  const child = fork(fileURLToPath(import.meta.url), ['--serve', String(epochBatchMs)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: ((m: Message) => void)[] = [];
  child.on('message', (m: Message) => inbox.shift()?.(m));
  const receive = () => new Promise<Message>((resolve) => inbox.push(resolve));
  const ready = (await receive()) as Extract<Message, { type: 'ready' }>;
  const memory = async () => {
    const reply = receive();
    child.send({ type: 'memory' });
    return (await reply) as ServerReport;
  };
  const idle = await memory();

  const peers: Peer[] = [];
  const connectStart = performance.now();
  await inBatches(count, concurrency, async () => {
    const socket = io(ready.url, { transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    peers.push({ socket, id: '', epochsReceived: 0 });
  });
  const connectMs = performance.now() - connectStart;

  // Join: the latency of each acknowledgement, then the time until every peer holds the last epoch.
  const joinLatencies: number[] = [];
  const joinStart = performance.now();
  let next = 0;
  await inBatches(count, concurrency, async () => {
    const peer = peers[next++];
    // Every proposal is answered at once (barrier 0: bench peers do not train); the commit is the epoch.
    peer.socket.on(EVENTS.epochPropose, ({ epoch }: EpochProposal) => {
      peer.socket.emit(EVENTS.epochReady, { epoch, barrier: 0 });
    });
    peer.socket.on(EVENTS.epoch, (epoch: Epoch) => {
      peer.epoch = epoch;
      peer.epochsReceived++;
    });
    const sent = performance.now();
    const join = { runId: RUN_ID, token: ready.token, platform: 'node', backend: 'cpu' };
    const ack = await peer.socket.timeout(60_000).emitWithAck(EVENTS.join, join);
    joinLatencies.push(performance.now() - sent);
    if (!ack.ok) throw new Error(`join refused: ${JSON.stringify(ack)}`);
    peer.id = ack.peerId;
  });
  const allAckedMs = performance.now() - joinStart;
  await until(() => peers.every((p) => p.epoch?.members.length === count));
  const allHoldFinalEpochMs = performance.now() - joinStart;
  // The first member to join received every epoch of the join phase.
  const epochs = Math.max(...peers.map((p) => p.epochsReceived));
  const joined = await memory();

  // Relay: bursts, then a steady rate.
  const byId = new Map(peers.map((p) => [p.id, p]));
  let latencies: number[] = [];
  let received = 0;
  for (const peer of peers) {
    peer.socket.on(EVENTS.signal, ({ data }: { data: TimedSignalData }) => {
      latencies.push(signalAgeMs(data));
      received++;
    });
  }
  const signal = (peer: Peer, to: string) => sendTimedSignal(peer.socket, to);
  const neighbours = (peer: Peer) => peer.epoch!.outNeighbours.filter((id) => byId.has(id));

  const burstStart = performance.now();
  for (let round = 0; round < settings.bursts; round++) {
    const expected = received + peers.reduce((sum, p) => sum + neighbours(p).length, 0);
    for (const peer of peers) for (const to of neighbours(peer)) signal(peer, to);
    await until(() => received >= expected);
  }
  const burstMs = performance.now() - burstStart;
  const burstLatencies = latencies;
  const burstRelays = received;

  latencies = [];
  received = 0;
  const steadyTotal = Math.round(settings.steadyRate * settings.steadyS);
  const steadyStart = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    // Timers fire every ms or two: send the signals due since the last tick.
    const tick = setInterval(() => {
      const elapsedS = (performance.now() - steadyStart) / 1000;
      const due = Math.min(steadyTotal, Math.floor(elapsedS * settings.steadyRate));
      for (; sent < due; sent++) {
        const peer = peers[sent % count];
        const list = neighbours(peer);
        signal(peer, list[sent % list.length]);
      }
      if (sent >= steadyTotal) {
        clearInterval(tick);
        resolve();
      }
    }, 2);
  });
  await until(() => received >= steadyTotal);
  const steadyLatencies = latencies;
  const relayed = await memory();

  // Departure: every client disconnects at once.
  const leaveStart = performance.now();
  for (const peer of peers) peer.socket.disconnect();
  await until(async () => {
    const runs = (await (await fetch(`${ready.url}/api/runs`)).json()) as { id: string; members: number }[];
    return runs.find((r) => r.id === RUN_ID)!.members === 0;
  }, 50);
  const allGoneMs = performance.now() - leaveStart;
  const left = await memory();
  child.send({ type: 'stop' });
  await new Promise((resolve) => child.once('exit', resolve));

  const mib = (bytes: number) => bytes / 2 ** 20;
  return {
    epochBatchMs,
    connectMs,
    joinAckP50Ms: percentile(joinLatencies, 0.5),
    joinAckP99Ms: percentile(joinLatencies, 0.99),
    allAckedMs,
    allHoldFinalEpochMs,
    epochs,
    epochMessages: peers.reduce((sum, p) => sum + p.epochsReceived, 0),
    finalEpochBytes: Buffer.byteLength(JSON.stringify(peers[0].epoch)),
    burstRelays,
    burstRelaysPerSecond: burstRelays / (burstMs / 1000),
    burstP50Ms: percentile(burstLatencies, 0.5),
    burstP99Ms: percentile(burstLatencies, 0.99),
    steadyRelays: steadyLatencies.length,
    steadyP50Ms: percentile(steadyLatencies, 0.5),
    steadyP99Ms: percentile(steadyLatencies, 0.99),
    allGoneMs,
    serverRssMiB: {
      idle: mib(idle.rss),
      joined: mib(joined.rss),
      afterRelays: mib(relayed.rss),
      peak: mib(left.peakRss),
    },
    serverHeapUsedMiB: {
      joined: mib(joined.heapUsed),
      afterRelays: mib(relayed.heapUsed),
      afterLeave: mib(left.heapUsed),
    },
    serverCpuS: (left.cpuMs - idle.cpuMs) / 1000,
  };
}

function toMarkdown(
  r: Settings & { cores: number; loadAverage1m: { before: number }; node: string; modes: Measurement[] },
): string {
  const ms = (x: number) => `${x.toFixed(x < 10 ? 2 : 0)} ms`;
  const s = (x: number) => `${(x / 1000).toFixed(2)} s`;
  const mib = (x: number) => `${x.toFixed(0)}`;
  const rows: [string, (m: Measurement) => string][] = [
    ['connect all clients (websocket)', (m) => s(m.connectMs)],
    ['join ack p50 / p99', (m) => `${ms(m.joinAckP50Ms)} / ${ms(m.joinAckP99Ms)}`],
    ['all joins acknowledged', (m) => s(m.allAckedMs)],
    ['every peer holds the final epoch', (m) => s(m.allHoldFinalEpochMs)],
    ['epochs / epoch messages received', (m) => `${m.epochs} / ${m.epochMessages}`],
    ['final epoch payload', (m) => `${(m.finalEpochBytes / 1024).toFixed(1)} KiB`],
    [
      `relay bursts (${r.bursts} × all peers → both neighbours): p50 / p99`,
      (m) => `${ms(m.burstP50Ms)} / ${ms(m.burstP99Ms)}`,
    ],
    ['relay bursts: throughput', (m) => `${m.burstRelaysPerSecond.toFixed(0)} relays/s`],
    [`relay steady ${r.steadyRate}/s: p50 / p99`, (m) => `${ms(m.steadyP50Ms)} / ${ms(m.steadyP99Ms)}`],
    ['all peers gone after a mass disconnect', (m) => s(m.allGoneMs)],
    [
      'server RSS MiB: idle / joined / after relays / peak',
      (m) => Object.values(m.serverRssMiB).map(mib).join(' / '),
    ],
    [
      'server heap used MiB: joined / after relays / after leave',
      (m) => Object.values(m.serverHeapUsedMiB).map(mib).join(' / '),
    ],
    ['server CPU time', (m) => `${m.serverCpuS.toFixed(1)} s`],
  ];
  const header = [
    'measure',
    ...r.modes.map((m) => (m.epochBatchMs === 0 ? 'no batch window' : `batched ${m.epochBatchMs} ms`)),
  ];
  const table = [header, ...rows.map(([label, value]) => [label, ...r.modes.map(value)])];
  const widths = header.map((_, c) => Math.max(...table.map((row) => row[c].length)));
  const line = (row: string[]) => `| ${row.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
  return [
    `Signaling load: ${r.peers} socket.io clients on loopback join one ring run (${r.concurrency} joins in flight), ` +
      `then relay signals to their neighbours. ${r.cores} cores, load ${r.loadAverage1m.before.toFixed(1)} ` +
      `before, Node ${r.node}. Clients share one process: latencies bound the server's from above.`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...table.slice(1).map(line),
    '',
  ].join('\n');
}

async function inBatches(total: number, size: number, task: () => Promise<void>): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < total) {
      started++;
      await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, total) }, worker));
}

async function until(done: () => boolean | Promise<boolean>, pollMs = 5): Promise<void> {
  while (!(await done())) await new Promise((resolve) => setTimeout(resolve, pollMs));
}

function percentile(values: number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function positive(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got "${text}"`);
  return value;
}
