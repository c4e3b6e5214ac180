/**
 * The property-based fuzz tests at benchmark size: the socket protocol (every event), the HTTP surface and
 * the gossip frame decoder, each with FUZZ_RUNS cases per property (default 100 000), through vitest as in
 * CI. Prints how each fared and writes docs/bench/fuzz.{md,json}.
 *
 *   npm run bench:fuzz [-- --runs 100000]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { positiveInt } from '../../client/src/node/cli-args';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    out: { type: 'string', default: join(ROOT, 'docs/bench') },
  },
});
const runs = positiveInt('--runs', args.runs);

const SUITES = [
  {
    surface: 'socket protocol (every event, and unknown ones)',
    file: 'tests/integration/signaling-fuzz.test.ts',
  },
  {
    surface: 'HTTP (request targets, methods, headers, bodies)',
    file: 'tests/integration/signaling-http-hostile.test.ts',
  },
  { surface: 'gossip frames (decoder and reassembly)', file: 'tests/unit/gossip/frame-fuzz.test.ts' },
];

interface Row {
  readonly surface: string;
  readonly file: string;
  readonly passed: number;
  readonly failed: number;
  readonly seconds: number;
}

const rows: Row[] = [];
for (const { surface, file } of SUITES) {
  const report = join(tmpdir(), `fuzz-${process.pid}.json`);
  const started = performance.now();
  const result = spawnSync('npx', ['vitest', 'run', file, '--reporter=json', `--outputFile=${report}`], {
    cwd: ROOT,
    env: { ...process.env, FUZZ_RUNS: String(runs) },
    stdio: 'inherit',
  });
  const seconds = (performance.now() - started) / 1000;
  let passed = 0;
  let failed = 0;
  try {
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      numPassedTests: number;
      numFailedTests: number;
    };
    passed = json.numPassedTests;
    failed = json.numFailedTests;
  } catch {
    failed = 1;
  } finally {
    rmSync(report, { force: true });
  }
  if (result.status !== 0 && failed === 0) failed = 1;
  rows.push({ surface, file, passed, failed, seconds });
  console.log(`${surface}: ${passed} passed, ${failed} failed in ${seconds.toFixed(0)} s`);
}

const table = [
  '| surface | test file | tests passed | failed | wall s |',
  '|---|---|---|---|---|',
  ...rows.map(
    (r) => `| ${r.surface} | \`${r.file}\` | ${r.passed} | ${r.failed} | ${r.seconds.toFixed(0)} |`,
  ),
].join('\n');
const md = `# Fuzzing at benchmark size

\`npm run bench:fuzz -- --runs ${runs}\`: every property of each file runs ${runs} cases (CI runs each with its
default of 300 to 1000). A test passes when no case ended a process, every refused input got a code, and
state was unchanged by every refused input (see each file for its properties).

${table}
`;
console.log(`\n${table}`);
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, 'fuzz.md'), md);
writeFileSync(join(args.out, 'fuzz.json'), `${JSON.stringify({ runs, rows }, null, 2)}\n`);
process.exit(rows.some((r) => r.failed > 0) ? 1 : 0);
