/**
 * Newton–Schulz on onnxruntime-web's wasm on two threads, as cross-origin-isolated tabs run it: the same
 * backend suite as on one thread (ort-newton-schulz-backend.test.ts), msgn against the CPU reference. Its
 * own file, because onnxruntime-web takes its thread count once, when it loads.
 */
import * as ort from 'onnxruntime-web';
import { afterAll, expect, it } from 'vitest';
import type { OrtModule } from '../../../client/src/engine/ort-engine';
import { OrtNewtonSchulzCpuBackend } from '../../../client/src/engine/ort-newton-schulz-backend';
import { registerBackendSuite } from '../../helpers/backend-suite';

ort.env.wasm.numThreads = 2;
const backend = new OrtNewtonSchulzCpuBackend(ort as unknown as OrtModule, {
  name: 'cpu+onnxruntime-web (wasm, 2 threads)',
});
afterAll(() => backend.dispose());

registerBackendSuite('cpu with Newton–Schulz on onnxruntime-web (wasm, 2 threads)', () => backend, {
  msgnTolerance: 1e-4,
});

it('onnxruntime-web kept its two threads (it falls back to one where threads are unsupported)', () => {
  expect(ort.env.wasm.numThreads).toBe(2);
});
