/**
 * The CPU backend with Newton–Schulz on onnxruntime, any flavour: onnxruntime-node's BLAS on devices and
 * servers, onnxruntime-web's wasm (SIMD, threaded where the page allows it) in tabs without WebGPU. Both run
 * the matrix products far faster than the reference loops in JavaScript, which dominate a CPU step
 * otherwise. Same-shape matrices of one call go through one batched session run.
 */
import { buildNewtonSchulzGraph } from '@demuon/shared/optim';
import { CpuBackend, type CpuTensor, type NewtonSchulzOptions } from '@demuon/shared/tensor';
import type { InferenceSession } from 'onnxruntime-common';
import type { OrtModule } from './ort-engine';

export interface OrtNewtonSchulzOptions {
  /** The backend's name, saying which flavour runs Newton–Schulz (e.g. `cpu+onnxruntime-node`). */
  readonly name: string;
  /** Options of every Newton–Schulz session (execution providers, threads). */
  readonly sessionOptions?: InferenceSession.SessionOptions;
}

export class OrtNewtonSchulzCpuBackend extends CpuBackend {
  override readonly name: string;
  private readonly sessions = new Map<string, Promise<InferenceSession>>();
  private readonly sessionOptions: InferenceSession.SessionOptions;

  constructor(
    private readonly ort: OrtModule,
    options: OrtNewtonSchulzOptions,
  ) {
    super();
    this.name = options.name;
    this.sessionOptions = options.sessionOptions ?? {};
  }

  override async msgn(
    ins: readonly CpuTensor[],
    outs: readonly CpuTensor[],
    options: NewtonSchulzOptions,
  ): Promise<void> {
    if (ins.length !== outs.length) throw new Error('msgn: as many outputs as inputs are needed');
    const groups = new Map<string, number[]>();
    for (const [i, t] of ins.entries()) {
      if (t.shape.length !== 2) throw new Error(`msgn: needs 2-D tensors, got shape [${t.shape}]`);
      const key = t.shape.join('x');
      groups.set(key, [...(groups.get(key) ?? []), i]);
    }
    for (const members of groups.values()) {
      const [rows, cols] = ins[members[0]].shape;
      const size = rows * cols;
      const session = await this.session({ rows, cols, batch: members.length, ...options });
      const stacked = new Float32Array(size * members.length);
      for (const [k, i] of members.entries()) stacked.set(ins[i].data, k * size);
      const input = new this.ort.Tensor('float32', stacked, [members.length, rows, cols]);
      const out = await session.run({ G: input });
      const result = out.X.data as Float32Array;
      for (const [k, i] of members.entries()) outs[i].data.set(result.subarray(k * size, (k + 1) * size));
    }
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }

  private session(spec: { rows: number; cols: number; batch: number } & NewtonSchulzOptions) {
    const key = `${spec.rows}x${spec.cols}x${spec.batch}:${spec.schedule}:${spec.steps ?? 5}`;
    let session = this.sessions.get(key);
    if (!session) {
      session = this.ort.InferenceSession.create(buildNewtonSchulzGraph(spec).bytes, this.sessionOptions);
      this.sessions.set(key, session);
    }
    return session;
  }
}
