/**
 * The CPU backend with Newton–Schulz on onnxruntime, on both flavours that run in Node: onnxruntime-node
 * (what devices use) and onnxruntime-web on wasm (what tabs without WebGPU use). The whole backend suite
 * runs on each, msgn against the CPU reference of the same schedule.
 */
import { afterAll } from 'vitest';
import { OrtNewtonSchulzCpuBackend } from '../../../client/src/engine/ort-newton-schulz-backend';
import { registerBackendSuite } from '../../helpers/backend-suite';
import { RUNTIMES } from '../../helpers/runtimes';

for (const runtime of RUNTIMES) {
  // One backend per flavour: its sessions, one per shape and schedule, are made once.
  const backend = new OrtNewtonSchulzCpuBackend(runtime.ort, { name: `cpu+${runtime.name}` });
  afterAll(() => backend.dispose());
  // Same tolerance as the WGSL kernels: float32 products against the reference's float64 dot products.
  registerBackendSuite(`cpu with Newton–Schulz on ${runtime.name}`, () => backend, { msgnTolerance: 1e-4 });
}
