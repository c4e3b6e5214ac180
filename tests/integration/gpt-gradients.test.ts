/**
 * The whole `tiny` GPT train-step graph: gradients against central finite differences of the loss on
 * onnxruntime-node and onnxruntime-web (wasm), and the two flavours against each other.
 */
import { type GptConfig, gptConfig, initGptParams, type TokenBatch } from '@demuon/shared/model';
import { Rng } from '@demuon/shared/util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrtGradientEngine } from '../../client/src/engine/ort-engine';
import { randomData } from '../helpers/gradcheck';
import { RUNTIMES } from '../helpers/runtimes';

const config: GptConfig = gptConfig('tiny', { vocabSize: 61, context: 8 });
const BATCH = 2;

/** Parameters away from their initial symmetry (gains ≠ 1, biases ≠ 0) so that every gradient is exercised. */
function jitteredParams(seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return initGptParams(config, seed).map((p) => p.map((v) => v + 0.1 * rng.normal()));
}

function batch(seed: number): TokenBatch {
  const rng = new Rng(seed);
  const n = BATCH * config.context;
  return {
    tokens: Int32Array.from({ length: n }, () => rng.int(config.vocabSize)),
    targets: Int32Array.from({ length: n }, () => rng.int(config.vocabSize)),
  };
}

const params = jitteredParams(7);
const data = batch(11);
const gradsByRuntime: Float32Array[][] = [];

describe.each(RUNTIMES)('tiny GPT on $name', ({ ort }) => {
  let engine: OrtGradientEngine;
  beforeAll(async () => {
    engine = await OrtGradientEngine.create(ort, config, { batchSize: BATCH });
  });
  afterAll(() => engine.dispose());

  it('loss starts near ln(vocab) and eval agrees with the train step', async () => {
    const initial = initGptParams(config, 1);
    const { loss } = await engine.lossAndGrads(initial, data);
    expect(Math.abs(loss - Math.log(config.vocabSize))).toBeLessThan(0.1);
    expect(await engine.loss(initial, data)).toBeCloseTo(loss, 5);
  });

  it('every parameter gradient matches finite differences of the loss', async () => {
    const { grads } = await engine.lossAndGrads(params, data);
    gradsByRuntime.push(grads);
    const rng = new Rng(3);
    for (const [i, spec] of engine.params.entries()) {
      const u = randomData(rng, params[i].length);
      const along = (t: number) =>
        engine.loss(
          params.map((p, j) => (j === i ? p.map((v, k) => v + t * u[k]) : p)),
          data,
        );
      const central = async (h: number) => ((await along(h)) - (await along(-h))) / (2 * h);
      // Richardson extrapolation cancels the h² term of central differences: whole-tensor directions
      // move the loss far enough for curvature to show at float32-friendly step sizes.
      const h = 1e-2;
      const numeric = (4 * (await central(h / 2)) - (await central(h))) / 3;
      const analytic = grads[i].reduce((s, gk, k) => s + gk * u[k], 0);
      const error = Math.abs(numeric - analytic) / Math.max(1e-2, Math.abs(analytic));
      expect(error, `${spec.name}: analytic ${analytic} vs numeric ${numeric}`).toBeLessThan(2e-2);
    }
  });
});

describe('onnxruntime-node and onnxruntime-web', () => {
  it('compute the same gradients', () => {
    expect(gradsByRuntime).toHaveLength(2);
    const [a, b] = gradsByRuntime;
    for (let i = 0; i < a.length; i++) {
      // Some gradients are exactly zero in theory (key biases: softmax ignores a constant shift), so
      // their float noise is compared against a floor rather than against itself.
      const scale = Math.max(...a[i].map(Math.abs), 1e-3);
      const diff = Math.max(...a[i].map((v, k) => Math.abs(v - b[i][k])));
      expect(diff / scale).toBeLessThan(1e-4);
    }
  });
});
