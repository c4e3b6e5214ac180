/**
 * Mixing matrices. Row = receive: node i combines what it received as Σ_j W[i][j]·Z_j, so row i lists
 * i's in-neighbours and column i its out-neighbours. Stored dense (N is at most a few hundred peers).
 */

/** An n×n mixing matrix, row-major. Treat as immutable: topologies hand out shared instances. */
export type MixingMatrix = { readonly n: number; readonly weights: Float64Array };

/** Row and column sums must be 1 within this, for the trackers of gradient tracking to keep their sum. */
export const STOCHASTIC_TOLERANCE = 1e-12;

export function weightAt(w: MixingMatrix, i: number, j: number): number {
  return w.weights[i * w.n + j];
}

export function selfWeight(w: MixingMatrix, i: number): number {
  return w.weights[i * w.n + i];
}

/** The nodes i waits for (j ≠ i with W[i][j] ≠ 0) and their weights, by ascending j. */
export function inNeighbours(w: MixingMatrix, i: number): { from: number; weight: number }[] {
  checkNode(w, i);
  const result: { from: number; weight: number }[] = [];
  for (let j = 0; j < w.n; j++) {
    const weight = w.weights[i * w.n + j];
    if (j !== i && weight !== 0) result.push({ from: j, weight });
  }
  return result;
}

/** The nodes i sends to (j ≠ i with W[j][i] ≠ 0), ascending. */
export function outNeighbours(w: MixingMatrix, i: number): number[] {
  checkNode(w, i);
  const result: number[] = [];
  for (let j = 0; j < w.n; j++) if (j !== i && w.weights[j * w.n + i] !== 0) result.push(j);
  return result;
}

/** A matrix from its rows (tests, hand-written examples). */
export function matrixFromRows(rows: readonly (readonly number[])[]): MixingMatrix {
  const n = rows.length;
  const weights = new Float64Array(n * n);
  rows.forEach((row, i) => {
    if (row.length !== n) throw new Error(`mixing matrix row ${i} has ${row.length} entries, expected ${n}`);
    weights.set(row, i * n);
  });
  return { n, weights };
}

/** The rows as plain arrays (printing, JSON). */
export function matrixRows(w: MixingMatrix): number[][] {
  return Array.from({ length: w.n }, (_, i) => Array.from(w.weights.subarray(i * w.n, (i + 1) * w.n)));
}

/** 11ᵀ/n: one round of exact averaging. */
export function averagingMatrix(n: number): MixingMatrix {
  return { n, weights: new Float64Array(n * n).fill(1 / n) };
}

export function identityMatrix(n: number): MixingMatrix {
  const weights = new Float64Array(n * n);
  for (let i = 0; i < n; i++) weights[i * n + i] = 1;
  return { n, weights };
}

/** a·b: mixing with b first, then with a. */
export function multiply(a: MixingMatrix, b: MixingMatrix): MixingMatrix {
  if (a.n !== b.n) throw new Error(`cannot multiply mixing matrices of sizes ${a.n} and ${b.n}`);
  const n = a.n;
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a.weights[i * n + k];
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += aik * b.weights[k * n + j];
    }
  }
  return { n, weights: out };
}

/**
 * Throws unless w is a valid mixing matrix: n×n, finite, non-negative, every row and column summing to 1
 * within 1e-12. Double stochasticity is what lets gradient tracking keep Σ_i V_i = Σ_i M_i.
 */
export function validateMixing(w: MixingMatrix, label = 'mixing matrix'): void {
  const { n, weights } = w;
  if (!Number.isInteger(n) || n < 1) throw new Error(`${label}: size must be a positive integer, got ${n}`);
  if (weights.length !== n * n) {
    throw new Error(`${label}: expected ${n}×${n} = ${n * n} weights, got ${weights.length}`);
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const x = weights[i * n + j];
      if (!Number.isFinite(x) || x < 0) {
        throw new Error(`${label}: W[${i}][${j}] = ${x}, weights must be finite and non-negative`);
      }
    }
  }
  for (let i = 0; i < n; i++) {
    let row = 0;
    let column = 0;
    for (let j = 0; j < n; j++) {
      row += weights[i * n + j];
      column += weights[j * n + i];
    }
    if (Math.abs(row - 1) > STOCHASTIC_TOLERANCE) {
      throw new Error(`${label}: row ${i} (what node ${i} keeps) sums to ${row}, not 1`);
    }
    if (Math.abs(column - 1) > STOCHASTIC_TOLERANCE) {
      throw new Error(
        `${label}: column ${i} (what node ${i} sends) sums to ${column}, not 1: not doubly stochastic`,
      );
    }
  }
}

function checkNode(w: MixingMatrix, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= w.n) {
    throw new Error(`node ${i} is not in a ${w.n}-node mixing matrix (nodes are 0..${w.n - 1})`);
  }
}
