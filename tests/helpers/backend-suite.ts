/**
 * One test suite for every TensorBackend: registered on CpuBackend (unit) and on WebGpuBackend under
 * Node + Dawn + SwiftShader (integration). Elementwise ops are checked against formulas in float64, msgn
 * against the CPU reference `newtonSchulz` of the same schedule, and the CPU reference itself only loosely
 * against the exact polar factor U·Vᵀ from a Jacobi SVD (singular values inside the schedule's band).
 */
import {
  type NewtonSchulzOptions,
  type NewtonSchulzSchedule,
  newtonSchulz,
  type Tensor,
  type TensorBackend,
} from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import { describe, expect, it } from 'vitest';

export interface BackendSuiteOptions {
  /**
   * Largest |msgn − CPU reference| allowed per entry. Float32 products differ from the reference's
   * float64-accumulated dot products by ~1e-6 relative, and five iterations amplify error along small
   * singular directions by up to Π a_t (≈ 480 for ns5, ≈ 990 for polar5), so ~1e-4 bounds what rounding
   * alone can do on these small, well-scaled inputs; a wrong index or coefficient is off by ≥ 1e-2.
   */
  readonly msgnTolerance: number;
}

/**
 * Singular values of the result must land here: ALGORITHMS.md gives roughly [0.5, 1.5] for ns5; Polar
 * Express ends tighter (≈ [0.86, 1.14] seen on these inputs), so it gets [0.7, 1.3].
 */
const BANDS: Record<NewtonSchulzSchedule, readonly [number, number]> = {
  ns5: [0.5, 1.5],
  polar5: [0.7, 1.3],
};

/** Shapes for msgn: square, wide, tall, not multiples of any tile (16/32/64), a single row. */
const MSGN_SHAPES: readonly (readonly [number, number])[] = [
  [32, 32],
  [24, 80],
  [80, 24],
  [33, 50],
  [50, 33],
  [1, 7],
];

export function randomData(rng: Rng, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * scale);
}

/** Max |a − b| over entries. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** An rows×cols matrix whose singular values are all well away from 0 relative to its norm. */
function wellConditioned(rng: Rng, rows: number, cols: number): Float32Array {
  const g = randomData(rng, rows * cols, 0.3);
  // Random rectangular matrices are well conditioned already; a square one gets a dominant identity.
  if (rows === cols) for (let i = 0; i < rows; i++) g[i * cols + i] += 1;
  return g;
}

export function registerBackendSuite<T extends Tensor>(
  name: string,
  create: () => TensorBackend<T>,
  options: BackendSuiteOptions,
): void {
  describe(`TensorBackend: ${name}`, () => {
    const backend = () => create();

    describe('tensors', () => {
      it('reads back what was written, for sizes not divisible by 4, and zeros by default', async () => {
        const b = backend();
        const rng = new Rng(1);
        for (const shape of [[7], [3, 5], [2, 2, 2], [1]]) {
          const size = shape.reduce((x, y) => x * y, 1);
          const data = randomData(rng, size);
          const t = b.tensor(shape, data);
          expect(t.shape).toEqual(shape);
          expect(t.size).toBe(size);
          expect(await b.read(t)).toEqual(data);
          const next = randomData(rng, size);
          b.write(t, next);
          expect(await b.read(t)).toEqual(next);
          expect(await b.read(b.tensor(shape))).toEqual(new Float32Array(size));
          b.release(t);
        }
      });

      it('orders writes with earlier ops, and leaves the caller’s array alone', async () => {
        const b = backend();
        const data = Float32Array.from([1, 2, 3, 4, 5]);
        const t = b.tensor([5], data);
        data[0] = 100;
        b.combine(t, [[2, t]]);
        b.write(t, Float32Array.from([5, 4, 3, 2, 1]));
        b.combine(t, [[3, t]]);
        expect(Array.from(await b.read(t))).toEqual([15, 12, 9, 6, 3]);
      });

      it('rejects data of the wrong length', () => {
        const b = backend();
        expect(() => b.tensor([2, 3], new Float32Array(5))).toThrow(/needs 6 values/);
        expect(() => b.write(b.tensor([4]), new Float32Array(3))).toThrow(/holds 4 values/);
      });

      it('keeps other tensors intact when one is released', async () => {
        const b = backend();
        const keep = b.tensor([3], Float32Array.from([1, 2, 3]));
        const gone = b.tensor([3], Float32Array.from([4, 5, 6]));
        b.combine(keep, [
          [1, keep],
          [1, gone],
        ]);
        b.release(gone);
        expect(Array.from(await b.read(keep))).toEqual([5, 7, 9]);
      });
    });

    describe('combine', () => {
      const n = 1003;
      const expectSum = async (b: TensorBackend<T>, out: T, expected: Float64Array) => {
        const got = await b.read(out);
        // Float32 inputs, one rounding per term in float32 on the GPU vs one at the end on the CPU.
        for (let i = 0; i < n; i++)
          expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-5 * (1 + Math.abs(expected[i])));
      };
      const setup = (terms: number) => {
        const b = backend();
        const rng = new Rng(terms);
        const data = Array.from({ length: terms }, () => randomData(rng, n));
        return { b, rng, data, ts: data.map((d) => b.tensor([n], d)) };
      };
      const weighted = (coefs: number[], data: Float32Array[]) =>
        Float64Array.from({ length: n }, (_, i) => coefs.reduce((s, c, k) => s + c * data[k][i], 0));

      it('computes axpby and scaling into a separate output', async () => {
        const { b, data, ts } = setup(2);
        const out = b.tensor([n]);
        b.combine(out, [
          [0.5, ts[0]],
          [-2, ts[1]],
        ]);
        await expectSum(b, out, weighted([0.5, -2], data));
        b.combine(out, [[3, ts[1]]]);
        await expectSum(b, out, weighted([0, 3], data));
      });

      it('uses the old value of an output that is also a term, and repeated terms', async () => {
        const { b, data, ts } = setup(2);
        b.combine(ts[0], [
          [0.9, ts[0]],
          [0.1, ts[1]],
          [2, ts[1]],
          [-1, ts[0]],
        ]);
        await expectSum(b, ts[0], weighted([-0.1, 2.1], data));
      });

      it('sums many terms, with and without the output among them', async () => {
        const { b, data, ts } = setup(19);
        const coefs = Array.from({ length: 19 }, (_, k) => (k % 3) - 0.75 + k / 10);
        const out = b.tensor([n]);
        b.combine(
          out,
          coefs.map((c, k) => [c, ts[k]] as const),
        );
        await expectSum(b, out, weighted(coefs, data));
        // ts[13] as the output: its old value is needed after earlier terms are summed.
        b.combine(
          ts[13],
          coefs.map((c, k) => [c, ts[k]] as const),
        );
        await expectSum(b, ts[13], weighted(coefs, data));
      });

      it('writes zeros for no terms and rejects mismatched sizes', async () => {
        const { b, ts } = setup(1);
        b.combine(ts[0], []);
        expect(await b.read(ts[0])).toEqual(new Float32Array(n));
        expect(() => b.combine(ts[0], [[1, b.tensor([n + 1])]])).toThrow(/sizes differ/);
      });
    });

    it('sumSquares returns Σx² of many tensors of many sizes in one call', async () => {
      const b = backend();
      const rng = new Rng(7);
      const sizes = [1, 5, 1000, 70_001, 3];
      const data = sizes.map((s) => randomData(rng, s));
      const got = await b.sumSquares(data.map((d, i) => b.tensor([sizes[i]], d)));
      const want = data.map((d) => d.reduce((s, x) => s + x * x, 0));
      for (const [i, w] of want.entries()) expect(Math.abs(got[i] - w)).toBeLessThan(1e-5 * w);
      expect(await b.sumSquares([])).toEqual([]);
    });

    it('adamw matches the formula over several steps, with weight decay', async () => {
      const b = backend();
      const rng = new Rng(3);
      const n = 517;
      const x0 = randomData(rng, n);
      const [x, m, v] = [b.tensor([n], x0), b.tensor([n]), b.tensor([n])];
      const want = { x: Float64Array.from(x0), m: new Float64Array(n), v: new Float64Array(n) };
      const hp = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
      for (let step = 1; step <= 3; step++) {
        const grad = randomData(rng, n);
        b.adamw(x, m, v, b.tensor([n], grad), { ...hp, step });
        for (let i = 0; i < n; i++) {
          want.m[i] = hp.beta1 * want.m[i] + (1 - hp.beta1) * grad[i];
          want.v[i] = hp.beta2 * want.v[i] + (1 - hp.beta2) * grad[i] ** 2;
          const mHat = want.m[i] / (1 - hp.beta1 ** step);
          const vHat = want.v[i] / (1 - hp.beta2 ** step);
          want.x[i] = want.x[i] * (1 - hp.lr * hp.weightDecay) - (hp.lr * mHat) / (Math.sqrt(vHat) + hp.eps);
        }
      }
      expect(maxAbsDiff(await b.read(x), want.x)).toBeLessThan(1e-5);
      expect(maxAbsDiff(await b.read(m), want.m)).toBeLessThan(1e-5);
      expect(maxAbsDiff(await b.read(v), want.v)).toBeLessThan(1e-5);
    });

    describe('msgn', () => {
      const check = async (
        b: TensorBackend<T>,
        shapes: readonly (readonly [number, number])[],
        opts: NewtonSchulzOptions,
        seed: number,
      ) => {
        const rng = new Rng(seed);
        const data = shapes.map(([r, c]) => wellConditioned(rng, r, c));
        const ins = data.map((d, i) => b.tensor(shapes[i], d));
        const outs = ins.map((t) => b.tensor(t.shape));
        await b.msgn(ins, outs, opts);
        for (const [i, [r, c]] of shapes.entries()) {
          const got = await b.read(outs[i]);
          const want = newtonSchulz(data[i], r, c, opts);
          expect(maxAbsDiff(got, want), `${r}×${c}`).toBeLessThan(options.msgnTolerance);
          expect(await b.read(ins[i])).toEqual(data[i]);
        }
      };

      for (const schedule of ['ns5', 'polar5'] as const) {
        it(`${schedule}: square, wide, tall and odd shapes match the CPU reference`, async () => {
          await check(backend(), MSGN_SHAPES, { schedule }, 11);
        });

        it(`${schedule}: same-shape matrices in one call, mixed with others, in place`, async () => {
          const b = backend();
          const rng = new Rng(5);
          const shapes = [
            [20, 36],
            [36, 20],
            [20, 36],
            [8, 8],
            [20, 36],
          ] as const;
          const data = shapes.map(([r, c]) => wellConditioned(rng, r, c));
          const ts = data.map((d, i) => b.tensor(shapes[i], d));
          await b.msgn(ts, ts, { schedule });
          for (const [i, [r, c]] of shapes.entries()) {
            const want = newtonSchulz(data[i], r, c, { schedule });
            expect(maxAbsDiff(await b.read(ts[i]), want)).toBeLessThan(options.msgnTolerance);
          }
        });

        it(`${schedule}: singular values land in the band around the exact polar factor`, async () => {
          const b = backend();
          const rng = new Rng(9);
          for (const [r, c] of [
            [24, 80],
            [32, 32],
            [50, 33],
          ] as const) {
            const g = wellConditioned(rng, r, c);
            const t = b.tensor([r, c], g);
            await b.msgn([t], [t], { schedule });
            const x = await b.read(t);
            const { values } = svd(x, r, c);
            const [lo, hi] = BANDS[schedule];
            expect(Math.min(...values), `${r}×${c} smallest`).toBeGreaterThan(lo);
            expect(Math.max(...values), `${r}×${c} largest`).toBeLessThan(hi);
            // Same singular vectors as G: X is close in direction to G's polar factor U·Vᵀ.
            const polar = svd(g, r, c).polar;
            expect(cosine(x, polar)).toBeGreaterThan(0.97);
          }
        });
      }

      it('honours the number of steps', async () => {
        const b = backend();
        await check(b, [[16, 24]], { schedule: 'ns5', steps: 3 }, 2);
        await check(b, [[16, 24]], { schedule: 'polar5', steps: 2 }, 2);
        await check(b, [[16, 24]], { schedule: 'ns5', steps: 7 }, 2);
      });

      it('rejects tensors that are not matrices and mismatched outputs', async () => {
        const b = backend();
        await expect(b.msgn([b.tensor([4])], [b.tensor([4])], { schedule: 'ns5' })).rejects.toThrow(/2-D/);
        await expect(b.msgn([b.tensor([2, 2])], [], { schedule: 'ns5' })).rejects.toThrow(/as many outputs/);
      });
    });
  });
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/**
 * Singular values and polar factor U·Vᵀ of a row-major rows×cols matrix, by one-sided Jacobi in float64
 * (Hestenes): rotate column pairs of M (the taller orientation) until all are orthogonal; then the column
 * norms are the singular values, and M·V = U·Σ.
 */
export function svd(
  a: ArrayLike<number>,
  rows: number,
  cols: number,
): { values: number[]; polar: Float64Array } {
  const tall = rows >= cols;
  const [m, n] = tall ? [rows, cols] : [cols, rows];
  // u: column-major m×n copy of the tall orientation; v: n×n rotations, column-major.
  const u = new Float64Array(m * n);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) u[tall ? j * m + i : i * m + j] = a[i * cols + j];
  }
  const v = new Float64Array(n * n);
  for (let j = 0; j < n; j++) v[j * n + j] = 1;
  const rotate = (x: Float64Array, len: number, p: number, q: number, c: number, s: number) => {
    for (let k = 0; k < len; k++) {
      const xp = x[p * len + k];
      const xq = x[q * len + k];
      x[p * len + k] = c * xp - s * xq;
      x[q * len + k] = s * xp + c * xq;
    }
  };
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let k = 0; k < m; k++) {
          alpha += u[p * m + k] ** 2;
          beta += u[q * m + k] ** 2;
          gamma += u[p * m + k] * u[q * m + k];
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        rotate(u, m, p, q, c, c * t);
        rotate(v, n, p, q, c, c * t);
      }
    }
    if (!rotated) break;
  }
  const values: number[] = [];
  for (let j = 0; j < n; j++) {
    let norm = 0;
    for (let k = 0; k < m; k++) norm += u[j * m + k] ** 2;
    norm = Math.sqrt(norm);
    values.push(norm);
    for (let k = 0; k < m; k++) u[j * m + k] /= norm || 1;
  }
  // Polar factor of the tall orientation P = U·Vᵀ (m×n), written back in the input's orientation.
  const polar = new Float64Array(rows * cols);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += u[k * m + i] * v[k * n + j];
      polar[tall ? i * cols + j : j * cols + i] = s;
    }
  }
  return { values, polar };
}
