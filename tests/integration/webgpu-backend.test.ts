/**
 * The shared backend suite on WebGpuBackend in Node: Dawn (the `webgpu` package) on SwiftShader, the
 * software Vulkan driver of Debian's chromium package (see client/src/gpu/node-device.ts). Without an
 * adapter the file is skipped with the reason, except in CI, where that is a failure. Shapes stay small:
 * SwiftShader runs these kernels at a fraction of a GFLOP/s.
 */
import { newtonSchulz } from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import { afterAll, describe, expect, it } from 'vitest';
import { WebGpuBackend, type WebGpuBackendOptions } from '../../client/src/gpu';
import { requestNodeGpuDevice } from '../../client/src/gpu/node-device';
import { maxAbsDiff, randomData, registerBackendSuite } from '../helpers/backend-suite';

const MSGN_TOLERANCE = 1e-4; // why: see BackendSuiteOptions.msgnTolerance

const gpu = await requestNodeGpuDevice().catch((error: Error) => {
  if (process.env.CI) throw new Error(`CI needs a WebGPU adapter in Node: ${error.message}`);
  console.warn(`Skipping the WebGPU backend tests: ${error.message}`);
  return null;
});

if (!gpu) {
  describe.skip('TensorBackend: webgpu (no WebGPU adapter in Node; see the warning above)', () => {
    it('needs an adapter', () => {});
  });
} else {
  const { device, adapterInfo } = gpu;
  const backends: WebGpuBackend[] = [];
  const make = (options: WebGpuBackendOptions = {}) => {
    const b = new WebGpuBackend(device, { checkErrors: true, ...options });
    backends.push(b);
    return b;
  };
  // One backend for the suite, so each kernel variant compiles once.
  const shared = make();
  afterAll(() => {
    for (const b of backends) b.dispose();
    device.destroy();
  });

  registerBackendSuite(`webgpu (${adapterInfo.vendor} ${adapterInfo.architecture})`, () => shared, {
    msgnTolerance: MSGN_TOLERANCE,
  });

  describe('WebGpuBackend specifics', () => {
    it('runs msgn with every tile size on shapes that are not multiples of it', async () => {
      const rng = new Rng(21);
      const shapes = [
        [45, 70],
        [70, 45],
        [100, 130],
      ] as const;
      for (const tile of [16, 32, 64]) {
        const b = make({ newtonSchulz: { tile } });
        const data = shapes.map(([r, c]) => randomData(rng, r * c));
        const ts = data.map((d, i) => b.tensor(shapes[i], d));
        await b.msgn(ts, ts, { schedule: 'polar5' });
        for (const [i, [r, c]] of shapes.entries()) {
          const want = newtonSchulz(data[i], r, c, { schedule: 'polar5' });
          expect(maxAbsDiff(await b.read(ts[i]), want), `tile ${tile}, ${r}×${c}`).toBeLessThan(
            MSGN_TOLERANCE,
          );
        }
      }
    });

    it('batches same-shape matrices, and transposed ones, into one group per padded shape', () => {
      const plan = shared.planNewtonSchulz([
        [20, 36],
        [36, 20],
        [20, 36],
        [256, 1024],
        [768, 3072],
        [3072, 768],
      ]);
      expect(plan).toEqual([
        { tile: 16, rows: 32, cols: 48, batch: 3 },
        { tile: 64, rows: 256, cols: 1024, batch: 1 },
        { tile: 64, rows: 768, cols: 3072, batch: 2 },
      ]);
    });

    it('compiles each kernel once and reuses it', async () => {
      const b = make();
      const t = b.tensor([24, 40], randomData(new Rng(1), 960));
      await b.msgn([t], [t], { schedule: 'ns5' });
      b.combine(t, [
        [0.5, t],
        [1, t],
      ]);
      await b.sumSquares([t]);
      const compiled = b.pipelineCount;
      await b.msgn([t], [t], { schedule: 'polar5' });
      b.combine(t, [
        [2, t],
        [-1, t],
      ]);
      await b.sumSquares([t, t]);
      expect(b.pipelineCount).toBe(compiled);
    });

    it('splits elementwise ops into binding windows when a tensor exceeds one binding', async () => {
      const b = make({ maxBindingBytes: device.limits.minStorageBufferOffsetAlignment * 2 });
      const rng = new Rng(4);
      const n = 1003; // ≈ 4 KB: several windows of 512 B or so
      const [x, y] = [randomData(rng, n), randomData(rng, n)];
      const [tx, ty] = [b.tensor([n], x), b.tensor([n], y)];
      b.combine(tx, [
        [2, tx],
        [-3, ty],
      ]);
      const want = x.map((v, i) => 2 * v - 3 * y[i]);
      expect(maxAbsDiff(await b.read(tx), want)).toBeLessThan(1e-5);
      const [sum] = await b.sumSquares([tx]);
      expect(Math.abs(sum - want.reduce((s, v) => s + v * v, 0))).toBeLessThan(1e-3);
      const [m, v] = [b.tensor([n]), b.tensor([n])];
      b.adamw(tx, m, v, ty, { lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0, step: 1 });
      // First step: m̂ = g and v̂ = g², so x moves by lr·sign(g).
      const moved = want.map((w, i) => w - 0.1 * Math.sign(y[i]));
      expect(maxAbsDiff(await b.read(tx), moved)).toBeLessThan(1e-5);
    });

    it('rejects aliased adamw state', () => {
      const t = shared.tensor([4]);
      expect(() => shared.adamw(t, t, shared.tensor([4]), shared.tensor([4]), {} as never)).toThrow(
        /four different/,
      );
    });
  });
}
