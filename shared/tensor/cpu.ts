/**
 * The reference TensorBackend on Float32Array: plain loops, float32 storage, sums accumulated in
 * float64. Every other backend is tested against it.
 */
import {
  type AdamWStep,
  type NewtonSchulzOptions,
  NS_SCHEDULES,
  newtonSchulzTriples,
  type Tensor,
  type TensorBackend,
} from './backend';

export interface CpuTensor extends Tensor {
  readonly data: Float32Array;
}

export class CpuBackend implements TensorBackend<CpuTensor> {
  readonly name: string = 'cpu';

  tensor(shape: readonly number[], data?: Float32Array): CpuTensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data && data.length !== size) {
      throw new Error(`tensor of shape [${shape}] needs ${size} values, got ${data.length}`);
    }
    return { shape: [...shape], size, data: data ? data.slice() : new Float32Array(size) };
  }

  write(t: CpuTensor, data: Float32Array): void {
    if (data.length !== t.size) throw new Error(`write: tensor holds ${t.size} values, got ${data.length}`);
    t.data.set(data);
  }

  async read(t: CpuTensor): Promise<Float32Array> {
    return t.data.slice();
  }

  release(_t: CpuTensor): void {}

  combine(out: CpuTensor, terms: ReadonlyArray<readonly [number, CpuTensor]>): void {
    for (const [, t] of terms) {
      if (t.size !== out.size) throw new Error(`combine: sizes differ (${t.size} vs ${out.size})`);
    }
    const o = out.data;
    const n = out.size;
    const c = terms.map(([k]) => k);
    const d = terms.map(([, t]) => t.data);
    // Unrolled for the common term counts: this is the optimizer's hot loop. Every term of an element is
    // read before the element is written, so `out` may be one of the terms.
    switch (terms.length) {
      case 0:
        o.fill(0);
        return;
      case 1:
        for (let i = 0; i < n; i++) o[i] = c[0] * d[0][i];
        return;
      case 2:
        for (let i = 0; i < n; i++) o[i] = c[0] * d[0][i] + c[1] * d[1][i];
        return;
      case 3:
        for (let i = 0; i < n; i++) o[i] = c[0] * d[0][i] + c[1] * d[1][i] + c[2] * d[2][i];
        return;
      default:
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let k = 0; k < d.length; k++) s += c[k] * d[k][i];
          o[i] = s;
        }
    }
  }

  async sumSquares(ts: readonly CpuTensor[]): Promise<number[]> {
    return ts.map((t) => {
      let s = 0;
      for (let i = 0; i < t.size; i++) s += t.data[i] * t.data[i];
      return s;
    });
  }

  async msgn(
    ins: readonly CpuTensor[],
    outs: readonly CpuTensor[],
    options: NewtonSchulzOptions,
  ): Promise<void> {
    if (ins.length !== outs.length) throw new Error('msgn: as many outputs as inputs are needed');
    for (const [i, g] of ins.entries()) {
      if (g.shape.length !== 2) throw new Error(`msgn: needs 2-D tensors, got shape [${g.shape}]`);
      if (outs[i].size !== g.size) throw new Error('msgn: output size differs from input size');
      outs[i].data.set(newtonSchulz(g.data, g.shape[0], g.shape[1], options));
    }
  }

  adamw(x: CpuTensor, m: CpuTensor, v: CpuTensor, g: CpuTensor, hp: AdamWStep): void {
    const c1 = 1 - hp.beta1 ** hp.step;
    const c2 = 1 - hp.beta2 ** hp.step;
    const shrink = 1 - hp.lr * hp.weightDecay;
    for (let i = 0; i < x.size; i++) {
      const gi = g.data[i];
      m.data[i] = hp.beta1 * m.data[i] + (1 - hp.beta1) * gi;
      v.data[i] = hp.beta2 * v.data[i] + (1 - hp.beta2) * gi * gi;
      x.data[i] = x.data[i] * shrink - (hp.lr * (m.data[i] / c1)) / (Math.sqrt(v.data[i] / c2) + hp.eps);
    }
  }
}

/** msgn(G) of a row-major rows×cols matrix by Newton–Schulz, on the smaller Gram side. */
export function newtonSchulz(
  g: Float32Array,
  rows: number,
  cols: number,
  options: NewtonSchulzOptions,
): Float32Array {
  const { s, eps } = NS_SCHEDULES[options.schedule];
  const wide = rows <= cols;
  const [r, c] = wide ? [rows, cols] : [cols, rows];
  let x = wide ? g.slice() : transpose(g, rows, cols);
  let norm = 0;
  for (let i = 0; i < x.length; i++) norm += x[i] * x[i];
  const inv = 1 / (Math.sqrt(norm) * s + eps);
  for (let i = 0; i < x.length; i++) x[i] *= inv;

  for (const [a, b, cc] of newtonSchulzTriples(options)) {
    const gram = multiplyTransposed(x, r, c); // A = X·Xᵀ, r×r, symmetric
    const gram2 = multiplySymmetric(gram, r); // A·A
    const poly = new Float32Array(r * r);
    for (let i = 0; i < poly.length; i++) poly[i] = b * gram[i] + cc * gram2[i];
    const next = new Float32Array(r * c); // a·X + B·X
    for (let i = 0; i < r; i++) {
      for (let j = 0; j < c; j++) {
        let acc = 0;
        for (let k = 0; k < r; k++) acc += poly[i * r + k] * x[k * c + j];
        next[i * c + j] = a * x[i * c + j] + acc;
      }
    }
    x = next;
  }
  return wide ? x : transpose(x, r, c);
}

function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(m.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = m[i * cols + j];
  return t;
}

/** X·Xᵀ for row-major X (r×c): one triangle computed, the other mirrored. */
function multiplyTransposed(x: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j <= i; j++) {
      let acc = 0;
      for (let k = 0; k < c; k++) acc += x[i * c + k] * x[j * c + k];
      out[i * r + j] = acc;
      out[j * r + i] = acc;
    }
  }
  return out;
}

/** A·A for a symmetric r×r A (rows of A are its columns, so both operands stream row-wise). */
function multiplySymmetric(a: Float32Array, r: number): Float32Array {
  return multiplyTransposed(a, r, r);
}
