/**
 * The CPU backend for Node with Newton–Schulz on onnxruntime-node: its BLAS runs the matrix products
 * far faster than the reference loops, which is what makes simulating eight nodes practical.
 */
import type { InferenceSession } from 'onnxruntime-node';
import * as ort from 'onnxruntime-node';
import type { OrtModule } from '../engine/ort-engine';
import { OrtNewtonSchulzCpuBackend } from '../engine/ort-newton-schulz-backend';

export class OrtNewtonSchulzBackend extends OrtNewtonSchulzCpuBackend {
  /** `sessionOptions` go to every Newton–Schulz session (e.g. one thread when peers share the cores). */
  constructor(sessionOptions: InferenceSession.SessionOptions = {}) {
    super(ort as unknown as OrtModule, { name: 'cpu+onnxruntime-node', sessionOptions });
  }
}

export async function fastCpuBackend(): Promise<OrtNewtonSchulzBackend> {
  return new OrtNewtonSchulzBackend();
}
