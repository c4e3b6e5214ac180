/**
 * The CPU backend for Node with Newton–Schulz on onnxruntime-node: its BLAS runs the matrix products
 * far faster than the reference loops, which is what makes simulating eight nodes practical.
 * Same-shape matrices of one call go through one batched session run.
 */
import { buildNewtonSchulzGraph } from '@demuon/shared/optim';
import { CpuBackend, type CpuTensor, type NewtonSchulzOptions } from '@demuon/shared/tensor';
import * as ort from 'onnxruntime-node';

export class OrtNewtonSchulzBackend extends CpuBackend {
  override readonly name = 'cpu+onnxruntime-node';
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  /** `sessionOptions` go to every Newton–Schulz session (e.g. one thread when peers share the cores). */
  constructor(private readonly sessionOptions: ort.InferenceSession.SessionOptions = {}) {
    super();
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
      const out = await session.run({ G: new ort.Tensor('float32', stacked, [members.length, rows, cols]) });
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
      session = ort.InferenceSession.create(buildNewtonSchulzGraph(spec).bytes, this.sessionOptions);
      this.sessions.set(key, session);
    }
    return session;
  }
}

export async function fastCpuBackend(): Promise<OrtNewtonSchulzBackend> {
  return new OrtNewtonSchulzBackend();
}
