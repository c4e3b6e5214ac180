/**
 * How fast gossip averages: ρ = ‖W − 11ᵀ/N‖₂, the largest singular value of W − J. Each round shrinks the
 * disagreement ‖X − X̄‖ by at least ρ, so the spectral gap 1 − ρ sets the consensus rate. W need not be
 * symmetric (directed exponential graphs are not), hence singular values rather than eigenvalues.
 */
import type { MixingMatrix } from './matrix';
import { periodProduct, type Topology } from './topology';

/** ρ = ‖W − 11ᵀ/N‖₂. 0 for the complete graph, 1 when W does not connect the nodes. */
export function spectralRadius(w: MixingMatrix): number {
  const { n } = w;
  const deviation = new Float64Array(n * n);
  for (let k = 0; k < n * n; k++) deviation[k] = w.weights[k] - 1 / n;
  return singularValues(deviation, n)[0];
}

/** 1 − ρ. */
export function spectralGap(w: MixingMatrix): number {
  return 1 - spectralRadius(w);
}

/**
 * ρ of the product of one period's matrices, W_{p−1} ··· W_0. For a time-varying graph the single steps
 * may not mix at all (ρ = 1) while the period does: 0 for the one-peer exponential graph on 2^k nodes.
 * periodRadius^(1/period) is the rate per step, comparable with a static graph's ρ.
 */
export function periodSpectralRadius(topology: Topology): number {
  return spectralRadius(periodProduct(topology));
}

/**
 * Singular values of the n×n row-major matrix `a`, largest first, by one-sided Jacobi (Hestenes): rotate
 * pairs of rows until all are orthogonal, then the row norms are the singular values. It never forms
 * AᵀA, so small singular values keep full float64 accuracy. O(n³) per sweep, a handful of sweeps:
 * well under a second for n = 256.
 */
export function singularValues(a: Float64Array, n: number): number[] {
  if (a.length !== n * n) throw new Error(`singularValues: expected ${n * n} entries, got ${a.length}`);
  const rows = Float64Array.from(a);
  const tolerance = Math.max(n, 4) * Number.EPSILON;
  for (let sweep = 0; sweep < 64; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let k = 0; k < n; k++) {
          const x = rows[p * n + k];
          const y = rows[q * n + k];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (Math.abs(gamma) <= tolerance * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        // The rotation that makes rows p and q orthogonal: t = tan θ, the root of t² + 2ζt − 1 = 0 nearer 0.
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let k = 0; k < n; k++) {
          const x = rows[p * n + k];
          const y = rows[q * n + k];
          rows[p * n + k] = c * x - s * y;
          rows[q * n + k] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const values: number[] = [];
  for (let p = 0; p < n; p++) {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += rows[p * n + k] ** 2;
    values.push(Math.sqrt(sum));
  }
  return values.sort((x, y) => y - x);
}
