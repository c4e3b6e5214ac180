/**
 * Simulator CLI: one run from flags, or an experiment (a JSON file of runs, with step-size grids) that
 * writes JSONL logs, SVG plots per run, comparison plots and a results table.
 *
 *   npm run simulate -- --algo demuon --topology ring --nodes 8 --steps 1000 --data iid --preset small
 *   npm run simulate -- --quick
 *   npm run simulate -- --quick --export models/quick      # also writes the model of X̄ as a folder
 *   npm run simulate -- --experiment docs/experiments/paper-iid.json
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAttack } from '@demuon/shared/gossip';
import { ALGORITHM_NAMES } from '@demuon/shared/optim';
import { SingleBar } from 'cli-progress';
import { nonNegativeInt, oneOf, positiveInt, positiveNumber } from './cli-args';
import { runExperiment } from './experiment';
import { checkModelDirFree } from './model-dir';
import { writeRunReport } from './sim-report';
import { QUICK_SIMULATION, runSimulation, type SimulationResult, simulationConfig } from './simulation';
import { exportSimulationModel } from './simulation-export';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const USAGE = `usage: npm run simulate -- [--quick] [--algo ${ALGORITHM_NAMES.join('|')}] [--topology SPEC]
  [--nodes N] [--steps N] [--data iid|genre|dirichlet:ALPHA] [--preset tiny|small|paper] [--batch N]
  [--lr ETA] [--schedule constant|linear|sqrt|inverse] [--theta X] [--beta X] [--tau X]
  [--routing demuon|muon] [--ns ns5|polar5] [--ns-steps N] [--scale none|muon|moonlight]
  [--backbone ed|d2|extra|atc-gt|atc-dsgd] [--direction track-then-polarize|polarize-then-track|gradient]
  [--vocab N] [--seed N] [--eval-every N] [--eval-batches N] [--encoding fp32|bf16|fp16|int8] [--out DIR]
  [--export DIR (a new folder: the model of the averaged parameters, for npm run generate / evaluate)]
  [--robust [--suspects N] [--drop-beyond X]] [--byzantine NODE:scale:FACTOR|NODE:sign-flip ...]
  or: npm run simulate -- --experiment FILE.json [--out DIR] [--report-only]`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      experiment: { type: 'string' },
      'report-only': { type: 'boolean' },
      algo: { type: 'string', default: 'demuon' },
      topology: { type: 'string' },
      nodes: { type: 'string' },
      steps: { type: 'string' },
      data: { type: 'string' },
      preset: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string', default: '0.02' },
      schedule: { type: 'string', default: 'linear' },
      theta: { type: 'string' },
      beta: { type: 'string' },
      tau: { type: 'string' },
      routing: { type: 'string' },
      ns: { type: 'string' },
      'ns-steps': { type: 'string' },
      scale: { type: 'string' },
      backbone: { type: 'string' },
      direction: { type: 'string' },
      vocab: { type: 'string' },
      seed: { type: 'string' },
      'eval-every': { type: 'string' },
      'eval-batches': { type: 'string' },
      encoding: { type: 'string' },
      robust: { type: 'boolean' },
      suspects: { type: 'string' },
      'drop-beyond': { type: 'string' },
      byzantine: { type: 'string', multiple: true },
      out: { type: 'string' },
      export: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(USAGE);

  if (values.experiment && values.export !== undefined)
    throw new Error('--export writes the model of one run; an experiment has many');
  // Before training: a run of hours should not end in a folder it may not write.
  if (values.export !== undefined) checkModelDirFree(values.export);
  if (values.experiment) {
    const file = resolve(values.experiment);
    const spec = JSON.parse(readFileSync(file, 'utf8'));
    const out = values.out ?? join(dirname(file), basename(file, '.json'));
    await runExperiment(spec, out, { log: (line) => console.log(line), reportOnly: values['report-only'] });
    return;
  }

  const algorithm: Record<string, unknown> = {
    name: oneOf('--algo', values.algo, ALGORITHM_NAMES),
    lr: { eta: positiveNumber('--lr', values.lr), schedule: values.schedule },
  };
  const numeric = { theta: values.theta, beta: values.beta, tau: values.tau };
  for (const [key, value] of Object.entries(numeric))
    if (value !== undefined) algorithm[key] = positiveNumber(`--${key}`, value);
  for (const key of ['routing', 'scale', 'backbone', 'direction'] as const)
    if (values[key]) algorithm[key] = values[key];
  if (values.ns || values['ns-steps']) {
    algorithm.ns = {
      schedule: values.ns ?? 'ns5',
      ...(values['ns-steps'] ? { steps: positiveInt('--ns-steps', values['ns-steps']) } : {}),
    };
  }
  const base = values.quick ? { ...QUICK_SIMULATION } : { steps: 1000 };
  const flags: Record<string, unknown> = {
    ...(values.quick ? {} : { algorithm }),
    ...(values.topology ? { topology: values.topology } : {}),
    ...(values.nodes ? { nodes: positiveInt('--nodes', values.nodes) } : {}),
    ...(values.steps ? { steps: positiveInt('--steps', values.steps) } : {}),
    ...(values.data ? { data: values.data } : {}),
    ...(values.preset ? { preset: values.preset } : {}),
    ...(values.batch ? { batch: positiveInt('--batch', values.batch) } : {}),
    ...(values.vocab ? { vocab: positiveInt('--vocab', values.vocab) } : {}),
    ...(values.seed ? { seed: nonNegativeInt('--seed', values.seed) } : {}),
    ...(values['eval-every'] ? { evalEvery: positiveInt('--eval-every', values['eval-every']) } : {}),
    ...(values['eval-batches'] ? { evalBatches: positiveInt('--eval-batches', values['eval-batches']) } : {}),
    ...(values.encoding ? { encoding: values.encoding } : {}),
    ...(values.robust || values.suspects || values['drop-beyond']
      ? {
          robustMixing: {
            ...(values.suspects ? { suspects: positiveInt('--suspects', values.suspects) } : {}),
            ...(values['drop-beyond']
              ? { dropBeyond: positiveNumber('--drop-beyond', values['drop-beyond']) }
              : {}),
          },
        }
      : {}),
    ...(values.byzantine ? { byzantine: values.byzantine.map(byzantineNode) } : {}),
  };
  const config = simulationConfig({ ...base, ...flags });
  const label = `${config.algorithm.name}-${config.topology}-${config.nodes}n-${config.data}`.replace(
    /[^\w.-]+/g,
    '_',
  );
  const out = values.out ?? join(ROOT, 'runs', label);

  let stopping = false;
  process.once('SIGINT', () => {
    stopping = true;
  });
  const bar = new SingleBar({
    format:
      'step {value}/{total} [{bar}] train {train} | val {val} | consensus {consensus} | eta {eta_formatted}',
  });
  bar.start(config.steps, 0, { train: '-', val: '-', consensus: '-' });
  const result: SimulationResult = await runSimulation(config, {
    log: (line) => console.log(line),
    onStep: (step, loss) => bar.update(step, { train: loss.toFixed(3) }),
    onEval: (r) =>
      bar.update(r.step, { val: r.valLoss.toFixed(3), consensus: r.consensusError.toExponential(2) }),
    shouldStop: () => stopping,
    keepAverage: values.export !== undefined,
  });
  bar.stop();
  for (const r of result.records) {
    console.log(
      `step ${r.step}: val ${r.valLoss.toFixed(4)} (X̄ ${r.valLossOfAverage.toFixed(4)}; nodes ${r.valLossPerNode.map((v) => v.toFixed(3)).join(' ')}) train ${r.trainLoss.toFixed(4)} consensus ${r.consensusError.toExponential(3)} sent ${(r.bytesPerNode / 1e6).toFixed(2)} MB/node ${r.wallSeconds.toFixed(1)} s`,
    );
  }
  writeRunReport(result, out, label);
  if (result.restarts > 0)
    console.log(`${result.restarts} node state(s) turned non-finite and were restored`);
  if (result.clipped.some((c) => c > 0))
    console.log(`clipped contributions per node: ${result.clipped.join(' ')}`);
  console.log(`${result.diverged ? 'diverged; ' : ''}wrote ${out}/${label}.jsonl and .svg`);
  if (values.export !== undefined) {
    const card = exportSimulationModel(values.export, result, label);
    console.log(
      `wrote the model of X̄ at step ${card.step} (validation loss ${card.validation.loss.toFixed(4)}) to ${resolve(values.export)}`,
    );
  }
}

/** `--byzantine 3:sign-flip`: node 3 gossips corrupted values. */
function byzantineNode(flag: string): { node: number; attack: ReturnType<typeof parseAttack> } {
  const colon = flag.indexOf(':');
  if (colon < 0) throw new Error(`--byzantine ${flag}: use NODE:ATTACK, e.g. 0:scale:1e30 or 0:sign-flip`);
  return {
    node: nonNegativeInt('--byzantine', flag.slice(0, colon)),
    attack: parseAttack(flag.slice(colon + 1)),
  };
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  console.error(USAGE);
  process.exit(1);
});
