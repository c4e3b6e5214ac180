/**
 * Command-line flags that shape a run from the default one (`npm start -- --preset tiny --topology exp`).
 * Each flag sets one RunConfig field; the result is validated by RunConfigSchema as a whole, and every
 * problem is reported under the flag that caused it. Without any of these flags no run is shaped: the
 * stored `default` run is kept as it is.
 */
import { parseShardScheme } from '@demuon/shared/data';
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import { DEFAULT_RUN_INPUT } from './run-configs';

export const ALGORITHMS = RunConfigSchema.shape.algorithm.options.map((o) => o.shape.name.value);

/** Which RunConfig path each flag sets (also where its problems are reported), its argument and help. */
export const RUN_FLAGS = {
  'run-id': { path: 'id', arg: 'ID', help: 'the run these flags shape (default "default")' },
  name: { path: 'name', arg: 'TEXT', help: 'its display name' },
  preset: { path: 'model.preset', arg: 'P', help: 'GPT size tiny|small|paper (default small)' },
  topology: { path: 'topology', arg: 'SPEC', help: 'ring, exp, torus:RxC, complete, … (default ring)' },
  algorithm: {
    path: 'algorithm.name',
    arg: 'NAME',
    help: `optimizer (default demuon):\n${wrap(ALGORITHMS)}`,
  },
  lr: { path: 'algorithm.lr.eta', arg: 'ETA', help: 'step size η > 0 (default 0.05)' },
  schedule: {
    path: 'algorithm.lr.schedule',
    arg: 'S',
    help: 'constant|linear|sqrt|inverse (default linear)',
  },
  steps: { path: 'steps', arg: 'N', help: 'training steps (default 2000)' },
  batch: { path: 'batch', arg: 'N', help: 'sequences per step and peer, at most 1024 (default 8)' },
  'eval-every': { path: 'evalEvery', arg: 'N', help: 'validation loss every N steps (default 50)' },
  encoding: { path: 'encoding', arg: 'E', help: 'gossip encoding fp32|bf16|fp16|int8 (default fp32)' },
  'max-peers': { path: 'maxPeers', arg: 'N', help: 'members at most, up to 1024 (default 64)' },
  data: { path: 'data', arg: 'SCHEME', help: 'shards iid|genre|dirichlet:ALPHA (default iid)' },
  seed: { path: 'seed', arg: 'N', help: 'seed of the data order and random graphs (default 0)' },
  'robust-mixing': {
    path: 'robustMixing.suspects',
    arg: 'N',
    help: "clip each neighbour's contribution (ClippedGossip), N = neighbours per round that may be bad",
  },
} as const;

export type RunFlag = keyof typeof RUN_FLAGS;
export type RunFlagValues = Partial<Record<RunFlag, string>>;

/** Numeric flags; the schema checks integrality and ranges, this only turns the text into a number. */
const NUMERIC = new Set<RunFlag>([
  'lr',
  'steps',
  'batch',
  'eval-every',
  'max-peers',
  'seed',
  'robust-mixing',
]);

export class RunFlagError extends Error {}

/** The run the flags describe, or undefined when none was given; a RunFlagError names the flag at fault. */
export function runFromFlags(values: RunFlagValues): RunConfig | undefined {
  const given = (Object.keys(RUN_FLAGS) as RunFlag[]).filter((flag) => values[flag] !== undefined);
  if (given.length === 0) return undefined;
  const input: Record<string, unknown> = structuredClone(DEFAULT_RUN_INPUT);
  for (const flag of given) setPath(input, RUN_FLAGS[flag].path, flagValue(flag, values[flag]!));
  if (values.name === undefined && (values.preset || values.topology || values.algorithm)) {
    // The default name describes the default run; a reshaped one gets a name that says what it is.
    input.name = `${values.preset ?? 'small'} GPT on the Brown corpus (${values.topology ?? 'ring'}, ${values.algorithm ?? 'demuon'})`;
  }
  const parsed = RunConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const flag = flagOf(issue.path.join('.'));
      return `${flag ? `--${flag}` : issue.path.join('.')}: ${issue.message}${flag ? ` (got "${values[flag]}")` : ''}`;
    });
    throw new RunFlagError(problems.join('; '));
  }
  return parsed.data;
}

/** Names five to a line, for the usage text. */
function wrap(names: readonly string[]): string {
  const lines = [];
  for (let i = 0; i < names.length; i += 5) lines.push(names.slice(i, i + 5).join('|'));
  return lines.join('|\n');
}

function flagValue(flag: RunFlag, text: string): unknown {
  if (flag === 'data') {
    try {
      parseShardScheme(text);
    } catch (error) {
      throw new RunFlagError(`--data: ${(error as Error).message}`);
    }
    return text.trim();
  }
  if (!NUMERIC.has(flag)) return text;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) {
    throw new RunFlagError(`--${flag} must be a number, got "${text}"`);
  }
  return value;
}

/** The flag whose path is the longest prefix of `path` (algorithm.lr.eta → --lr, algorithm.theta → none). */
function flagOf(path: string): RunFlag | undefined {
  let best: RunFlag | undefined;
  for (const [flag, { path: prefix }] of Object.entries(RUN_FLAGS) as [RunFlag, { path: string }][]) {
    if (path === prefix || path.startsWith(`${prefix}.`)) {
      if (!best || prefix.length > RUN_FLAGS[best].path.length) best = flag;
    }
  }
  return best;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    node[key] = { ...(node[key] as Record<string, unknown> | undefined) };
    node = node[key] as Record<string, unknown>;
  }
  node[keys[keys.length - 1]] = value;
}
