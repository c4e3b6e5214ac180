/**
 * The signaling server's command line: run-shaping flags become a validated run config, and every bad
 * value is reported under the flag that carries it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunConfig } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import { parseCli, USAGE, UsageError } from '../../signaling-server/src/cli';
import { DEFAULT_RUN } from '../../signaling-server/src/run-configs';
import { RUN_FLAGS } from '../../signaling-server/src/run-flags';

const runsOf = (argv: string[]) => {
  const options = parseCli(argv, {});
  if (options === 'help') throw new Error('unexpected help');
  // parseCli validates what it returns; the server option is typed loosely because the server validates too.
  return (options.runs ?? []) as RunConfig[];
};

describe('run-shaping flags', () => {
  it('shape nothing when absent: the stored default run is kept as it is', () => {
    expect(runsOf([])).toEqual([]);
    expect(runsOf(['--port', '0', '--host', '0.0.0.0'])).toEqual([]);
  });

  it('shape the default run, keeping its other values', () => {
    const [run] = runsOf([
      '--preset',
      'tiny',
      '--topology',
      'torus:2x3',
      '--algorithm',
      'gt-nsgdm',
      '--lr',
      '1e-3',
      '--schedule',
      'sqrt',
      '--steps',
      '300',
      '--batch',
      '16',
      '--eval-every',
      '25',
      '--encoding',
      'bf16',
      '--max-peers',
      '6',
      '--data',
      'dirichlet:0.3',
      '--seed',
      '7',
    ]);
    expect(run).toMatchObject({
      id: 'default',
      name: 'tiny GPT on the Brown corpus (torus:2x3, gt-nsgdm)',
      model: { preset: 'tiny' },
      topology: { kind: 'torus', rows: 2, cols: 3 },
      algorithm: { name: 'gt-nsgdm', lr: { eta: 0.001, schedule: 'sqrt' }, beta: 0.8 },
      steps: 300,
      batch: 16,
      evalEvery: 25,
      encoding: 'bf16',
      maxPeers: 6,
      data: 'dirichlet:0.3',
      seed: 7,
    });
    expect(run.evalBatches).toBe(DEFAULT_RUN.evalBatches);
  });

  it('keep the default name unless preset, topology or algorithm change, and shape another run with --run-id', () => {
    expect(runsOf(['--lr', '0.1'])[0]).toMatchObject({
      name: DEFAULT_RUN.name,
      algorithm: { name: 'demuon' },
    });
    expect(runsOf(['--run-id', 'night', '--name', 'Night run', '--steps', '50'])[0]).toMatchObject({
      id: 'night',
      name: 'Night run',
      steps: 50,
      topology: { kind: 'ring' },
    });
  });

  it('report every bad value under its flag', () => {
    const cases: [string[], string | RegExp][] = [
      [['--steps', '0'], '--steps: Too small: expected number to be >0 (got "0")'],
      [['--steps', '2.5'], /--steps: .*expected int.*\(got "2\.5"\)/],
      [['--steps', 'many'], '--steps must be a number, got "many"'],
      [['--lr=-1'], /--lr: Too small.*\(got "-1"\)/],
      [['--lr', '-1'], /'--lr' argument is ambiguous[\s\S]*'--lr=-XYZ'/],
      [['--lr', ''], '--lr must be a number, got ""'],
      [['--preset', 'huge'], /--preset: .*"tiny"\|"small"\|"paper" \(got "huge"\)/],
      [['--topology', 'moebius'], /--topology: unknown topology "moebius"/],
      [['--algorithm', 'adam'], /--algorithm: .*'demuon' \| 'dsgd'.*\(got "adam"\)/],
      [['--schedule', 'cosine'], /--schedule: .*"constant"\|"linear"/],
      [['--encoding', 'fp8'], /--encoding: .*"fp32"\|"bf16"\|"fp16"\|"int8" \(got "fp8"\)/],
      [['--max-peers', '5000'], /--max-peers: Too big: .*1024/],
      [['--batch', '0'], /--batch: Too small/],
      [['--eval-every=-3'], /--eval-every: Too small/],
      [['--seed=-1'], /--seed: Too small/],
      [['--data', 'dirichlet:0'], /--data: .*Dirichlet alpha must be a positive number/],
      [['--data', 'by-author'], /--data: unknown shard scheme "by-author"/],
      [['--run-id', 'a b'], /--run-id: use letters, digits, _ and - only \(got "a b"\)/],
      [['--steps', '0', '--encoding', 'fp8'], /--steps: .*; --encoding: /],
      [['--steps'], /--steps/],
    ];
    for (const [argv, message] of cases) {
      expect(() => parseCli(argv, {}), argv.join(' ')).toThrow(UsageError);
      expect(() => parseCli(argv, {}), argv.join(' ')).toThrow(message);
    }
  });

  it('refuse shaping a run that the config file also defines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'signaling-cli-'));
    try {
      const file = join(dir, 'runs.json');
      writeFileSync(file, JSON.stringify([{ id: 'default', algorithm: { name: 'dsgd', lr: { eta: 0.1 } } }]));
      expect(() => parseCli(['--config', file, '--steps', '10'], {})).toThrow(
        /--run-id: run "default" is also in .*runs\.json/,
      );
      expect(runsOf(['--config', file, '--run-id', 'other', '--steps', '10']).map((r) => r.id)).toEqual([
        'default',
        'other',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are all in the usage text', () => {
    for (const flag of [...Object.keys(RUN_FLAGS), 'port', 'host', 'data-dir', 'config', 'heartbeat-ms']) {
      expect(USAGE).toContain(`--${flag} `);
    }
    expect(parseCli(['--help'], {})).toBe('help');
  });
});
