/**
 * Training under churn: `npm run peer` processes on loopback (tiny GPT, ring, DeMuon) join, leave
 * (Ctrl-C, and later a new process joins), freeze (SIGSTOP for a while, sometimes past the server's
 * heartbeat timeout, then SIGCONT) and come back, at seeded random times, always with at least two peers
 * working. Then the same set-up runs as long without churn, as the baseline. Prints and writes
 * docs/bench/churn.{md,json}: working peers evicted, steps trained while not a member, rounds that gave up
 * on a neighbour and on whom, time to rejoin after thawing, steps per minute against the baseline, and the
 * consensus reached at the end. It asserts nothing.
 *
 *   npm run bench:churn [-- --minutes 3 --peers 5 --seed 1 --logs DIR]
 *
 * --logs DIR keeps every peer's output there, one file per process, each line with its time in seconds
 * from the start of the window (the times the report gives).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { Rng } from '@demuon/shared/util';
import { positiveInt, positiveNumber } from '../../client/src/node/cli-args';
import { createSignalingServer, silentLogger } from '../../signaling-server/src';
import { until } from '../helpers/peer-process';
import { GIVE_UP_LOOKBACK_MS, PeerProcess, scenarioFigures, THAW_GRACE_MS } from './churn-log';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '3' },
    peers: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
    logs: { type: 'string' },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
  },
});
const minutes = positiveNumber('--minutes', args.minutes);
const peers = positiveInt('--peers', args.peers);
const seed = positiveInt('--seed', args.seed);
if (peers < 3)
  throw new Error('--peers must be at least 3: churn keeps two peers working besides its target');

/** Short, so that freezes past it happen often; heartbeats go out every second. */
const HEARTBEAT_TIMEOUT_MS = 6000;
/** Never freeze or stop a peer when fewer than this many others would still be working. */
const MIN_WORKING = 2;
/** Seconds between two churn events, uniform. */
const EVENT_GAP_S = [5, 12] as const;
/** The share of churn events that freeze a peer; the rest stop one (a new process joins later). */
const FREEZE_SHARE = 0.6;
/** Freezes: half short (a hiccup the run should ride out), half long (past the suspicion bound, and some
 * past the heartbeat timeout). Seconds, uniform. */
const SHORT_FREEZE_S = [0.5, 2.5] as const;
const LONG_FREEZE_S = [3, (1.5 * HEARTBEAT_TIMEOUT_MS) / 1000] as const;
/** Seconds from a peer's Ctrl-C to the start of the process that takes its place. */
const REPLACEMENT_DELAY_S = [3, 12] as const;
/** Steps every peer trains before the window starts (sessions warm, links open). */
const WARMUP_STEPS = 3;
const EVAL_EVERY = 10;
/**
 * How long a warm-up wait may take; after the window, getting every peer back and training, their last
 * evaluation, and leaving after Ctrl-C.
 */
const WARMUP_MS = 180_000;
const SETTLE_MS = 45_000;
const EVAL_MS = 30_000;
const EXIT_MS = 20_000;
const MEMBER_POLL_MS = 500;

const runConfig = (id: string) =>
  RunConfigSchema.parse({
    id,
    model: { preset: 'tiny', vocab: 512 },
    topology: 'ring',
    algorithm: { name: 'demuon', lr: { eta: 0.05 } },
    steps: 100_000,
    batch: 4,
    evalEvery: EVAL_EVERY,
    evalBatches: 1,
  });
const RUNS = [runConfig('churn'), runConfig('baseline')];

const dataDir = mkdtempSync(join(tmpdir(), 'bench-churn-'));
const server = await createSignalingServer({
  port: 0,
  dataDir,
  runs: RUNS,
  log: silentLogger,
  heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const elapsed = (from: number) => `${((Date.now() - from) / 1000).toFixed(1)} s`;

/** What was done to whom, in seconds from the window's start. */
type ChurnAction =
  | { at: number; kind: 'freeze'; process: string; forS: number }
  | { at: number; kind: 'leave'; process: string }
  | { at: number; kind: 'join'; process: string }
  | { at: number; kind: 'skip'; working: number };

/** Polls the run's members; records when each peer id is first seen missing. */
function watchRemovals(runId: string) {
  const removedAt = new Map<string, number>();
  const seen = new Set<string>();
  let watching = true;
  const done = (async () => {
    while (watching) {
      try {
        const response = await fetch(`${server.url}/api/runs/${runId}`);
        const body = (await response.json()) as { state: { members: { peer: string }[] } };
        const now = Date.now();
        const present = new Set(body.state.members.map((m) => m.peer));
        for (const id of present) seen.add(id);
        for (const id of seen) if (!present.has(id) && !removedAt.has(id)) removedAt.set(id, now);
      } catch {
        // A missed poll only makes the next one's times coarser.
      }
      await sleep(MEMBER_POLL_MS);
    }
  })();
  return {
    removedAt,
    stop: async () => {
      watching = false;
      await done;
    },
  };
}

async function scenario(runId: string, churn: Rng | null) {
  const started = Date.now();
  const token = server.runs.get(runId)!.secretToken();
  const peerArgs = [
    ...['--server', server.url, '--run', runId, `--token=${token}`],
    // Two, not all of them: a peer joining again after an eviction waits for this many members too.
    ...['--wait-for', '2', '--backend', 'cpu', '--threads', '1'],
  ];
  const processes: PeerProcess[] = [];
  const launch = () => {
    const p = new PeerProcess(`p${processes.length + 1}`, peerArgs);
    processes.push(p);
    return p;
  };
  const removals = watchRemovals(runId);
  // Times in the logs are from the window's start once there is one.
  let origin = started;
  try {
    const trained = (p: PeerProcess, steps: number) => p.working && p.steps().length >= steps;
    const warmUp = (what: string, ready: () => boolean) =>
      until(
        what,
        () => {
          const failed = processes.find((p) => !p.running);
          if (failed) throw new Error(`${failed.name} exited during warm-up:\n${failed.tail.join('\n')}`);
          return ready() ? true : undefined;
        },
        WARMUP_MS,
      ).catch((error: Error) => {
        const waiting = processes.filter((p) => !trained(p, 1));
        const lines = waiting.map((p) => `  ${p.name}: ${p.lines.at(-1)?.text ?? 'no output'}`);
        throw new Error(`${runId}: ${error.message}; not training:\n${lines.join('\n')}`);
      });
    // Two start together, then one at a time, each once the one before trains: three or more joining in
    // one epoch can leave a joiner whose in-neighbours all joined with it, and it waits for ever for a
    // state none of them sends, and its neighbours wait for it.
    launch();
    for (let i = 1; i < peers; i++) {
      if (i > 1)
        await warmUp(`${processes.at(-1)!.name} training`, () => processes.every((p) => trained(p, 1)));
      launch();
    }
    await warmUp(`${peers} peers training`, () => processes.every((p) => trained(p, WARMUP_STEPS)));
    const windowStart = Date.now();
    origin = windowStart;
    const windowEnd = windowStart + minutes * 60_000;
    const at = () => Number(((Date.now() - windowStart) / 1000).toFixed(2));
    console.log(`${runId}: ${peers} peers training after ${elapsed(started)}; ${minutes} min window`);

    const actions: ChurnAction[] = [];
    const timers = new Set<NodeJS.Timeout>();
    const record = (action: ChurnAction) => {
      actions.push(action);
      const what =
        action.kind === 'skip'
          ? `skipped (${action.working} working)`
          : `${action.kind} ${action.process}${action.kind === 'freeze' ? ` for ${action.forS} s` : ''}`;
      console.log(`${runId} ${action.at.toFixed(1)} s: ${what}`);
    };
    const later = (ms: number, act: () => void) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        act();
      }, ms);
      timers.add(timer);
    };
    if (churn) {
      const between = ([lo, hi]: readonly [number, number], u: number) => lo + (hi - lo) * u;
      for (;;) {
        await sleep(between(EVENT_GAP_S, churn.uniform()) * 1000);
        if (Date.now() >= windowEnd) break;
        // The same draws at every event, whatever happens: the seed fixes them, timing picks the target.
        const [kind, long, length, pick, delay] = [1, 2, 3, 4, 5].map(() => churn.uniform());
        const working = processes.filter((p) => p.working);
        if (working.length - 1 < MIN_WORKING) {
          record({ at: at(), kind: 'skip', working: working.length });
          continue;
        }
        const target = working[Math.floor(pick * working.length)];
        if (kind < FREEZE_SHARE) {
          const forMs = between(long < 0.5 ? SHORT_FREEZE_S : LONG_FREEZE_S, length) * 1000;
          target.freeze(forMs);
          record({ at: at(), kind: 'freeze', process: target.name, forS: Number((forMs / 1000).toFixed(2)) });
          later(forMs, () => target.thaw());
        } else {
          target.interrupt();
          record({ at: at(), kind: 'leave', process: target.name });
          later(between(REPLACEMENT_DELAY_S, delay) * 1000, () =>
            record({ at: at(), kind: 'join', process: launch().name }),
          );
        }
      }
    }
    await sleep(windowEnd - Date.now());
    for (const timer of timers) clearTimeout(timer);
    for (const p of processes) p.thaw();

    // The consensus at the end: every peer still running back in and training, then all past one more
    // evaluation, at the same step.
    const problems: string[] = [];
    const staying = () => processes.filter((p) => p.running && p.interruptedAt === undefined);
    await until(
      'the peers to be back and training',
      () => (staying().every((p) => p.working) ? true : undefined),
      SETTLE_MS,
    ).catch((error: Error) =>
      problems.push(
        `${error.message} (${staying()
          .filter((p) => !p.working)
          .map((p) => p.name)
          .join(', ')} not)`,
      ),
    );
    const present = processes.filter((p) => p.working);
    const lastStep = Math.max(0, ...present.map((p) => p.steps().at(-1)!.step));
    const evalStep = (Math.floor(lastStep / EVAL_EVERY) + 1) * EVAL_EVERY;
    const evaluated = (p: PeerProcess) =>
      p.steps().find((e) => e.step === evalStep && e.valLoss !== undefined);
    await until(
      `every present peer to evaluate step ${evalStep}`,
      () => (present.every(evaluated) ? true : undefined),
      EVAL_MS,
    ).catch((error: Error) => problems.push(error.message));
    const countUntil = Date.now();
    const metrics = (await (await fetch(`${server.url}/api/runs/${runId}/metrics.json`)).json()) as {
      points: { peer: string; step: number; disagreement?: number }[];
    };
    const finalPeers = present.flatMap((p) => {
      const val = evaluated(p)?.valLoss;
      const peer = p.member;
      const point = metrics.points.find((q) => q.peer === peer && q.step === evalStep);
      return val === undefined || peer === undefined
        ? []
        : [{ process: p.name, peer, valLoss: val, disagreement: point?.disagreement }];
    });

    // Everyone leaves; each must exit cleanly.
    for (const p of processes) p.interrupt();
    const exitedInTime = await Promise.race([
      Promise.all(processes.map((p) => p.exited)).then(() => true),
      sleep(EXIT_MS).then(() => false),
    ]);
    if (!exitedInTime) {
      for (const p of processes.filter((p) => p.running)) p.kill();
      await Promise.all(processes.map((p) => p.exited));
    }
    const exits = processes.map((p) => {
      // A process that ended before anyone told it to leave crashed (or gave up by itself).
      const unprompted = p.interruptedAt === undefined || p.exit!.t < p.interruptedAt;
      const killed = p.killedAt !== undefined;
      const failed = unprompted || killed || p.exit!.code !== 0;
      return {
        process: p.name,
        code: p.exit!.code,
        signal: p.exit!.signal,
        unprompted,
        killed,
        ...(failed ? { tail: p.tail } : {}),
      };
    });
    for (const e of exits.filter((e) => e.tail)) {
      const p = processes.find((p) => p.name === e.process)!;
      const last = p.lines.at(-1);
      const lastLine = last ? `${((last.t - windowStart) / 1000).toFixed(2)} s: ${last.text}` : 'none';
      const how = e.killed
        ? `did not exit within ${EXIT_MS / 1000} s of Ctrl-C and was killed`
        : `exited with ${e.code ?? e.signal}${e.unprompted ? ` at ${((p.exit!.t - windowStart) / 1000).toFixed(2)} s, before it was told to leave` : ''}`;
      problems.push(`${e.process} (${p.member ?? 'not a member'}) ${how}; its last line at ${lastLine}`);
    }

    const figures = scenarioFigures({
      processes,
      windowStart,
      windowEnd,
      countUntil,
      removedAt: removals.removedAt,
    });
    const disagreements = finalPeers.flatMap((f) => (f.disagreement === undefined ? [] : [f.disagreement]));
    const valLosses = finalPeers.map((f) => f.valLoss);
    console.log(`${runId}: done after ${elapsed(started)}`);
    return {
      run: runId,
      ...figures,
      actions,
      consensus: {
        step: evalStep,
        peers: finalPeers,
        meanDisagreement: disagreements.reduce((a, b) => a + b, 0) / disagreements.length,
        valLossSpread: Math.max(...valLosses) - Math.min(...valLosses),
      },
      exits,
      problems,
    };
  } finally {
    for (const p of processes) p.kill();
    await Promise.all(processes.map((p) => p.exited));
    await removals.stop();
    if (args.logs) {
      mkdirSync(args.logs, { recursive: true });
      for (const p of processes) {
        const text = p.lines.map((l) => `${((l.t - origin) / 1000).toFixed(3)} ${l.text}\n`).join('');
        writeFileSync(join(args.logs, `${runId}-${p.name}.log`), text);
      }
    }
  }
}

type Scenario = Awaited<ReturnType<typeof scenario>>;

const began = Date.now();
let withChurn: Scenario;
let baseline: Scenario;
try {
  withChurn = await scenario('churn', new Rng(seed));
  baseline = await scenario('baseline', null);
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}

const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
/** Three significant digits: consensus figures range from 1e-6 (three peers, a complete graph) up. */
const g = (x: number) => (Number.isFinite(x) ? x.toPrecision(3) : 'n/a');
const stall = ({ longestStall: l }: Scenario) =>
  `${f(l.s)}${l.process ? ` (${l.process}, ${l.afterStep === undefined ? 'before its first step' : `after step ${l.afterStep}`}${l.until === 'end' ? ', to the end' : ''})` : ''}`;
const exitFailures = (s: Scenario) =>
  `${s.exits.filter((e) => e.unprompted || (e.code !== 0 && !e.killed)).length} / ${s.exits.filter((e) => e.killed).length}`;
const count = (xs: readonly unknown[]) => String(xs.length);
const kinds = (s: Scenario, kind: ChurnAction['kind']) => s.actions.filter((a) => a.kind === kind);
const longFreezes = kinds(withChurn, 'freeze').filter(
  (a) => a.kind === 'freeze' && a.forS * 1000 > HEARTBEAT_TIMEOUT_MS,
).length;
const reasons = [
  ...new Set([...Object.keys(withChurn.giveUpsByReason), ...Object.keys(baseline.giveUpsByReason)]),
].sort();
const giveUps = (s: Scenario, reason: string) => {
  const row = s.giveUpsByReason[reason];
  if (!row) return '0';
  return `${row.onFrozenOrGone + row.onWorking + row.byThawed} (${row.onFrozenOrGone} / ${row.onWorking} / ${row.byThawed})`;
};
const ratio = (key: 'runStepsPerMinute' | 'peerStepsPerMinute') => withChurn[key] / baseline[key];
const rows: [string, string, string][] = [
  [
    'churn events',
    `${kinds(withChurn, 'freeze').length} freezes (${longFreezes} past the heartbeat timeout), ${kinds(withChurn, 'leave').length} leaves, ${kinds(withChurn, 'join').length} new joins, ${kinds(withChurn, 'skip').length} skipped`,
    'none',
  ],
  [
    'working peers evicted by the server (goal 0)',
    String(withChurn.workingEvicted),
    String(baseline.workingEvicted),
  ],
  [
    'late joiners that lost their state source and joined again: source frozen or gone / working',
    `${withChurn.restarts - withChurn.restartsFromWorkingSource} / ${withChurn.restartsFromWorkingSource}`,
    `${baseline.restarts - baseline.restartsFromWorkingSource} / ${baseline.restartsFromWorkingSource}`,
  ],
  [
    'steps trained while not a member (goal 0)',
    count(withChurn.stepsWhileNotMember),
    count(baseline.stepsWhileNotMember),
  ],
  [
    'steps finished after the server removed the peer, before it heard',
    count(withChurn.stepsAfterRemoval),
    count(baseline.stepsAfterRemoval),
  ],
  ...reasons.map((r): [string, string, string] => [
    `rounds that gave up: ${r} (on a frozen/gone neighbour / on a working one / by a peer just thawed)`,
    giveUps(withChurn, r),
    giveUps(baseline, r),
  ]),
  [
    'freezes the peer rode out / was removed in (of which it heard it was evicted)',
    `${withChurn.freezesSurvived} / ${withChurn.rejoins.length} (${withChurn.rejoins.filter((r) => r.evicted).length})`,
    '–',
  ],
  [
    `thaw → joined again, p50 / p99 (s; ${withChurn.rejoins.filter((r) => r.joinS !== undefined).length} rejoins)`,
    `${f(withChurn.rejoinJoinS.p50, 2)} / ${f(withChurn.rejoinJoinS.p99, 2)}`,
    '–',
  ],
  [
    'thaw → first step after joining again, p50 / p99 (s)',
    `${f(withChurn.rejoinFirstStepS.p50, 2)} / ${f(withChurn.rejoinFirstStepS.p99, 2)}`,
    '–',
  ],
  [
    'run steps per minute (largest step reached)',
    `${f(withChurn.runStepsPerMinute)} (×${f(ratio('runStepsPerMinute'), 2)})`,
    f(baseline.runStepsPerMinute),
  ],
  [
    "peer steps per minute (all peers' step lines)",
    `${f(withChurn.peerStepsPerMinute)} (×${f(ratio('peerStepsPerMinute'), 2)})`,
    f(baseline.peerStepsPerMinute),
  ],
  ['late joiners bootstrapped from a neighbour', String(withChurn.bootstraps), String(baseline.bootstraps)],
  [
    'final consensus: mean disagreement',
    `${g(withChurn.consensus.meanDisagreement)} (step ${withChurn.consensus.step}, ${withChurn.consensus.peers.length} peers)`,
    `${g(baseline.consensus.meanDisagreement)} (step ${baseline.consensus.step}, ${baseline.consensus.peers.length} peers)`,
  ],
  [
    'final consensus: validation loss spread (max − min)',
    g(withChurn.consensus.valLossSpread),
    g(baseline.consensus.valLossSpread),
  ],
  ['longest a working peer went without a step (s)', stall(withChurn), stall(baseline)],
  [
    'peer processes that crashed / did not leave after Ctrl-C',
    exitFailures(withChurn),
    exitFailures(baseline),
  ],
];
const table = [
  '| | with churn | baseline |',
  '|---|---|---|',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
  ...([withChurn, baseline].some((s) => s.consensus.peers.length <= 3)
    ? [
        '',
        'With three peers or fewer left, the ring is a complete graph and one gossip round averages them exactly:',
        'their consensus figures say nothing about the churn.',
      ]
    : []),
].join('\n');

/** The events the goals say should not happen, one line each. */
const unexpected = (s: Scenario) => [
  ...s.evictions
    .filter((e) => (e.source ? e.sourceWas === 'working' || e.sourceWas === 'unknown' : e.of === 'working'))
    .map(
      (e) =>
        `- ${s.run} ${e.at} s: ${e.process} (${e.peer}) evicted: ${e.reason}${e.source ? ` (its source was ${e.sourceProcess ?? '?'}, ${e.sourceWas})` : ''}`,
    ),
  ...s.stepsAfterRemoval.map(
    (x) =>
      `- ${s.run} ${x.at} s: ${x.process} (${x.peer}) printed step ${x.step} after the server had removed it`,
  ),
  ...s.stepsWhileNotMember.map(
    (x) => `- ${s.run} ${x.at} s: ${x.process} printed step ${x.step} while not a member`,
  ),
  ...s.giveUps
    .filter((g) => g.neighbourWas === 'working' || g.neighbourWas === 'unknown')
    .map(
      (g) =>
        `- ${s.run} ${g.at} s: ${g.process}${g.reporterWas === 'working' ? '' : ` (itself ${g.reporterWas} shortly before)`} gave up on ${g.neighbourWas} neighbour ${g.neighbourProcess ?? '?'} (${g.neighbour}) at step ${g.step}: ${g.reason}`,
    ),
  ...s.problems.map((p) => `- ${s.run}: ${p}`),
];
const notes = [...unexpected(withChurn), ...unexpected(baseline)];
const command = `npm run bench:churn -- --minutes ${minutes} --peers ${peers} --seed ${seed}`;
console.log(table);
if (notes.length > 0) console.log(notes.join('\n'));
console.log(`whole benchmark: ${elapsed(began)}`);

const md = `# Training under churn

\`${command}\` on ${new Date().toISOString().slice(0, 10)}.

${peers} \`npm run peer\` processes (\`--backend cpu --threads 1 --wait-for 2\`) train the tiny GPT
(vocabulary 512, batch 4) with DeMuon on a ring, through a signaling server on loopback with a
${HEARTBEAT_TIMEOUT_MS / 1000} s heartbeat timeout. Two start together, the others one at a time, each once the one before
trains: three or more joining in one epoch can leave a joiner waiting for ever for a state none of its
neighbours sends it, and the run with it. Once all of them have trained ${WARMUP_STEPS} steps, a ${minutes} min window
starts. With churn, every ${EVENT_GAP_S[0]}–${EVENT_GAP_S[1]} s (seeded draws) a working peer is either frozen (SIGSTOP;
half the freezes ${SHORT_FREEZE_S[0]}–${SHORT_FREEZE_S[1]} s, half ${LONG_FREEZE_S[0]}–${LONG_FREEZE_S[1]} s, then SIGCONT) or stopped with Ctrl-C, a new
process joining ${REPLACEMENT_DELAY_S[0]}–${REPLACEMENT_DELAY_S[1]} s later; an event is skipped when fewer than ${MIN_WORKING} other peers
would keep working. The baseline is a second run of the same set-up, as long, without churn. After the
window every peer still running is let back in, all train past one more evaluation (every ${EVAL_EVERY} steps)
and then leave with Ctrl-C.

- Working peer evicted: the server removed (seen by polling its members every ${MEMBER_POLL_MS} ms, or by the peer's
  \`evicted:\` line if earlier) a peer that was neither frozen (nor thawed less than ${THAW_GRACE_MS / 1000} s before) nor leaving.
  A late joiner whose source of parameters goes away before it has them prints \`evicted: no state from
  SOURCE\` and joins again; that counts by what had become of its source.
- Steps while not a member: step lines after a peer's \`evicted:\` line, before its next \`joined run\` line.
  Steps finished after removal: step lines a peer printed after the server had removed it (and had not
  been told to leave) but before its \`evicted:\` line, or with none following.
- A round that gave up is on a frozen/gone neighbour when that neighbour was frozen, leaving or already
  removed at some time in the ${GIVE_UP_LOOKBACK_MS / 1000} s before (the longest a round waits); else on a working one, counted
  apart when the peer giving up had itself thawed less than ${THAW_GRACE_MS / 1000} s before (its clock ran on, and its
  neighbours dropped their links to it, while it was stopped).
- Freezes removed in: the server removed the peer while it was frozen (or less than ${THAW_GRACE_MS / 1000} s after it thawed).
  Thaw → joined again: from SIGCONT of such a peer to its next \`joined run\` line, and to its first step
  line after that.
- Run steps per minute: the run's largest step at the end of the window minus at its start; peer steps:
  every step line of every peer in the window. The ratio is churn / baseline. Peers share ${cpus().length} cores,
  so fewer peers at work also means faster steps for each.
- Longest without a step: the longest stretch a member went without a step line (from its \`joined run\`
  line, so bootstrapping counts) while it was neither frozen nor leaving; 'to the end' when it never
  stepped again before the figures were taken.
- Crashed: ended before it was told to leave, or exited non-zero; did not leave: still running
  ${EXIT_MS / 1000} s after Ctrl-C (then killed).
- Final consensus: over the peers present at the end, at the evaluation step named: the mean of their
  disagreement with their neighbours and the spread of their validation losses.

${table}

${notes.length > 0 ? `Events the goals count against:\n\n${notes.join('\n')}\n` : 'No event the goals count against.\n'}
Machine: ${process.platform} ${process.arch}, Node ${process.version}, ${cpus().length} cores (shared with other work).
Raw figures (every action, eviction, give-up and rejoin, with times from the window's start): \`churn.json\`.
`;
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, 'churn.md'), md);
writeFileSync(
  join(args.out, 'churn.json'),
  `${JSON.stringify(
    {
      command,
      date: new Date().toISOString(),
      minutes,
      peers,
      seed,
      heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
      run: RUNS[0],
      churn: withChurn,
      baseline,
    },
    null,
    2,
  )}\n`,
);
process.exit(0);
