/**
 * The Newton–Schulz ONNX graph on onnxruntime-node against CpuBackend's msgn of the same schedule, per
 * matrix of a batch, for square, wide, tall and odd shapes and both schedules.
 */
import { buildNewtonSchulzGraph } from '@demuon/shared/optim';
import { CpuBackend, type NewtonSchulzOptions } from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, randomData } from '../../helpers/backend-suite';

// Same reasoning as the GPU tolerance (tests/helpers/backend-suite.ts): MLAS's float32 products against
// the reference's float64 dot products, amplified at most ~1000× by five iterations.
const TOLERANCE = 1e-4;

async function compare(rows: number, cols: number, batch: number, options: NewtonSchulzOptions) {
  const rng = new Rng(rows * 1000 + cols);
  const data = randomData(rng, batch * rows * cols);
  const graph = buildNewtonSchulzGraph({ rows, cols, batch, ...options });
  const session = await ort.InferenceSession.create(graph.bytes);
  const result = await session.run({ [graph.input]: new ort.Tensor('float32', data, [batch, rows, cols]) });
  const out = result[graph.output];
  expect(out.dims).toEqual([batch, rows, cols]);
  const got = out.data as Float32Array;
  await session.release();

  const cpu = new CpuBackend();
  const size = rows * cols;
  const ins = Array.from({ length: batch }, (_, b) =>
    cpu.tensor([rows, cols], data.subarray(b * size, (b + 1) * size)),
  );
  await cpu.msgn(ins, ins, options);
  for (const [b, t] of ins.entries()) {
    expect(maxAbsDiff(got.subarray(b * size, (b + 1) * size), t.data), `matrix ${b}`).toBeLessThan(TOLERANCE);
  }
}

describe('buildNewtonSchulzGraph on onnxruntime-node', () => {
  for (const schedule of ['ns5', 'polar5'] as const) {
    it(`${schedule}: square, wide, tall and odd shapes, batched`, async () => {
      await compare(32, 32, 1, { schedule });
      await compare(24, 80, 2, { schedule });
      await compare(80, 24, 2, { schedule });
      await compare(33, 50, 3, { schedule });
      await compare(1, 9, 1, { schedule });
    });
  }

  it('honours the number of steps', async () => {
    await compare(16, 40, 2, { schedule: 'ns5', steps: 2 });
    await compare(40, 16, 1, { schedule: 'polar5', steps: 3 });
  });

  it('uses only MatMul, Transpose and elementwise ops, and rejects bad shapes', () => {
    const { bytes } = buildNewtonSchulzGraph({ rows: 8, cols: 4, batch: 2, schedule: 'polar5' });
    const ops = new Set(onnxProto.onnx.ModelProto.decode(bytes).graph?.node?.map((n) => n.opType));
    const allowed = ['MatMul', 'Transpose', 'Mul', 'Add', 'ReduceSum', 'Sqrt', 'Div', 'Identity'];
    expect([...ops].filter((op) => !allowed.includes(op ?? ''))).toEqual([]);
    expect(() => buildNewtonSchulzGraph({ rows: 0, cols: 4, batch: 1, schedule: 'ns5' })).toThrow(/rows/);
    expect(() => buildNewtonSchulzGraph({ rows: 2, cols: 4, batch: 1.5, schedule: 'ns5' })).toThrow(/batch/);
    expect(() =>
      buildNewtonSchulzGraph({ rows: 2, cols: 4, batch: 1, schedule: 'polar5', steps: 6 }),
    ).toThrow(/5 steps/);
  });
});
