/** Metrics as the DeMuon paper reports them, computed from every node's parameters. */
import { Rng } from '../util/random';

/** X̄: the elementwise mean of the nodes' copies of each tensor. */
export function averageParams(nodes: readonly (readonly Float32Array[])[]): Float32Array[] {
  return nodes[0].map((_, t) => {
    const mean = new Float32Array(nodes[0][t].length);
    for (let i = 0; i < mean.length; i++) {
      let s = 0;
      for (const node of nodes) s += node[t][i];
      mean[i] = s / nodes.length;
    }
    return mean;
  });
}

/**
 * sqrt(Σ_t e_t²), where e_t is the spectral norm of the stacked deviations [X_1 − X̄; …; X_N − X̄] for a
 * 2-D tensor and the L2 norm of the concatenated deviations otherwise.
 */
export function consensusError(
  shapes: readonly (readonly number[])[],
  nodes: readonly (readonly Float32Array[])[],
): number {
  const mean = averageParams(nodes);
  let total = 0;
  for (const [t, shape] of shapes.entries()) {
    const deviations = nodes.map((node) => node[t].map((v, i) => v - mean[t][i]));
    if (shape.length === 2) {
      const e = stackedSpectralNorm(deviations, shape[0], shape[1]);
      total += e * e;
    } else {
      for (const d of deviations) for (const v of d) total += v * v;
    }
  }
  return Math.sqrt(total);
}

/** Largest singular value of the (N·rows)×cols stack of row-major blocks, by power iteration on DᵀD. */
export function stackedSpectralNorm(
  blocks: readonly Float32Array[],
  rows: number,
  cols: number,
  iterations = 50,
): number {
  const rng = new Rng(12345);
  let v = Float64Array.from({ length: cols }, () => rng.normal());
  const start = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  v = v.map((x) => x / start);
  let sigma = 0;
  for (let it = 0; it < iterations; it++) {
    const next = new Float64Array(cols); // Dᵀ(D·v)
    for (const block of blocks) {
      for (let r = 0; r < rows; r++) {
        let dv = 0;
        for (let c = 0; c < cols; c++) dv += block[r * cols + c] * v[c];
        if (dv === 0) continue;
        for (let c = 0; c < cols; c++) next[c] += block[r * cols + c] * dv;
      }
    }
    const norm = Math.sqrt(next.reduce((s, x) => s + x * x, 0));
    if (norm === 0) return 0;
    const previous = sigma;
    sigma = Math.sqrt(norm); // ‖DᵀD v‖ → σ² as v converges to the top right singular vector (‖v‖ = 1)
    v = next.map((x) => x / norm);
    if (it > 5 && Math.abs(sigma - previous) <= 1e-7 * sigma) break;
  }
  return sigma;
}
