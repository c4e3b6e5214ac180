/**
 * The hostile benchmark's report: the clean-vs-hostile table and the attack table it prints, and
 * hostile.md and hostile.json, which add everything that crashed or misbehaved, the server's warnings by
 * kind and the honest peers' complaints.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, relative } from 'node:path';
import type { PhaseResult } from './hostile-measure';
import type { HostileMemberProcess } from './hostile-member-process';
import {
  ATTACK_CLASSES,
  began,
  cycle,
  evalEvery,
  MiB,
  minutes,
  peers,
  ROBUST_MIXING,
  SAMPLE_MS,
  WARMUP_STEPS,
} from './hostile-settings';
import type { TallyData } from './hostile-tally';

/** A failure of the server (it runs in this process) or of the bench's own callbacks. */
export interface Fault {
  at: string;
  phase: string;
  kind: string;
  message: string;
}

/** The server's warnings of one kind: how many, and the first of them. */
export interface ServerWarning {
  phase: string;
  count: number;
  sample: string;
}

export interface ReportInput {
  /** Both phases: clean, then hostile. */
  results: readonly [PhaseResult, PhaseResult];
  faults: readonly Fault[];
  serverWarnings: ReadonlyMap<string, ServerWarning>;
  member: HostileMemberProcess;
  /** What ended the run early, if anything did. */
  failure: Error | undefined;
  outDir: string;
}

/** A figure with `digits` decimals, or n/a when there is none. */
const f = (x: number | undefined | null, digits = 1) =>
  x === undefined || x === null || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits);

/** Prints the tables, writes hostile.md and hostile.json into `outDir`. */
export function writeReport({ results, faults, serverWarnings, member, failure, outDir }: ReportInput): void {
  const [clean, hostile] = results;
  const table = comparisonTable(clean, hostile, faults, member);
  const attackTable = attackTableOf(hostile);
  const notRun = ATTACK_CLASSES.filter((c) => !hostile.attacks[c]);
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
    ...member.exits.map(
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

  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'hostile.md'), md);
  writeFileSync(
    join(outDir, 'hostile.json'),
    `${JSON.stringify(
      {
        command,
        date: new Date().toISOString(),
        cores: cpus().length,
        settings: { minutes, peers, evalEvery, cycle, robustMixing: ROBUST_MIXING },
        phases: results,
        hostileMemberMaxRssMiB: MiB(member.maxRssKiB * 1024),
        hostileMemberExits: member.exits,
        faults,
        serverWarnings: [...serverWarnings.values()],
        failure: failure?.message ?? null,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`wrote ${relative(process.cwd(), join(outDir, 'hostile.md'))} and hostile.json`);
}

/** Clean against hostile: throughput, validation loss, the server's resources, what happened to the peers. */
function comparisonTable(
  clean: PhaseResult,
  hostile: PhaseResult,
  faults: readonly Fault[],
  member: HostileMemberProcess,
): string {
  const valAt = (r: PhaseResult, step: number) => r.valCurve.filter((c) => c.step <= step).at(-1);
  const matched = hostile.finalVal ? valAt(clean, hostile.finalVal.step) : undefined;
  const valDiff =
    hostile.finalVal && clean.finalVal ? hostile.finalVal.mean - clean.finalVal.mean : Number.NaN;
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
      `${f(member.maxRssKiB / 1024)} / ${f(hostile.byzantineRssMaxMiB)}`,
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
  return ['| | clean | hostile |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Per attack class of the hostile phase: its slots, seconds, what it sent and the most frequent answers. */
function attackTableOf(hostile: PhaseResult): string {
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
  return [
    '| attack class | slots | seconds | sent | answers (most frequent first) |',
    '|---|---|---|---|---|',
    ...attackRows,
  ].join('\n');
}
