/**
 * The peer loop a networked node runs, here with N loops on the in-memory network, against the lockstep
 * simulator driver: same batches, same algorithm, same parameters after every step.
 */
import { BatchSampler } from '@demuon/shared/data';
import { MemoryNetwork } from '@demuon/shared/gossip';
import { makeTopology } from '@demuon/shared/graph';
import { gptConfig, initGptParams } from '@demuon/shared/model';
import { algorithmConfig, createAlgorithm } from '@demuon/shared/optim';
import { Lockstep, PeerLoop } from '@demuon/shared/peer';
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { OrtGradientEngine, type OrtModule } from '../../client/src/engine/ort-engine';
import { prepareBrownData } from '../../client/src/node/corpus';
import { OrtNewtonSchulzBackend } from '../../client/src/node/fast-cpu-backend';

it('N peer loops on the in-memory network match the lockstep simulator exactly', async () => {
  const N = 3;
  const STEPS = 4;
  const data = await prepareBrownData({ vocabSize: 512 });
  const model = gptConfig('tiny', { vocabSize: data.tokenizer.vocabSize });
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, { batchSize: 2 });
  const x0 = initGptParams(model, 3);
  const config = algorithmConfig({ name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } });
  const topology = makeTopology('ring', N);
  const samplers = () =>
    Array.from(
      { length: N },
      (_, i) => new BatchSampler(data.train, { batchSize: 2, context: model.context, seed: i }),
    );

  const backend = new OrtNewtonSchulzBackend();
  const network = new MemoryNetwork(N);
  const loopSamplers = samplers();
  const loops = Array.from(
    { length: N },
    (_, i) =>
      new PeerLoop({
        engine,
        backend,
        algorithm: createAlgorithm(backend, engine.params, x0, config),
        mixer: network.mixer(backend, i, topology),
        batches: loopSamplers[i],
        validation: [],
        totalSteps: STEPS,
        evalEvery: 1000,
        now: () => performance.now(),
      }),
  );

  const lock = new Lockstep({ backend, params: engine.params, x0, nodes: N, schedule: topology, config });
  const lockSamplers = samplers();
  for (let k = 0; k < STEPS; k++) {
    const reports = await Promise.all(loops.map((l) => l.step(k)));
    const grads = [];
    for (const [i, params] of (await lock.allParams()).entries()) {
      grads.push((await engine.lossAndGrads(params, lockSamplers[i].next())).grads);
    }
    await lock.step(k, STEPS, grads);
    for (const [i, l] of loops.entries()) expect(await l.params()).toEqual(await lock.nodeParams(i));
    for (const r of reports) {
      expect(r.trainLoss).toBeGreaterThan(0);
      expect(r.timing.gradientMs).toBeGreaterThan(0);
      expect(r.timing.optimizerMs).toBeGreaterThanOrEqual(0);
      expect(r.timing.waitingMs).toBeGreaterThan(0);
    }
  }
  await engine.dispose();
  await backend.dispose();
});
