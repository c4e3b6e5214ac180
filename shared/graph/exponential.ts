/**
 * Exponential graphs (Ying et al., "Exponential Graph is Provably Efficient for Decentralized Deep
 * Training", 2021). Node i sends to i + 2^h (mod n), h = 0..τ−1 with τ = ⌈log₂ n⌉. The offsets 2^h are
 * distinct and below n, so every node has τ in- and τ out-neighbours: any weights that depend only on
 * the offset are doubly stochastic, for every n.
 */
import type { MixingMatrix } from './matrix';

/** τ = ⌈log₂ n⌉ (0 for n = 1), exactly, in integers. */
export function exponentialDegree(n: number): number {
  let tau = 0;
  while (2 ** tau < n) tau++;
  return tau;
}

/** Offsets 2^h, h = 0..τ−1. */
export function exponentialOffsets(n: number): number[] {
  return Array.from({ length: exponentialDegree(n) }, (_, h) => 2 ** h);
}

/**
 * The static directed exponential graph. `uniform` (Ying et al.): 1/(τ+1) on self and on each
 * in-neighbour; ρ = 0.5 for n = 8. `demuon` (the DeMuon authors' code, written for 8 nodes): 0.4 on self
 * and 0.2 on each of the 3 in-neighbours; ρ = 0.6 for n = 8. For other n it keeps 0.4 on self and splits
 * 0.6 evenly over the τ in-neighbours (so it is exactly the authors' matrix for n = 5..8), a single
 * node keeps everything.
 */
export function directedExponential(n: number, weighting: 'uniform' | 'demuon'): MixingMatrix {
  const offsets = exponentialOffsets(n);
  const tau = offsets.length;
  if (tau === 0) return circulant(n, 1, [], 0);
  if (weighting === 'uniform') return circulant(n, 1 / (tau + 1), offsets, 1 / (tau + 1));
  // 0.6 / 3 is one ulp below 0.2: for τ = 3 use the authors' 0.2 itself.
  return circulant(n, 0.4, offsets, tau === 3 ? 0.2 : 0.6 / tau);
}

/**
 * One-peer exponential graph at step k: node i sends only to i + 2^(k mod τ) and averages itself with the
 * one node it hears from. Period τ; for n a power of two, τ consecutive steps average exactly (each step
 * halves the remaining disagreement along one bit of the node index).
 */
export function onePeerExponential(n: number, step: number): MixingMatrix {
  const tau = exponentialDegree(n);
  if (tau === 0) return circulant(n, 1, [], 0);
  return circulant(n, 0.5, [2 ** (step % tau)], 0.5);
}

/** W[i][i] = self, W[i][(i − offset) mod n] = neighbour: i receives from the node `offset` behind it. */
function circulant(n: number, self: number, offsets: readonly number[], neighbour: number): MixingMatrix {
  const weights = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    weights[i * n + i] = self;
    for (const offset of offsets) weights[i * n + ((i - offset + n) % n)] = neighbour;
  }
  return { n, weights };
}
