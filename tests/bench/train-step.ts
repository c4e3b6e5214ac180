/**
 * Train-step benchmark: for each model preset and each onnxruntime flavour that runs in Node, the time of
 * one train step (loss + all gradients) and of the eval graph (forward only) on the same batch, measured
 * interleaved so that machine noise hits both alike. Prints a table and writes docs/bench/train-step.{md,json}.
 *
 *   npm run bench:step [-- --presets tiny,small,paper --batch 8 --repeats 10]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type GptPreset,
  gptConfig,
  initGptParams,
  parameterCount,
  type TokenBatch,
} from '@demuon/shared/model';
import { Rng } from '@demuon/shared/util';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { OrtGradientEngine, type OrtModule } from '../../client/src/engine/ort-engine';
import { positiveInt } from '../../client/src/node/cli-args';

const { values: args } = parseArgs({
  options: {
    presets: { type: 'string', default: 'tiny,small,paper' },
    batch: { type: 'string', default: '8' },
    repeats: { type: 'string', default: '10' },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
  },
});
const presets = args.presets.split(',') as GptPreset[];
const batchSize = positiveInt('--batch', args.batch);
const repeats = positiveInt('--repeats', args.repeats);

ortWeb.env.wasm.numThreads = 1;
const runtimes: { name: string; ort: OrtModule }[] = [
  { name: 'onnxruntime-node (CPU)', ort: ortNode as unknown as OrtModule },
  { name: 'onnxruntime-web (wasm, 1 thread)', ort: ortWeb as unknown as OrtModule },
];

interface Row {
  preset: string;
  params: number;
  runtime: string;
  tokensPerStep: number;
  trainMs: number;
  evalMs: number;
  tokensPerSecond: number;
  backwardShare: number;
  trainOverEval: number;
}

const rows: Row[] = [];
for (const preset of presets) {
  const config = gptConfig(preset);
  const params = initGptParams(config, 0);
  const rng = new Rng(1);
  const n = batchSize * config.context;
  const batch: TokenBatch = {
    tokens: Int32Array.from({ length: n }, () => rng.int(config.vocabSize)),
    targets: Int32Array.from({ length: n }, () => rng.int(config.vocabSize)),
  };
  for (const { name, ort } of runtimes) {
    const engine = await OrtGradientEngine.create(ort, config, { batchSize });
    for (let i = 0; i < 2; i++) {
      await engine.lossAndGrads(params, batch); // warm-up: first runs allocate and plan
      await engine.loss(params, batch);
    }
    const train: number[] = [];
    const evaluate: number[] = [];
    for (let i = 0; i < repeats; i++) {
      let t = performance.now();
      await engine.lossAndGrads(params, batch);
      train.push(performance.now() - t);
      t = performance.now();
      await engine.loss(params, batch);
      evaluate.push(performance.now() - t);
    }
    await engine.dispose();
    const trainMs = median(train);
    const evalMs = median(evaluate);
    rows.push({
      preset,
      params: parameterCount(config),
      runtime: name,
      tokensPerStep: n,
      trainMs,
      evalMs,
      tokensPerSecond: (n / trainMs) * 1000,
      backwardShare: (trainMs - evalMs) / trainMs,
      trainOverEval: trainMs / evalMs,
    });
    const r = rows[rows.length - 1];
    console.log(
      `${preset.padEnd(6)} ${name.padEnd(32)} train ${r.trainMs.toFixed(1).padStart(7)} ms  eval ${r.evalMs.toFixed(1).padStart(7)} ms  ${Math.round(r.tokensPerSecond).toString().padStart(7)} tok/s  backward ${(100 * r.backwardShare).toFixed(0)}%  train/eval ${r.trainOverEval.toFixed(2)}`,
    );
  }
}

const table = [
  '| preset | params | runtime | tokens/step | train step (ms) | eval (ms) | tokens/s | backward share | train/eval |',
  '|---|---:|---|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.preset} | ${(r.params / 1e6).toFixed(2)}M | ${r.runtime} | ${r.tokensPerStep} | ${r.trainMs.toFixed(1)} | ${r.evalMs.toFixed(1)} | ${Math.round(r.tokensPerSecond)} | ${(100 * r.backwardShare).toFixed(0)}% | ${r.trainOverEval.toFixed(2)} |`,
  ),
].join('\n');
mkdirSync(args.out, { recursive: true });
writeFileSync(
  join(args.out, 'train-step.json'),
  `${JSON.stringify({ batchSize, repeats, rows }, null, 2)}\n`,
);
writeFileSync(join(args.out, 'train-step.md'), `${table}\n`);
console.log(`\n${table}\n\nwritten to ${args.out}/train-step.{md,json}`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
