/**
 * A topology gives the mixing matrix of every step. Static graphs have period 1; the one-peer exponential
 * graph cycles through ⌈log₂ N⌉ matrices. Every constructor here checks that each matrix is doubly
 * stochastic and that the graph (over one period) is strongly connected, so that what a run is handed
 * can reach consensus and keeps the trackers' sum.
 */
import { Rng } from '../util/random';
import { directedExponential, exponentialDegree, onePeerExponential } from './exponential';
import {
  averagingMatrix,
  inNeighbours,
  type MixingMatrix,
  multiply,
  outNeighbours,
  validateMixing,
} from './matrix';
import { checkNodeCount, type Edge, metropolisHastings } from './metropolis';
import { formatTopologySpec, type TopologySpec, topologySpec } from './spec';
import {
  erdosRenyiEdges,
  randomRegularEdges,
  ringEdges,
  squarestShape,
  starEdges,
  torusEdges,
} from './undirected';

export interface Topology {
  /** The canonical spec string, e.g. `torus:2x4` (random graphs also depend on the seed). */
  readonly name: string;
  readonly n: number;
  /** Number of distinct matrices, cycled: W_k = W_{k mod period}. 1 for a static graph. */
  readonly period: number;
  /** The matrix of iteration `step` (0-based). Shared instance: do not modify. */
  at(step: number): MixingMatrix;
}

export type TopologyOptions = {
  /** Seed of the random graphs (random-regular, erdos-renyi); every peer must use the same. Default 0. */
  seed?: number;
};

/** Builds and checks a topology over n nodes; throws an error naming the problem. */
export function makeTopology(
  spec: string | TopologySpec,
  n: number,
  { seed = 0 }: TopologyOptions = {},
): Topology {
  const parsed = topologySpec(spec);
  const name = formatTopologySpec(parsed);
  try {
    checkNodeCount(n);
    return checked(build(parsed, name, n, seed));
  } catch (error) {
    throw new Error(`topology "${name}" on ${n} nodes: ${(error as Error).message}`);
  }
}

/** A fixed matrix, checked. */
export function staticTopology(name: string, matrix: MixingMatrix): Topology {
  return periodicTopology(name, [matrix]);
}

/** Matrices used in turn, W_k = matrices[k mod length], checked. */
export function periodicTopology(name: string, matrices: readonly MixingMatrix[]): Topology {
  try {
    return checked(assemble(name, matrices));
  } catch (error) {
    throw new Error(`topology "${name}": ${(error as Error).message}`);
  }
}

/** Metropolis–Hastings weights on an arbitrary undirected graph, e.g. the survivors after a peer left. */
export function topologyFromEdges(n: number, edges: readonly Edge[], name?: string): Topology {
  return staticTopology(name ?? edgesName(edges), metropolisHastings(n, edges));
}

/** Whether every node reaches every other along directed edges of the union of one period's matrices. */
export function isStronglyConnected(topology: Topology): boolean {
  return connectivityProblem(topology) === null;
}

/** All peers i ever sends to or receives from (over one period): whom it must open links to. */
export function linkedPeers(topology: Topology, i: number): number[] {
  const peers = new Set<number>();
  for (let k = 0; k < topology.period; k++) {
    const w = topology.at(k);
    for (const { from } of inNeighbours(w, i)) peers.add(from);
    for (const to of outNeighbours(w, i)) peers.add(to);
  }
  return [...peers].sort((a, b) => a - b);
}

/** W_{start+period−1} ··· W_{start}: the effect of one full period of gossip starting at step `start`. */
export function periodProduct(topology: Topology, start = 0): MixingMatrix {
  let product = topology.at(start);
  for (let k = 1; k < topology.period; k++) product = multiply(topology.at(start + k), product);
  return product;
}

/** The topology of a spec, not yet checked. */
function build(spec: TopologySpec, name: string, n: number, seed: number): Topology {
  const undirected = (edges: readonly Edge[]) => assemble(name, [metropolisHastings(n, edges)]);
  switch (spec.kind) {
    case 'complete':
      return assemble(name, [averagingMatrix(n)]);
    case 'ring':
      return undirected(ringEdges(n));
    case 'exp':
      return assemble(name, [directedExponential(n, 'uniform')]);
    case 'exp-demuon':
      return assemble(name, [directedExponential(n, 'demuon')]);
    case 'one-peer-exp': {
      const period = Math.max(1, exponentialDegree(n));
      return assemble(
        name,
        Array.from({ length: period }, (_, k) => onePeerExponential(n, k)),
      );
    }
    case 'torus': {
      const { rows, cols } =
        spec.rows === undefined ? squarestShape(n) : { rows: spec.rows, cols: spec.cols! };
      if (rows * cols !== n) throw new Error(`a ${rows}x${cols} torus has ${rows * cols} nodes, not ${n}`);
      return undirected(torusEdges(rows, cols));
    }
    case 'star':
      return undirected(starEdges(n));
    case 'random-regular': {
      const d = spec.degree;
      if (d >= n) {
        throw new Error(`degree ${d} needs at least ${d + 1} nodes (a node has at most N−1 neighbours)`);
      }
      if ((n * d) % 2 !== 0) throw new Error(`N·D = ${n * d} is odd, but a D-regular graph has N·D/2 edges`);
      if (d === 1 && n > 2) throw new Error('a 1-regular graph on more than 2 nodes is disconnected');
      return undirected(randomRegularEdges(n, d, new Rng(seed)));
    }
    case 'erdos-renyi':
      return undirected(erdosRenyiEdges(n, spec.p, new Rng(seed)));
    case 'edges':
      return undirected(spec.edges);
  }
}

function assemble(name: string, matrices: readonly MixingMatrix[]): Topology {
  if (matrices.length === 0) throw new Error('no mixing matrix');
  return {
    name,
    n: matrices[0].n,
    period: matrices.length,
    at(step: number) {
      if (!Number.isInteger(step) || step < 0) {
        throw new Error(`topology "${name}": step must be a non-negative integer, got ${step}`);
      }
      return matrices[step % matrices.length];
    },
  };
}

/** Throws unless every matrix of the period is a valid mixing matrix and the graph strongly connected. */
function checked(topology: Topology): Topology {
  const { n, period } = topology;
  for (let k = 0; k < period; k++) {
    const w = topology.at(k);
    if (w.n !== n) throw new Error(`mixing matrix of step ${k} has ${w.n} nodes, step 0 has ${n}`);
    validateMixing(w, period === 1 ? 'mixing matrix' : `mixing matrix of step ${k}`);
  }
  const problem = connectivityProblem(topology);
  if (problem) throw new Error(problem);
  return topology;
}

function edgesName(edges: readonly Edge[]): string {
  return formatTopologySpec({ kind: 'edges', edges: edges.map(([a, b]) => [a, b]) });
}

/** Null when strongly connected, else a message naming nodes that cannot be reached or cannot reach. */
function connectivityProblem(topology: Topology): string | null {
  const { n } = topology;
  const reached = (forward: boolean) => {
    const seen = new Uint8Array(n);
    const stack = [0];
    seen[0] = 1;
    while (stack.length > 0) {
      const i = stack.pop()!;
      for (let k = 0; k < topology.period; k++) {
        const w = topology.at(k);
        // Forward: i sends to j when W[j][i] ≠ 0. Backward: j sends to i when W[i][j] ≠ 0.
        for (let j = 0; j < n; j++) {
          const weight = forward ? w.weights[j * n + i] : w.weights[i * n + j];
          if (weight !== 0 && !seen[j]) {
            seen[j] = 1;
            stack.push(j);
          }
        }
      }
    }
    return Array.from({ length: n }, (_, j) => j).filter((j) => !seen[j]);
  };
  const unreached = reached(true);
  if (unreached.length > 0)
    return `the graph is disconnected: node 0 never reaches node(s) ${list(unreached)}`;
  const unreaching = reached(false);
  if (unreaching.length > 0) {
    return `not strongly connected: node(s) ${list(unreaching)} never reach node 0`;
  }
  return null;
}

function list(nodes: readonly number[]): string {
  return nodes.length > 12
    ? `${nodes.slice(0, 12).join(', ')}, … (${nodes.length} in all)`
    : nodes.join(', ');
}
