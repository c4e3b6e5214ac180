/**
 * Trains a GPT on the Brown corpus on this machine alone, with AdamW: the centralized reference run that
 * the decentralized runs are compared against.
 *
 *   npm run train -- --preset small --steps 2000 [--batch 16 --lr 1e-3 --eval-every 100 --runtime node|web]
 */
import { parseArgs } from 'node:util';
import { BatchSampler, fixedBatches } from '@demuon/shared/data';
import { GPT_PRESETS, type GptPreset, gptConfig, initGptParams, parameterCount } from '@demuon/shared/model';
import { AdamW } from '@demuon/shared/optim';
import { SingleBar } from 'cli-progress';
import { OrtGradientEngine, type OrtModule } from '../engine/ort-engine';
import { nonNegativeInt, oneOf, positiveInt, positiveNumber } from './cli-args';
import { prepareBrownData } from './corpus';

const USAGE = `usage: npm run train -- [--preset tiny|small|paper] [--steps N] [--batch N] [--lr X]
       [--weight-decay X] [--vocab N] [--seed N] [--eval-every N] [--eval-batches N] [--runtime node|web]`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      preset: { type: 'string', default: 'small' },
      steps: { type: 'string', default: '1000' },
      batch: { type: 'string', default: '16' },
      lr: { type: 'string', default: '1e-3' },
      'weight-decay': { type: 'string', default: '0.1' },
      vocab: { type: 'string' },
      seed: { type: 'string', default: '0' },
      'eval-every': { type: 'string', default: '100' },
      'eval-batches': { type: 'string', default: '8' },
      runtime: { type: 'string', default: 'node' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const preset = oneOf('--preset', values.preset, Object.keys(GPT_PRESETS) as GptPreset[]);
  const steps = positiveInt('--steps', values.steps);
  const batchSize = positiveInt('--batch', values.batch);
  const lr = positiveNumber('--lr', values.lr);
  const weightDecay = Number(values['weight-decay']);
  if (!(weightDecay >= 0)) throw new Error(`--weight-decay must be ≥ 0, got '${values['weight-decay']}'`);
  const seed = nonNegativeInt('--seed', values.seed);
  const evalEvery = positiveInt('--eval-every', values['eval-every']);
  const evalBatches = positiveInt('--eval-batches', values['eval-batches']);
  const runtime = oneOf('--runtime', values.runtime, ['node', 'web'] as const);
  const vocabSize = values.vocab ? positiveInt('--vocab', values.vocab) : GPT_PRESETS[preset].vocabSize;

  const data = await prepareBrownData({ vocabSize, log: (line) => console.log(line) });
  const config = gptConfig(preset, { vocabSize: data.tokenizer.vocabSize });
  const ort = (
    runtime === 'node' ? await import('onnxruntime-node') : await import('onnxruntime-web')
  ) as OrtModule;
  const engine = await OrtGradientEngine.create(ort, config, { batchSize });
  console.log(
    `training the ${preset} GPT (${(parameterCount(config) / 1e6).toFixed(2)}M parameters) on ${data.train.length} Brown documents with onnxruntime-${runtime}, ${steps} steps of ${batchSize}×${config.context} tokens`,
  );

  const sampler = new BatchSampler(data.train, { batchSize, context: config.context, seed });
  const validation = fixedBatches(data.val, {
    batchSize,
    context: config.context,
    count: evalBatches,
    seed: seed + 1,
  });
  const params = initGptParams(config, seed);
  const optimizer = new AdamW(
    params,
    engine.params.map((p) => p.kind !== 'vector'),
    { lr, weightDecay },
  );
  const validationLoss = async () => {
    let sum = 0;
    for (const batch of validation) sum += await engine.loss(params, batch);
    return sum / validation.length;
  };

  let stopping = false;
  process.once('SIGINT', () => {
    stopping = true;
  });
  const bar = new SingleBar({
    format: 'step {value}/{total} [{bar}] loss {loss} | val {val} | {rate} tok/s | eta {eta_formatted}',
    hideCursor: true,
  });
  bar.start(steps, 0, { loss: '-', val: (await validationLoss()).toFixed(3), rate: '-' });
  const started = performance.now();
  let step = 0;
  for (; step < steps && !stopping; step++) {
    optimizer.lr = lr * learningRateFactor(step, steps);
    const { loss, grads } = await engine.lossAndGrads(params, sampler.next());
    optimizer.step(grads);
    const rate = Math.round(
      ((step + 1) * batchSize * config.context) / ((performance.now() - started) / 1000),
    );
    const update: Record<string, string> = { loss: loss.toFixed(3), rate: String(rate) };
    if ((step + 1) % evalEvery === 0 || step + 1 === steps) update.val = (await validationLoss()).toFixed(3);
    bar.update(step + 1, update);
  }
  bar.stop();
  const final = await validationLoss();
  console.log(
    `${stopping ? 'stopped' : 'done'} after ${step} steps in ${((performance.now() - started) / 1000).toFixed(1)} s: validation loss ${final.toFixed(3)} (perplexity ${Math.exp(final).toFixed(1)})`,
  );
  await engine.dispose();
}

/** Linear warm-up over the first 5% of steps, then cosine decay to a tenth. */
function learningRateFactor(step: number, total: number): number {
  const warmup = Math.max(1, Math.floor(total * 0.05));
  if (step < warmup) return (step + 1) / warmup;
  const progress = (step - warmup) / Math.max(1, total - warmup);
  return 0.1 + 0.45 * (1 + Math.cos(Math.PI * progress));
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  console.error(USAGE);
  process.exit(1);
});
