/**
 * Edge lists of the undirected topologies (ring, torus, star, random regular, Erdős–Rényi); their weights
 * come from metropolisHastings. The random ones are drawn from a seeded Rng so that every peer and the
 * server build the same graph from the same seed.
 */
import type { Rng } from '../util/random';
import type { Edge } from './metropolis';

/** Draws of a random graph before giving up on getting a connected (or simple regular) one. */
export const MAX_GRAPH_DRAWS = 1000;

/** i – i+1 (mod n). n = 2 has the single edge 0–1 and n = 3 is the triangle: no edge twice. */
export function ringEdges(n: number): Edge[] {
  if (n < 2) return [];
  if (n === 2) return [[0, 1]];
  return Array.from({ length: n }, (_, i): Edge => [i, (i + 1) % n]);
}

/** The most square rows × cols = n with rows ≤ cols (a prime n gives 1 × n, a ring). */
export function squarestShape(n: number): { rows: number; cols: number } {
  let rows = Math.floor(Math.sqrt(n));
  while (n % rows !== 0) rows--;
  return { rows, cols: n / rows };
}

/**
 * A rows × cols grid with wrap-around; node r·cols + c links to its left, right, up and down cells.
 * A side of 2 links its two cells once, a side of 1 adds nothing: degree 4 only when both sides are ≥ 3.
 */
export function torusEdges(rows: number, cols: number): Edge[] {
  const edges: Edge[] = [];
  const seen = new Set<number>();
  const n = rows * cols;
  const link = (a: number, b: number) => {
    const key = Math.min(a, b) * n + Math.max(a, b);
    if (a === b || seen.has(key)) return;
    seen.add(key);
    edges.push([Math.min(a, b), Math.max(a, b)]);
  };
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      link(r * cols + c, r * cols + ((c + 1) % cols));
      link(r * cols + c, ((r + 1) % rows) * cols + c);
    }
  }
  return edges;
}

/** Node 0 is the hub. */
export function starEdges(n: number): Edge[] {
  return Array.from({ length: n - 1 }, (_, i): Edge => [0, i + 1]);
}

/**
 * A uniformly-ish random simple connected d-regular graph (the Steger–Wormald pairing, as networkx does
 * it): pair up random stubs, keep the pairs that make new edges, re-pair the rest. A dense d is drawn as
 * the complement of a sparse (n−1−d)-regular graph, where pairing rarely gets stuck.
 */
export function randomRegularEdges(n: number, d: number, rng: Rng): Edge[] {
  const complement = d > (n - 1) / 2;
  const k = complement ? n - 1 - d : d;
  for (let draw = 0; draw < MAX_GRAPH_DRAWS; draw++) {
    const sparse = pairStubs(n, k, rng);
    if (!sparse) continue;
    const edges = complement ? complementEdges(n, sparse) : sparse;
    if (isConnected(n, edges)) return edges;
  }
  throw new Error(
    `no connected simple ${d}-regular graph on ${n} nodes in ${MAX_GRAPH_DRAWS} draws` +
      (d === 2 ? ' (a 2-regular graph is a union of cycles: use ring for one cycle)' : ''),
  );
}

/** G(n, p), redrawn until connected. */
export function erdosRenyiEdges(n: number, p: number, rng: Rng): Edge[] {
  for (let draw = 0; draw < MAX_GRAPH_DRAWS; draw++) {
    const edges: Edge[] = [];
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) if (rng.uniform() < p) edges.push([i, j]);
    if (isConnected(n, edges)) return edges;
  }
  const threshold = Math.log(n) / n;
  throw new Error(
    `all ${MAX_GRAPH_DRAWS} draws of G(${n}, ${p}) were disconnected; ` +
      `p should be well above ln(N)/N ≈ ${threshold.toPrecision(3)}`,
  );
}

/** Whether every node of an undirected graph reaches every other (union–find). */
export function isConnected(n: number, edges: readonly Edge[]): boolean {
  const parent = Array.from({ length: n }, (_, i) => i);
  const root = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]];
      x = parent[x];
    }
    return x;
  };
  let components = n;
  for (const [a, b] of edges) {
    const ra = root(a);
    const rb = root(b);
    if (ra !== rb) {
      parent[ra] = rb;
      components--;
    }
  }
  return components <= 1;
}

/** One pairing attempt; null when the leftover stubs can no longer form new edges. */
function pairStubs(n: number, d: number, rng: Rng): Edge[] | null {
  const edges = new Set<number>();
  let stubs = Array.from({ length: n * d }, (_, s) => Math.floor(s / d));
  // Each round makes progress with positive probability; the cap only guards against bad luck.
  for (let round = 0; stubs.length > 0; round++) {
    if (round > 100 * n) return null;
    rng.shuffle(stubs);
    const leftover: number[] = [];
    for (let s = 0; s < stubs.length; s += 2) {
      const lo = Math.min(stubs[s], stubs[s + 1]);
      const hi = Math.max(stubs[s], stubs[s + 1]);
      if (lo !== hi && !edges.has(lo * n + hi)) edges.add(lo * n + hi);
      else leftover.push(lo, hi);
    }
    if (!canPair(n, edges, leftover)) return null;
    stubs = leftover;
  }
  return [...edges].sort((a, b) => a - b).map((key): Edge => [Math.floor(key / n), key % n]);
}

function canPair(n: number, edges: Set<number>, stubs: readonly number[]): boolean {
  if (stubs.length === 0) return true;
  const nodes = [...new Set(stubs)].sort((a, b) => a - b);
  for (let x = 0; x < nodes.length; x++) {
    for (let y = x + 1; y < nodes.length; y++) if (!edges.has(nodes[x] * n + nodes[y])) return true;
  }
  return false;
}

function complementEdges(n: number, edges: readonly Edge[]): Edge[] {
  const present = new Set(edges.map(([a, b]) => Math.min(a, b) * n + Math.max(a, b)));
  const result: Edge[] = [];
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) if (!present.has(i * n + j)) result.push([i, j]);
  return result;
}
