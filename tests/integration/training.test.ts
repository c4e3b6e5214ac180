/**
 * Proof that the compiled graphs train: AdamW on one node lowers the tiny GPT's validation loss on the
 * Brown corpus well below ln(vocab), the loss of a uniform guess.
 */
import { BatchSampler, fixedBatches } from '@demuon/shared/data';
import { gptConfig, initGptParams } from '@demuon/shared/model';
import { AdamW } from '@demuon/shared/optim';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { OrtGradientEngine, type OrtModule } from '../../client/src/engine/ort-engine';
import { prepareBrownData } from '../../client/src/node/corpus';

const STEPS = 300;
const BATCH = 16;

it('AdamW lowers the tiny GPT validation loss on Brown well below ln(vocab)', async () => {
  const started = performance.now();
  const data = await prepareBrownData({ vocabSize: 512 });
  const config = gptConfig('tiny', { vocabSize: data.tokenizer.vocabSize });
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, config, { batchSize: BATCH });
  const sampler = new BatchSampler(data.train, { batchSize: BATCH, context: config.context, seed: 1 });
  const validation = fixedBatches(data.val, { batchSize: BATCH, context: config.context, count: 8, seed: 2 });
  const validationLoss = async () => {
    let sum = 0;
    for (const batch of validation) sum += await engine.loss(params, batch);
    return sum / validation.length;
  };

  const params = initGptParams(config, 0);
  const decays = engine.params.map((p) => p.kind !== 'vector');
  const optimizer = new AdamW(params, decays, { lr: 3e-3, weightDecay: 0.01 });
  const before = await validationLoss();
  for (let step = 0; step < STEPS; step++) {
    const { grads } = await engine.lossAndGrads(params, sampler.next());
    optimizer.step(grads);
  }
  const after = await validationLoss();
  await engine.dispose();

  const seconds = (performance.now() - started) / 1000;
  console.log(
    `tiny GPT, ${STEPS} AdamW steps of ${BATCH}×${config.context} tokens: validation loss ${before.toFixed(3)} → ${after.toFixed(3)} (ln V = ${Math.log(config.vocabSize).toFixed(3)}) in ${seconds.toFixed(1)} s`,
  );
  expect(Math.abs(before - Math.log(config.vocabSize))).toBeLessThan(0.1);
  expect(after).toBeLessThan(Math.log(config.vocabSize) - 1.5);
}, 60_000);
