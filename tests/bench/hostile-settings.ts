/**
 * The hostile benchmark's settings: its command line, the attack cycle, the two phases' run configs, and
 * the clock its lines and reports are timed on.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { positiveInt, positiveNumber } from '../../client/src/node/cli-args';
import { MEMBER_CLASSES } from './hostile-tally';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
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
export const minutes = positiveNumber('--minutes', args.minutes);
export const peers = positiveInt('--peers', args.peers);
export const evalEvery = positiveInt('--eval-every', args['eval-every']);
if (peers < 2) throw new Error('--peers must be at least 2');
/** Where hostile.md and hostile.json go. */
export const outDir = args.out;
/** Where every peer process's lines go, when asked for. */
export const logsDir = args.logs;

export const ATTACK_CLASSES = [...MEMBER_CLASSES, 'byzantine-scale', 'byzantine-sign-flip'] as const;
export type AttackClass = (typeof ATTACK_CLASSES)[number];
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
/** The attack classes the hostile phase cycles through (`--only` keeps some). */
export const cycle = CYCLE.filter((c) => !only || only.includes(c.cls));

/** Every honest peer trains this many steps before a phase's window opens. */
export const WARMUP_STEPS = 3;
export const WARMUP_MS = 240_000;
/** How often the RSS of this process and of every peer process is sampled. */
export const SAMPLE_MS = 2000;
/** How long a peer has to leave after Ctrl-C before it is killed. */
export const EXIT_GRACE_MS = 20_000;
export const ROBUST_MIXING = { suspects: 1 };

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
export const PHASES = [
  { run: 'clean', hostile: false, config: runConfig('clean', false) },
  { run: 'hostile', hostile: true, config: runConfig('hostile', true) },
] as const;
export type PhaseSpec = (typeof PHASES)[number];

// ---- the clock every line and report is timed on ------------------------------------------------------

export const began = Date.now();
export const clock = () => `${((Date.now() - began) / 1000).toFixed(0).padStart(4)} s`;
export const say = (line: string) => console.log(`${clock()}  ${line}`);
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
export const MiB = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
