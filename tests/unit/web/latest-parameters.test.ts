import type { TokenBatch } from '@demuon/shared/model';
import { CpuBackend, type Tensor } from '@demuon/shared/tensor';
import { describe, expect, it } from 'vitest';
import { LatestParameters, type TabGradientEngine } from '../../../client/src/web/latest-parameters';

/** An engine that only records what it is given. */
function fakeEngine() {
  const calls: string[] = [];
  const engine: TabGradientEngine = {
    params: [{ name: 'w', shape: [2] }] as unknown as TabGradientEngine['params'],
    batchSize: 1,
    context: 4,
    lossAndGrads: async () => {
      calls.push('lossAndGrads');
      return { loss: 1, grads: [new Float32Array(2)] };
    },
    loss: async () => {
      calls.push('loss');
      return 2;
    },
    lossAndGradsInto: async () => {
      calls.push('lossAndGradsInto');
      return 3;
    },
    lossOn: async () => {
      calls.push('lossOn');
      return 4;
    },
    dispose: async () => {
      calls.push('dispose');
    },
  };
  return { engine, calls };
}

const batch = {} as TokenBatch;

describe('the latest parameters of a tab', () => {
  it('has none before the first step, then copies of those the last step started from', async () => {
    const { engine, calls } = fakeEngine();
    const latest = new LatestParameters(engine, new CpuBackend() as never);
    expect(await latest.snapshot()).toBeUndefined();
    latest.activity({ kind: 'training', step: 12 });
    const params = [Float32Array.of(1, 2)];
    expect(await latest.engine.lossAndGrads(params, batch)).toEqual({
      loss: 1,
      grads: [new Float32Array(2)],
    });
    expect(await latest.engine.loss(params, batch)).toBe(2);
    const taken = (await latest.snapshot())!;
    expect(taken.step).toBe(12);
    expect(taken.values).toEqual([Float32Array.of(1, 2)]);
    // A copy: neither side reaches the other.
    taken.values[0][0] = 99;
    expect(params[0][0]).toBe(1);
    latest.stepped(13);
    await latest.engine.lossAndGrads([Float32Array.of(3, 4)], batch);
    expect(await latest.snapshot()).toEqual({ step: 13, values: [Float32Array.of(3, 4)] });
    expect(calls).toEqual(['lossAndGrads', 'loss', 'lossAndGrads']);
    expect(latest.engine.context).toBe(4);
  });

  it('reads the optimizer’s own tensors on resident training, until its membership ends', async () => {
    const { engine } = fakeEngine();
    const backend = new CpuBackend();
    const latest = new LatestParameters(engine, backend as never);
    const tensors = [backend.tensor([2], Float32Array.of(5, 6))] as Tensor[];
    latest.stepped(4);
    expect(await latest.engine.lossAndGradsInto(tensors, batch, [])).toBe(3);
    backend.write(tensors[0] as never, Float32Array.of(7, 8));
    // Read when asked: the values the optimizer holds now.
    expect(await latest.snapshot()).toEqual({ step: 4, values: [Float32Array.of(7, 8)] });
    // Evicted: the tensors are released, nothing is read from them.
    latest.activity({ kind: 'rejoining', reason: 'frozen' });
    expect(await latest.snapshot()).toBeUndefined();
    // A membership that ended hands over its final parameters.
    await latest.engine.lossAndGradsInto(tensors, batch, []);
    latest.stepped(5);
    latest.finished([Float32Array.of(9, 10)]);
    expect(await latest.snapshot()).toEqual({ step: 5, values: [Float32Array.of(9, 10)] });
  });
});
