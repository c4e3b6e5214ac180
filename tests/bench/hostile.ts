/**
 * Training under attack: honest `npm run peer` processes (tiny GPT, ring, DeMuon) train on a signaling
 * server hosted by this process, first alone (phase "clean"), then in a fresh run with robust mixing on
 * while one hostile member cycles through attack classes, a few seconds each (phase "hostile"):
 *
 *   http                 malformed request targets, huge headers, bodies on GET, POST /api/runs unauthorised
 *   socket-garbage       socket.io events with garbage payloads: random JSON, nesting 5000–100000 deep,
 *                        __proto__/constructor keys and event names, oversized messages, unknown events,
 *                        engine.io junk; 600 events/s from two raw WebSockets
 *   member               a joined member (it has the run token): absurd `progress`, junk `signal`s relayed to
 *                        honest peers (garbage SDP and candidates), signals the schema refuses, false
 *                        neighbour reports, absurd metrics and barriers
 *   resume               `join` with `resume` of an honest peer's id and guessed secrets
 *   unread               sockets that watch the run, send bad events with acks and never read the replies
 *   byzantine-scale      a real training peer (`npm run peer --byzantine scale:1e30`)
 *   byzantine-sign-flip  the same with `--byzantine sign-flip`
 *   frames               a WebRTC neighbour sending bad gossip frames (first chunks claiming 65535 chunks,
 *                        messages never finished, counts and offsets past the end, NaN, other runs, …)
 *
 * The hostile member is a child process (hostile-member.ts); the byzantine peers are `npm run peer`
 * processes. Per phase it measures honest steps per minute, the honest validation loss, this process's RSS
 * (it hosts the server) and event-loop delay, the peers' RSS, evictions and exits of honest peers; per
 * attack class what was sent and how it was answered. Prints a table and writes docs/bench/hostile.{md,json}.
 * It asserts nothing.
 *
 *   npm run bench:hostile [-- --minutes 2 --peers 4 --out docs/bench --only http,member --logs DIR]
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { positiveInt, positiveNumber } from '../../client/src/node/cli-args';
import { createSignalingServer, type Logger } from '../../signaling-server/src';
import {
  emptyTally,
  type FromMember,
  MEMBER_CLASSES,
  type MemberClass,
  mergeTally,
  type TallyData,
  type Target,
  type ToMember,
} from './hostile-attacks';
import { BenchPeer, rssKiB } from './hostile-peers';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../..');
const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '2' },
    peers: { type: 'string', default: '4' },
    out: { type: 'string', default: join(ROOT, 'docs/bench') },
    only: { type: 'string' },
    'eval-every': { type: 'string', default: '50' },
    logs: { type: 'string' },
  },
});
const minutes = positiveNumber('--minutes', args.minutes);
const peers = positiveInt('--peers', args.peers);
const evalEvery = positiveInt('--eval-every', args['eval-every']);
if (peers < 2) throw new Error('--peers must be at least 2');

const ATTACK_CLASSES = [...MEMBER_CLASSES, 'byzantine-scale', 'byzantine-sign-flip'] as const;
type AttackClass = (typeof ATTACK_CLASSES)[number];
/** The cycle, in order: how long each slot lasts, and the least time left worth starting it with. */
const CYCLE: { cls: AttackClass; ms: number; minMs: number }[] = [
  { cls: 'http', ms: 5000, minMs: 2000 },
  { cls: 'socket-garbage', ms: 6000, minMs: 2000 },
  { cls: 'member', ms: 10_000, minMs: 4000 },
  { cls: 'resume', ms: 4000, minMs: 2000 },
  { cls: 'unread', ms: 5000, minMs: 2000 },
  // A peer process needs ~10 s to load its model and data, join and take its state from a neighbour.
  { cls: 'byzantine-scale', ms: 27_000, minMs: 20_000 },
  { cls: 'byzantine-sign-flip', ms: 27_000, minMs: 20_000 },
  { cls: 'frames', ms: 15_000, minMs: 8000 },
];
const only = args.only?.split(',').map((s) => s.trim());
for (const cls of only ?? [])
  if (!(ATTACK_CLASSES as readonly string[]).includes(cls))
    throw new Error(`--only: unknown attack class '${cls}' (known: ${ATTACK_CLASSES.join(', ')})`);
const cycle = CYCLE.filter((c) => !only || only.includes(c.cls));

const WARMUP_STEPS = 3;
const WARMUP_MS = 240_000;
const SAMPLE_MS = 2000;
const EXIT_GRACE_MS = 20_000;
const ROBUST_MIXING = { suspects: 1 };

const runConfig = (id: string, robust: boolean) =>
  RunConfigSchema.parse({
    id,
    model: { preset: 'tiny', vocab: 512 },
    topology: 'ring',
    algorithm: { name: 'demuon', lr: { eta: 0.02 } },
    steps: 1_000_000,
    batch: 4,
    evalEvery,
    evalBatches: 1,
    ...(robust ? { robustMixing: ROBUST_MIXING } : {}),
  });
const PHASES = [
  { run: 'clean', hostile: false, config: runConfig('clean', false) },
  { run: 'hostile', hostile: true, config: runConfig('hostile', true) },
] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const MiB = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
const began = Date.now();
const clock = () => `${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s`;
const say = (line: string) => console.log(`${clock()}  ${line}`);

// ---- everything this process started, killed whatever happens -------------------------------------------

const allPeers: BenchPeer[] = [];
let hostileChild: ChildProcess | undefined;
function killAll(): void {
  for (const p of allPeers) p.kill();
  if (hostileChild && hostileChild.exitCode === null && hostileChild.signalCode === null)
    hostileChild.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping every child process`);
    killAll();
    process.exit(130);
  });
}

/** Failures of the server (it runs in this process) or of this bench's own callbacks, kept for the report. */
const faults: { at: string; phase: string; kind: string; message: string }[] = [];
let currentPhase = 'setup';
process.on('uncaughtException', (error) => {
  faults.push({
    at: clock(),
    phase: currentPhase,
    kind: 'uncaughtException',
    message: String(error?.stack ?? error),
  });
  console.error(`${clock()}  UNCAUGHT in the bench/server process: ${error?.stack ?? error}`);
});
process.on('unhandledRejection', (error) => {
  const text = String((error as Error)?.stack ?? error);
  faults.push({ at: clock(), phase: currentPhase, kind: 'unhandledRejection', message: text });
  console.error(`${clock()}  UNHANDLED REJECTION in the bench/server process: ${text}`);
});

// ---- the server, with its warnings counted ----------------------------------------------------------------

const serverWarnings = new Map<string, { phase: string; count: number; sample: string }>();
const logger: Logger = {
  info: () => {},
  warn: (message) => {
    // One row per kind of warning: socket ids and numbers vary.
    const key = `${currentPhase}: ${message
      .replace(/socket \S+/g, 'socket …')
      .replace(/\(\S+\)/g, '(…)')
      .replace(/\d+/g, 'N')
      .slice(0, 90)}`;
    const row = serverWarnings.get(key) ?? { phase: currentPhase, count: 0, sample: message.slice(0, 400) };
    row.count++;
    serverWarnings.set(key, row);
  },
};

const dataDir = mkdtempSync(join(tmpdir(), 'bench-hostile-'));
const server = await createSignalingServer({
  port: 0,
  dataDir,
  runs: PHASES.map((p) => p.config),
  log: logger,
});
say(
  `signaling server at ${server.url}; ${peers} honest peers, ${minutes} min per phase, ${cpus().length} cores`,
);

const peerArgs = (runId: string) => [
  ...['--server', server.url, '--run', runId, `--token=${server.runs.get(runId)!.secretToken()}`],
  ...['--backend', 'cpu', '--threads', '1'],
];

// ---- the hostile member process --------------------------------------------------------------------------

const MEMBER = join(HERE, 'hostile-member.ts');
const hostileExits: {
  at: string;
  code: number | null;
  signal: string | null;
  during: string;
  tail: string[];
}[] = [];
let hostileOutput: string[] = [];
let hostileMaxRssKiB = 0;

function startHostile(): Promise<ChildProcess> {
  const child = fork(MEMBER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  hostileChild = child;
  hostileOutput = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on('data', (chunk) => {
      hostileOutput.push(...String(chunk).split('\n').filter(Boolean));
      if (hostileOutput.length > 200) hostileOutput.splice(0, hostileOutput.length - 100);
    });
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the hostile member did not start within 60 s')), 60_000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`the hostile member exited at start (${code ?? signal}): ${hostileOutput.join('\n')}`),
      );
    });
  });
}

/** Sends one request to the hostile member; a crash or a hang becomes the answer, never an exception. */
async function askHostile(message: ToMember, timeoutMs: number, during: string): Promise<TallyData> {
  let child = hostileChild;
  if (!child || child.exitCode !== null || child.signalCode !== null) {
    try {
      child = await startHostile();
    } catch (error) {
      const tally = emptyTally();
      tally.answers['hostile member could not start'] = 1;
      tally.notes.push(String((error as Error).message).slice(0, 300));
      return tally;
    }
  }
  const running = child;
  return new Promise((resolve) => {
    const finish = (tally: TallyData) => {
      clearTimeout(timer);
      running.off('message', onMessage);
      running.off('exit', onExit);
      resolve(tally);
    };
    const onMessage = (m: FromMember) => {
      if (m.type === 'done') finish(m.tally);
    };
    const onExit = (code: number | null, signal: string | null) => {
      hostileExits.push({ at: clock(), code, signal, during, tail: hostileOutput.slice(-15) });
      say(`the hostile member exited (${code ?? signal}) during ${during}`);
      const tally = emptyTally();
      tally.answers[`hostile member process died (${code ?? signal})`] = 1;
      finish(tally);
    };
    const timer = setTimeout(() => {
      const tally = emptyTally();
      tally.answers['hostile member hung; killed'] = 1;
      running.kill('SIGKILL');
      finish(tally);
    }, timeoutMs);
    running.on('message', onMessage);
    running.once('exit', onExit);
    running.send(message);
  });
}

// ---- one phase ---------------------------------------------------------------------------------------------

interface Slot {
  cls: AttackClass;
  atS: number;
  s: number;
  sent: number;
}

async function phase(spec: (typeof PHASES)[number]) {
  const runId = spec.run;
  currentPhase = runId;
  const token = server.runs.get(runId)!.secretToken();
  const target: Target = { url: server.url, port: server.port, runId, token };
  const honest: BenchPeer[] = [];
  const byzantine: BenchPeer[] = [];
  const attacks: Record<string, TallyData> = {};
  const slots: Slot[] = [];
  const tallyOf = (cls: AttackClass) => {
    attacks[cls] = attacks[cls] ?? emptyTally();
    return attacks[cls];
  };
  const rss: [number, number][] = [];
  const loop = monitorEventLoopDelay({ resolution: 20 });
  let sampler: NodeJS.Timeout | undefined;
  const started = Date.now();
  try {
    for (let i = 0; i < peers; i++) {
      const p = new BenchPeer(`${runId}-p${i + 1}`, [...peerArgs(runId), '--wait-for', String(peers)]);
      honest.push(p);
      allPeers.push(p);
    }
    const deadline = Date.now() + WARMUP_MS;
    for (;;) {
      const failed = honest.find((p) => !p.running);
      if (failed) throw new Error(`${failed.name} exited during warm-up:\n${failed.tail.join('\n')}`);
      if (honest.every((p) => p.steps.length >= WARMUP_STEPS)) break;
      if (Date.now() > deadline) {
        const lines = honest.map((p) => `  ${p.name}: ${p.lines.at(-1)?.text ?? 'no output'}`);
        throw new Error(
          `${runId}: the peers were not training after ${WARMUP_MS / 1000} s:\n${lines.join('\n')}`,
        );
      }
      await sleep(250);
    }
    const windowStart = Date.now();
    const windowEnd = windowStart + minutes * 60_000;
    const cpuStart = process.cpuUsage();
    say(
      `${runId}: ${peers} honest peers training after ${((windowStart - started) / 1000).toFixed(0)} s; ${minutes} min window`,
    );

    const sample = () => {
      rss.push([Number(((Date.now() - windowStart) / 1000).toFixed(1)), MiB(process.memoryUsage().rss)]);
      for (const p of [...honest, ...byzantine]) p.sampleRss();
      if (hostileChild?.pid && hostileChild.exitCode === null)
        hostileMaxRssKiB = Math.max(hostileMaxRssKiB, rssKiB(hostileChild.pid) ?? 0);
    };
    sample();
    sampler = setInterval(sample, SAMPLE_MS);
    loop.enable();

    if (spec.hostile && cycle.length > 0) {
      let i = 0;
      let skipped = 0;
      for (;;) {
        const left = windowEnd - Date.now();
        if (left < 2000 || skipped >= cycle.length) break;
        const slot = cycle[i++ % cycle.length];
        if (left < slot.minMs) {
          skipped++;
          continue;
        }
        skipped = 0;
        const ms = Math.min(slot.ms, left);
        const at = Date.now();
        say(`${runId}: attack ${slot.cls} for ${(ms / 1000).toFixed(0)} s`);
        const tally = slot.cls.startsWith('byzantine')
          ? await byzantineSlot(slot.cls === 'byzantine-scale' ? 'scale:1e30' : 'sign-flip', ms)
          : await askHostile(
              { type: 'attack', cls: slot.cls as MemberClass, ms, target },
              ms + 30_000,
              `${runId} ${slot.cls}`,
            );
        mergeTally(tallyOf(slot.cls), tally);
        slots.push({
          cls: slot.cls,
          atS: Number(((at - windowStart) / 1000).toFixed(1)),
          s: Number(((Date.now() - at) / 1000).toFixed(1)),
          sent: tally.sent,
        });
        say(`${runId}: ${slot.cls}: sent ${tally.sent}; ${topAnswers(tally, 4)}`);
      }
    }
    await sleep(windowEnd - Date.now());
    if (spec.hostile && hostileChild) {
      const final = await askHostile({ type: 'stop', target }, 30_000, `${runId} end`);
      if (final.sent > 0 || Object.keys(final.answers).length > 0) mergeTally(tallyOf('unread'), final);
    }
    const cpu = process.cpuUsage(cpuStart);
    loop.disable();
    clearInterval(sampler);
    sample();
    const stoppedAt = Date.now();
    await Promise.all([...honest, ...byzantine].map((p) => p.stop(EXIT_GRACE_MS)));

    // Figures of the window.
    const inWindow = (t: number) => t > windowStart && t <= windowEnd;
    const hostileIds = new Set([
      ...Object.values(attacks).flatMap((a) => a.ids),
      ...byzantine.flatMap((p) => p.ids),
    ]);
    const stepsInWindow = honest.map((p) => p.steps.filter((e) => inWindow(e.t)).length);
    const largestBy = (t: number) =>
      Math.max(0, ...honest.flatMap((p) => p.steps.filter((e) => e.t <= t).map((e) => e.step)));
    const evals = new Map<number, number[]>();
    for (const p of honest)
      for (const e of p.steps)
        if (e.valLoss !== undefined && e.t <= windowEnd)
          evals.set(e.step, [...(evals.get(e.step) ?? []), e.valLoss]);
    const curve = [...evals.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([step, vals]) => ({
        step,
        mean: vals.reduce((a, b) => a + b, 0) / vals.length,
        peers: vals.length,
      }));
    const final = curve.filter((c) => c.peers >= Math.ceil(peers / 2)).at(-1);
    const giveUps = honest.flatMap((p) => p.giveUps.filter((g) => inWindow(g.t)));
    const evictions = honest.flatMap((p) =>
      p.evictions
        .filter((e) => e.t > windowStart && e.t <= stoppedAt)
        .map((e) => ({
          peer: p.name,
          atS: Number(((e.t - windowStart) / 1000).toFixed(1)),
          reason: e.reason,
        })),
    );
    const exits = [...honest, ...byzantine].map((p) => ({
      process: p.name,
      honest: honest.includes(p),
      code: p.exit?.code ?? null,
      signal: p.exit?.signal ?? null,
      unprompted: p.unprompted,
      killed: p.killedAt !== undefined,
      atS: p.exit ? Number(((p.exit.t - windowStart) / 1000).toFixed(1)) : null,
      ...(p.unprompted || p.killedAt !== undefined || (p.exit?.code ?? 0) !== 0 ? { tail: p.tail } : {}),
    }));
    const rssValues = rss.map(([, v]) => v);
    /** The longest an honest peer went without a step in the window, and what the hostile member did then. */
    const longestGap = () => {
      let best = { s: 0, peer: '', fromS: 0, afterStep: 0, during: [] as string[] };
      for (const p of honest) {
        const times = p.steps.filter((e) => inWindow(e.t));
        for (let k = 1; k < times.length; k++) {
          const gap = (times[k].t - times[k - 1].t) / 1000;
          if (gap <= best.s) continue;
          const fromS = (times[k - 1].t - windowStart) / 1000;
          const during = slots.filter((x) => x.atS < fromS + gap && x.atS + x.s > fromS).map((x) => x.cls);
          best = {
            s: Number(gap.toFixed(1)),
            peer: p.name,
            fromS: Number(fromS.toFixed(1)),
            afterStep: times[k - 1].step,
            during,
          };
        }
      }
      return best;
    };
    const complaints = new Map<string, number>();
    for (const p of honest)
      for (const c of p.complaints)
        if (inWindow(c.t)) {
          const key = c.text.replace(/\b[\w-]{6,}\b/g, (w) => (/\d/.test(w) ? '…' : w)).slice(0, 100);
          complaints.set(key, (complaints.get(key) ?? 0) + 1);
        }
    const result = {
      run: runId,
      hostile: spec.hostile,
      robustMixing: spec.config.robustMixing ?? null,
      warmupS: Number(((windowStart - started) / 1000).toFixed(1)),
      windowS: Number(((windowEnd - windowStart) / 1000).toFixed(1)),
      honestStepsPerMinutePerPeer: stepsInWindow.reduce((a, b) => a + b, 0) / peers / minutes,
      honestStepsPerMinuteByPeer: Object.fromEntries(
        honest.map((p, i) => [p.name, stepsInWindow[i] / minutes]),
      ),
      runStepsPerMinute: (largestBy(windowEnd) - largestBy(windowStart)) / minutes,
      largestStep: largestBy(windowEnd),
      finalVal: final ?? null,
      valCurve: curve,
      serverRssMiB: {
        min: Math.min(...rssValues),
        max: Math.max(...rssValues),
        last: rssValues.at(-1) ?? Number.NaN,
        samples: rss,
      },
      serverCpuS: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
      serverEventLoopDelayMs: {
        p50: Number((loop.percentile(50) / 1e6).toFixed(1)),
        p99: Number((loop.percentile(99) / 1e6).toFixed(1)),
        max: Number((loop.max / 1e6).toFixed(1)),
      },
      loadAverage1m: Number(loadavg()[0].toFixed(2)),
      peerRssMaxMiB: MiB(Math.max(0, ...honest.map((p) => p.maxRssKiB)) * 1024),
      peerRssMaxByPeer: Object.fromEntries(honest.map((p) => [p.name, MiB(p.maxRssKiB * 1024)])),
      byzantineRssMaxMiB: MiB(Math.max(0, ...byzantine.map((p) => p.maxRssKiB)) * 1024),
      honestEvictions: evictions,
      honestExitsUnprompted: exits.filter((e) => e.honest && e.unprompted),
      exits,
      giveUps: {
        onHostile: giveUps.filter((g) => hostileIds.has(g.neighbour)).length,
        onHonest: giveUps.filter((g) => !hostileIds.has(g.neighbour)).length,
        byReason: giveUps.reduce<Record<string, number>>((acc, g) => {
          const key = `${hostileIds.has(g.neighbour) ? 'hostile' : 'honest'} ${g.reason}`;
          acc[key] = (acc[key] ?? 0) + 1;
          return acc;
        }, {}),
      },
      honestComplaints: Object.fromEntries(
        [...complaints.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15),
      ),
      bootstraps: honest.reduce((n, p) => n + p.bootstraps.filter((b) => inWindow(b.t)).length, 0),
      longestStepGap: longestGap(),
      hostileIds: [...hostileIds],
      slots,
      attacks,
    };
    say(
      `${runId}: ${result.honestStepsPerMinutePerPeer.toFixed(1)} honest steps/min per peer, val ${final ? `${final.mean.toFixed(4)} at step ${final.step}` : 'n/a'}, ${evictions.length} honest evictions, ${result.honestExitsUnprompted.length} honest crashes`,
    );
    return result;
  } finally {
    loop.disable();
    clearInterval(sampler);
    for (const p of [...honest, ...byzantine]) p.kill();
    await Promise.all([...honest, ...byzantine].map((p) => p.exited));
    if (args.logs) {
      mkdirSync(args.logs, { recursive: true });
      for (const p of [...honest, ...byzantine]) {
        const text = p.lines.map((l) => `${((l.t - started) / 1000).toFixed(3)} ${l.text}\n`).join('');
        writeFileSync(join(args.logs, `${p.name}.log`), text);
      }
    }
  }

  /** A byzantine `npm run peer` for `ms`: its steps trained (with corrupted gossip) are what it sent. */
  async function byzantineSlot(attack: string, ms: number): Promise<TallyData> {
    const name = `${runId}-byz${byzantine.length + 1}`;
    const p = new BenchPeer(name, [...peerArgs(runId), '--wait-for', '2', '--byzantine', attack]);
    byzantine.push(p);
    allPeers.push(p);
    await Promise.race([sleep(ms), p.exited]);
    const died = !p.running;
    await p.stop(10_000);
    const tally = emptyTally();
    const kind = `--byzantine ${attack}`;
    tally.sent = p.steps.length;
    const row: Record<string, number> = { sent: p.steps.length };
    const count = (outcome: string, n = 1) => {
      if (n === 0) return;
      tally.answers[outcome] = (tally.answers[outcome] ?? 0) + n;
      row[outcome] = (row[outcome] ?? 0) + n;
    };
    count('joined', p.joins.length);
    count('took state from a neighbour', p.bootstraps.length);
    count('steps trained', p.steps.length);
    for (const e of p.evictions) count(`evicted: ${e.reason.slice(0, 60)}`);
    count(`exit ${p.exit?.code ?? p.exit?.signal}${died ? ' before told to leave' : ''}`);
    tally.detail[kind] = row;
    tally.ids = p.ids;
    if (died) tally.notes.push(`${name} exited by itself: ${p.tail.slice(-5).join(' | ')}`);
    return tally;
  }
}

function topAnswers(t: TallyData, n: number): string {
  const rows = Object.entries(t.answers).sort((a, b) => b[1] - a[1]);
  const shown = rows.slice(0, n).map(([k, v]) => `${k} ${v}`);
  return shown.join(', ') + (rows.length > n ? `, … (${rows.length - n} more)` : '');
}

// ---- run both phases, report ---------------------------------------------------------------------------------

type PhaseResult = Awaited<ReturnType<typeof phase>>;
const results: PhaseResult[] = [];
let failure: Error | undefined;
try {
  for (const spec of PHASES) results.push(await phase(spec));
} catch (error) {
  failure = error as Error;
  console.error(`${clock()}  the benchmark failed: ${failure.stack ?? failure}`);
} finally {
  currentPhase = 'shutdown';
  if (hostileChild && hostileChild.exitCode === null) {
    hostileChild.disconnect?.();
    await Promise.race([new Promise((r) => hostileChild!.once('exit', r)), sleep(3000)]);
  }
  killAll();
  await server
    .close()
    .catch((error: Error) =>
      faults.push({ at: clock(), phase: 'shutdown', kind: 'close', message: error.message }),
    );
  rmSync(dataDir, { recursive: true, force: true });
}

if (results.length < 2) {
  console.error('no report: a phase did not complete');
  process.exit(1);
}
const [clean, hostile] = results;
const f = (x: number | undefined | null, digits = 1) =>
  x === undefined || x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);
const valAt = (r: PhaseResult, step: number) => r.valCurve.filter((c) => c.step <= step).at(-1);
const matched = hostile.finalVal ? valAt(clean, hostile.finalVal.step) : undefined;
const valDiff = hostile.finalVal && clean.finalVal ? hostile.finalVal.mean - clean.finalVal.mean : Number.NaN;
const ratio = hostile.honestStepsPerMinutePerPeer / clean.honestStepsPerMinutePerPeer;
const signed = (x: number) => `${x >= 0 ? '+' : ''}${f(x, 4)}`;
const val = (r: PhaseResult) => (r.finalVal ? `${f(r.finalVal.mean, 4)} (step ${r.finalVal.step})` : 'n/a');
const rssRow = (r: PhaseResult) =>
  `${f(r.serverRssMiB.min)} / ${f(r.serverRssMiB.max)} / ${f(r.serverRssMiB.last)}`;
const exitsRow = (r: PhaseResult) => {
  const crashed = r.exits.filter((e) => e.honest && e.unprompted).length;
  const killed = r.exits.filter((e) => e.honest && e.killed).length;
  const byz = r.exits.filter((e) => !e.honest);
  return `${crashed} crashed, ${killed} killed after Ctrl-C${byz.length ? `; byzantine: ${byz.filter((e) => e.unprompted).length} of ${byz.length} died by itself` : ''}`;
};
const gapRow = (r: PhaseResult) => {
  const g = r.longestStepGap;
  return g.s === 0
    ? 'n/a'
    : `${f(g.s)} (${g.peer} after step ${g.afterStep}, at ${f(g.fromS, 0)} s${g.during.length ? `, during ${g.during.join(', ')}` : ''})`;
};
const rows: [string, string, string][] = [
  ['robust mixing', 'off', JSON.stringify(hostile.robustMixing)],
  [
    'honest steps/min per peer',
    f(clean.honestStepsPerMinutePerPeer),
    `${f(hostile.honestStepsPerMinutePerPeer)} (×${f(ratio, 2)} of clean)`,
  ],
  ['run steps/min (largest step)', f(clean.runStepsPerMinute), f(hostile.runStepsPerMinute)],
  ['honest val loss, latest eval (mean)', val(clean), `${val(hostile)}, ${signed(valDiff)} vs clean`],
  [
    'clean val at the hostile phase’s last eval step',
    matched ? `${f(matched.mean, 4)} (step ${matched.step})` : 'n/a',
    hostile.finalVal && matched ? `${signed(hostile.finalVal.mean - matched.mean)} vs that` : 'n/a',
  ],
  ['server RSS MiB min / max / last', rssRow(clean), rssRow(hostile)],
  ['server CPU s in window (this process)', f(clean.serverCpuS), f(hostile.serverCpuS)],
  [
    'server event-loop delay ms p99 / max',
    `${f(clean.serverEventLoopDelayMs.p99)} / ${f(clean.serverEventLoopDelayMs.max)}`,
    `${f(hostile.serverEventLoopDelayMs.p99)} / ${f(hostile.serverEventLoopDelayMs.max)}`,
  ],
  ['honest peer RSS max MiB', f(clean.peerRssMaxMiB), f(hostile.peerRssMaxMiB)],
  [
    'hostile processes RSS max MiB (member / byzantine)',
    '–',
    `${f(hostileMaxRssKiB / 1024)} / ${f(hostile.byzantineRssMaxMiB)}`,
  ],
  ['honest peers evicted', String(clean.honestEvictions.length), String(hostile.honestEvictions.length)],
  ['honest process exits', exitsRow(clean), exitsRow(hostile)],
  ['longest an honest peer went without a step (s)', gapRow(clean), gapRow(hostile)],
  [
    'honest rounds that gave up (on hostile / on honest)',
    `${clean.giveUps.onHostile} / ${clean.giveUps.onHonest}`,
    `${hostile.giveUps.onHostile} / ${hostile.giveUps.onHonest}`,
  ],
  [
    'server uncaught exceptions / rejections',
    String(faults.filter((x) => x.phase === 'clean').length),
    String(faults.filter((x) => x.phase === 'hostile').length),
  ],
];
const table = ['| | clean | hostile |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
  '\n',
);

const answersCell = (t: TallyData) =>
  Object.entries(t.answers)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([k, v]) => `${k} ${v}`)
    .join('; ')
    .replace(/\|/g, '/');
const attackRows = ATTACK_CLASSES.filter((c) => hostile.attacks[c]).map((cls) => {
  const t = hostile.attacks[cls];
  const slots = hostile.slots.filter((s) => s.cls === cls);
  return `| ${cls} | ${slots.length} | ${f(
    slots.reduce((a, s) => a + s.s, 0),
    0,
  )} | ${t.sent} | ${answersCell(t)} |`;
});
const notRun = ATTACK_CLASSES.filter((c) => !hostile.attacks[c]);
const attackTable = [
  '| attack class | slots | seconds | sent | answers (most frequent first) |',
  '|---|---|---|---|---|',
  ...attackRows,
].join('\n');

const command = `npm run bench:hostile${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
console.log(`\n${table}\n\n${attackTable}\n`);
if (notRun.length) console.log(`not run in the window: ${notRun.join(', ')}`);

const problems: string[] = [
  ...faults.map(
    (x) =>
      `- ${x.at} (${x.phase}) ${x.kind} in the bench/server process: ${x.message.split('\n').slice(0, 4).join(' ⏎ ')}`,
  ),
  ...results.flatMap((r) =>
    r.exits
      .filter((e) => e.unprompted || e.killed)
      .map(
        (e) =>
          `- ${r.run}: ${e.process}${e.honest ? '' : ' (byzantine)'} ${e.killed ? 'did not exit after Ctrl-C, killed' : `exited by itself with ${e.code ?? e.signal} at ${e.atS} s`}; last lines:\n${(
            e.tail ?? []
          )
            .slice(-8)
            .map((l) => `    ${l}`)
            .join('\n')}`,
      ),
  ),
  ...results.flatMap((r) =>
    r.honestEvictions.map((e) => `- ${r.run} ${e.atS} s: honest ${e.peer} evicted: ${e.reason}`),
  ),
  ...(hostile.longestStepGap.s > Math.max(5, 3 * clean.longestStepGap.s)
    ? [
        `- honest training stalled: ${hostile.longestStepGap.peer} went ${f(hostile.longestStepGap.s)} s without a step after step ${hostile.longestStepGap.afterStep} (window ${f(hostile.longestStepGap.fromS, 0)} s${hostile.longestStepGap.during.length ? `, during ${hostile.longestStepGap.during.join(', ')}` : ''}); the clean phase's longest gap was ${f(clean.longestStepGap.s)} s`,
      ]
    : []),
  ...hostileExits.map(
    (x) =>
      `- the hostile member process exited (${x.code ?? x.signal}) during ${x.during}; last lines: ${x.tail.slice(-5).join(' | ')}`,
  ),
];
const warnings = [...serverWarnings.entries()]
  .sort((a, b) => b[1].count - a[1].count)
  .map(
    ([, w]) =>
      `| ${w.phase} | ${w.count} | ${w.sample.replace(/\|/g, '/').replace(/\n/g, ' ⏎ ').slice(0, 220)} |`,
  );
const notes = ATTACK_CLASSES.flatMap((c) => (hostile.attacks[c]?.notes ?? []).map((n) => `- ${c}: ${n}`));
const complaints = (r: PhaseResult) =>
  Object.entries(r.honestComplaints).map(([k, v]) => `| ${r.run} | ${v} | ${k.replace(/\|/g, '/')} |`);

const md = `# Hostile soak: honest training while one member attacks

\`${command}\` (${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}; the whole
run took ${((Date.now() - began) / 60_000).toFixed(1)} min).

${peers} honest \`npm run peer\` processes (\`--backend cpu --threads 1 --wait-for ${peers}\`) train the \`tiny\` GPT
(vocab 512) on a ring with DeMuon (η 0.02, batch 4, eval every ${evalEvery} steps on 1 batch), on a signaling
server this benchmark hosts. Phase **clean**: they train alone for ${minutes} min. Phase **hostile**: a fresh run
with robust mixing on (\`robustMixing: ${JSON.stringify(ROBUST_MIXING)}\`) where, once they train, one hostile
member cycles for ${minutes} min through the attack classes below (see the head of \`tests/bench/hostile.ts\`). The
hostile member is its own process (\`tests/bench/hostile-member.ts\`), the byzantine peers are \`npm run peer
--byzantine …\` processes; the server's RSS is this process's (it hosts nothing else heavy). Both phases count
only their window, after every honest peer trained ${WARMUP_STEPS} steps. It asserts nothing.

${table}

Server RSS is sampled every ${SAMPLE_MS / 1000} s; the server lives through both phases, so the hostile phase
starts where the clean one ended. The byzantine peers are extra training processes on the same ${cpus().length} cores while
they run, which alone slows the honest ones.

## Attacks (hostile phase)

${attackTable}
${notRun.length ? `\nNot run (did not fit in the window): ${notRun.join(', ')}.\n` : ''}
Slots in order: ${hostile.slots.map((s) => `${s.cls} at ${s.atS} s for ${s.s} s`).join(', ')}.

Every outcome, per kind of attack, is in \`hostile.json\` (\`phases[1].attacks.<class>.detail\`).

## What crashed or misbehaved

${problems.length ? problems.join('\n') : 'Nothing: no exception in the server process, no honest peer evicted or crashed, the hostile member never died.'}

${notes.length ? `Notes from the attacks:\n\n${notes.join('\n')}\n` : ''}
Server warnings (counted by kind):

${warnings.length ? ['| phase | count | first of its kind |', '|---|---|---|', ...warnings.slice(0, 25)].join('\n') : 'none'}

Honest peers' lines that look like trouble (errors, refused signals, link errors), by kind:

${[...complaints(clean), ...complaints(hostile)].length ? ['| phase | count | line |', '|---|---|---|', ...complaints(clean), ...complaints(hostile)].join('\n') : 'none'}
`;

mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, 'hostile.md'), md);
writeFileSync(
  join(args.out, 'hostile.json'),
  `${JSON.stringify(
    {
      command,
      date: new Date().toISOString(),
      cores: cpus().length,
      settings: { minutes, peers, evalEvery, cycle, robustMixing: ROBUST_MIXING },
      phases: results,
      hostileMemberMaxRssMiB: MiB(hostileMaxRssKiB * 1024),
      hostileMemberExits: hostileExits,
      faults,
      serverWarnings: [...serverWarnings.values()],
      failure: failure?.message ?? null,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${relative(process.cwd(), join(args.out, 'hostile.md'))} and hostile.json`);
process.exit(0);
