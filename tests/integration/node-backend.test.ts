/** Which optimizer backend a headless peer takes: `--backend auto|cpu|webgpu` on this machine. */
import { CpuBackend, type Tensor, type TensorBackend } from '@demuon/shared/tensor';
import { expect, it } from 'vitest';
import { WebGpuBackend } from '../../client/src/gpu/backend';
import { hasGpuDeviceNode } from '../../client/src/gpu/node-device';
import { OrtNewtonSchulzBackend } from '../../client/src/node/fast-cpu-backend';
import { createNodeBackend } from '../../client/src/node/node-backend';

it('cpu gives the CPU backend', async () => {
  const { backend, description } = await createNodeBackend('cpu');
  expect(backend).toBeInstanceOf(OrtNewtonSchulzBackend);
  expect(description).toContain('as asked');
  await backend.dispose();
});

it('auto takes WebGPU only on a hardware GPU', async () => {
  const { backend, description } = await createNodeBackend('auto');
  if (hasGpuDeviceNode()) {
    expect(description).toMatch(/WebGPU|software|no WebGPU adapter/);
  } else {
    expect(backend).toBeInstanceOf(OrtNewtonSchulzBackend);
    expect(description).toContain('no GPU');
  }
  await backend.dispose();
});

it('webgpu insists on WebGPU, on a software adapter if need be, and computes msgn', async () => {
  const { backend, description } = await createNodeBackend('webgpu');
  expect(backend).toBeInstanceOf(WebGpuBackend);
  expect(description).toMatch(/^WebGPU through Dawn on /);
  // The same Newton–Schulz as the CPU reference, to float round-off.
  const input = Float32Array.from({ length: 24 * 40 }, (_, i) => Math.sin(i * 0.7) + 0.1 * (i % 5));
  const msgn = async <T extends Tensor>(b: TensorBackend<T>) => {
    const out = b.tensor([24, 40]);
    await b.msgn([b.tensor([24, 40], input)], [out], { schedule: 'ns5', steps: 5 });
    return b.read(out);
  };
  const results = [await msgn(backend), await msgn(new CpuBackend())];
  const difference = Math.max(...results[0].map((v, i) => Math.abs(v - results[1][i])));
  expect(difference).toBeLessThan(1e-4);
  expect(Math.max(...results[1].map(Math.abs))).toBeGreaterThan(0.01);
  await backend.dispose();
}, 60_000);
