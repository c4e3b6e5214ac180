/**
 * A heterogeneous matrix least-squares problem for optimizer tests: node i holds
 * f_i(X) = ‖A_i·X − B_i‖²_F / (2m) with its own A_i and its own target X_i*, so the nodes' minimizers
 * differ and only the average f = mean_i f_i has the common solution. Gradients can carry heavy-tailed
 * (Student-t) noise.
 */
import { Rng } from '@demuon/shared/util';

export interface LeastSquares {
  readonly nodes: number;
  readonly rows: number; // d: X is d×r
  readonly cols: number;
  /** ∇f_i(X) plus noise drawn from `rng` (none when noiseScale is 0). */
  gradient(node: number, x: Float32Array, rng: Rng, noiseScale: number, dof: number): Float32Array;
  /** ∇f_i(X) in float64, without noise. */
  localGradient(node: number, x: ArrayLike<number>): Float64Array;
  /** ‖∇f(X)‖_F of the average loss. */
  fullGradientNorm(x: Float32Array): number;
  loss(x: Float32Array): number;
}

export function studentT(rng: Rng, dof: number): number {
  const chi2 = 2 * rng.gamma(dof / 2);
  return rng.normal() / Math.sqrt(chi2 / dof);
}

export function leastSquares({
  nodes,
  d = 8,
  r = 4,
  m = 16,
  seed = 1,
  spread = 1,
}: {
  nodes: number;
  d?: number;
  r?: number;
  m?: number;
  seed?: number;
  spread?: number;
}): LeastSquares {
  const rng = new Rng(seed);
  const common = Array.from({ length: d * r }, () => rng.normal());
  const A = Array.from({ length: nodes }, () => Float64Array.from({ length: m * d }, () => rng.normal()));
  const B = A.map((a) => {
    const target = common.map((c) => c + spread * rng.normal());
    return matmul(a, Float64Array.from(target), m, d, r);
  });
  const localGradient = (i: number, x: ArrayLike<number>) => {
    const residual = matmul(A[i], x, m, d, r).map((v, k) => v - B[i][k]);
    const g = new Float64Array(d * r); // A_iᵀ·residual / m
    for (let row = 0; row < m; row++) {
      for (let k = 0; k < d; k++) {
        const a = A[i][row * d + k] / m;
        for (let c = 0; c < r; c++) g[k * r + c] += a * residual[row * r + c];
      }
    }
    return g;
  };
  const fullGradient = (x: ArrayLike<number>) => {
    const g = new Float64Array(d * r);
    for (let i = 0; i < nodes; i++) {
      for (const [k, v] of localGradient(i, x).entries()) g[k] += v / nodes;
    }
    return g;
  };
  return {
    nodes,
    rows: d,
    cols: r,
    localGradient,
    gradient: (i, x, noise, scale, dof) =>
      Float32Array.from(localGradient(i, x), (v) => v + (scale > 0 ? scale * studentT(noise, dof) : 0)),
    fullGradientNorm: (x) => Math.sqrt(fullGradient(x).reduce((s, v) => s + v * v, 0)),
    loss: (x) => {
      let total = 0;
      for (let i = 0; i < nodes; i++) {
        const p = matmul(A[i], x, m, d, r);
        for (let k = 0; k < p.length; k++) total += (p[k] - B[i][k]) ** 2 / (2 * m * nodes);
      }
      return total;
    },
  };
}

function matmul(a: ArrayLike<number>, b: ArrayLike<number>, n: number, k: number, m: number): Float64Array {
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const v = a[i * k + j];
      for (let c = 0; c < m; c++) out[i * m + c] += v * b[j * m + c];
    }
  }
  return out;
}
