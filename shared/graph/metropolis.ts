/**
 * Metropolis–Hastings weights for any simple undirected graph: w_ij = 1/(1 + max(d_i, d_j)) on each edge,
 * w_ii = 1 − Σ_{j≠i} w_ij. Symmetric and row-stochastic, hence doubly stochastic, with no global
 * knowledge beyond the neighbours' degrees: recomputing them after a peer joins or leaves is local.
 */
import type { MixingMatrix } from './matrix';

/** An undirected edge between two distinct nodes. */
export type Edge = readonly [number, number];

/**
 * The first problem with an edge list, or null: a node that is not an integer in 0..n−1 (any
 * non-negative integer when n is omitted), a self loop, or a repeated edge (a-b and b-a are one edge).
 */
export function edgeListProblem(edges: readonly Edge[], n = Number.POSITIVE_INFINITY): string | null {
  const seen = new Set<string>();
  for (const [index, [a, b]] of edges.entries()) {
    const where = `edge ${index} (${a}-${b})`;
    for (const node of [a, b]) {
      if (!Number.isInteger(node) || node < 0) return `${where}: node ${node} is not a non-negative integer`;
      if (node >= n) return `${where}: node ${node} does not exist, nodes are 0..${n - 1}`;
    }
    if (a === b) return `${where}: self loop on node ${a} (self weights follow from the other edges)`;
    const key = `${Math.min(a, b)}-${Math.max(a, b)}`;
    if (seen.has(key)) return `${where}: duplicate edge ${key}`;
    seen.add(key);
  }
  return null;
}

/** Throws on the first bad edge (see edgeListProblem); returns the edges as [min, max] pairs. */
export function checkEdges(n: number, edges: readonly Edge[]): [number, number][] {
  checkNodeCount(n);
  const problem = edgeListProblem(edges, n);
  if (problem) throw new Error(problem);
  return edges.map(([a, b]) => [Math.min(a, b), Math.max(a, b)]);
}

/** Degrees (neighbour counts, no self loop) of a simple undirected graph. */
export function degrees(n: number, edges: readonly Edge[]): number[] {
  const d = new Array<number>(n).fill(0);
  for (const [a, b] of edges) {
    d[a]++;
    d[b]++;
  }
  return d;
}

/** Metropolis–Hastings mixing matrix of a simple undirected graph over n nodes (edges are checked). */
export function metropolisHastings(n: number, edges: readonly Edge[]): MixingMatrix {
  const checked = checkEdges(n, edges);
  const d = degrees(n, checked);
  const weights = new Float64Array(n * n);
  for (const [a, b] of checked) {
    const w = 1 / (1 + Math.max(d[a], d[b]));
    weights[a * n + b] = w;
    weights[b * n + a] = w;
  }
  for (let i = 0; i < n; i++) {
    let others = 0;
    for (let j = 0; j < n; j++) if (j !== i) others += weights[i * n + j];
    weights[i * n + i] = 1 - others;
  }
  return { n, weights };
}

export function checkNodeCount(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`number of nodes must be a positive integer, got ${n}`);
}
