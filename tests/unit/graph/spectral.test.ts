import {
  averagingMatrix,
  makeTopology,
  matrixFromRows,
  multiply,
  periodProduct,
  periodSpectralRadius,
  singularValues,
  spectralGap,
  spectralRadius,
} from '@demuon/shared/graph';
import { describe, expect, it } from 'vitest';

const rho = (spec: string, n: number) => spectralRadius(makeTopology(spec, n).at(0));

function maxDifference(a: Float64Array, b: Float64Array): number {
  return a.reduce((worst, x, k) => Math.max(worst, Math.abs(x - b[k])), 0);
}

describe('spectral radius ρ = ‖W − 11ᵀ/N‖₂', () => {
  it('matches the values of the DeMuon paper and of Ying et al. for 8 nodes', () => {
    expect(rho('ring', 8)).toBeCloseTo(0.8047, 4);
    expect(rho('ring', 8)).toBeCloseTo(1 / 3 + (2 / 3) * Math.cos(Math.PI / 4), 12);
    expect(rho('exp', 8)).toBeCloseTo(0.5, 12);
    expect(rho('exp-demuon', 8)).toBeCloseTo(0.6, 12);
    expect(rho('complete', 8)).toBeLessThan(1e-15);
    expect(spectralGap(makeTopology('complete', 8).at(0))).toBeCloseTo(1, 15);
  });

  it('matches the closed forms of circulant graphs for 16 nodes', () => {
    // Ring: eigenvalues 1/3 + 2/3·cos(2πk/N); the largest below 1 is at k = 1.
    expect(rho('ring', 16)).toBeCloseTo(1 / 3 + (2 / 3) * Math.cos(Math.PI / 8), 12);
    // Exponential, offsets 1, 2, 4, 8: at k = 8 the eigenvalue is (1 − 1 + 1 + 1 + 1)/5 = 0.6.
    expect(rho('exp', 16)).toBeCloseTo(0.6, 12);
    expect(rho('exp-demuon', 16)).toBeCloseTo(0.4 + 0.15 * 2, 12);
    // 4×4 torus, Metropolis weights 1/5: 1/5 + 2/5·(cos(2πa/4) + cos(2πb/4)) peaks at 0.6.
    expect(rho('torus', 16)).toBeCloseTo(0.6, 12);
  });

  it('is accurate for a large ring (one-sided Jacobi, no squaring)', () => {
    expect(rho('ring', 128)).toBeCloseTo(1 / 3 + (2 / 3) * Math.cos((2 * Math.PI) / 128), 13);
  });

  it('gives singular values, not eigenvalues, of a non-symmetric matrix', () => {
    // [[3, 0], [4, 5]]: AᵀA has eigenvalues 45 and 5.
    const values = singularValues(Float64Array.from([3, 0, 4, 5]), 2);
    expect(values[0]).toBeCloseTo(3 * Math.sqrt(5), 14);
    expect(values[1]).toBeCloseTo(Math.sqrt(5), 14);
    // A directed 3-cycle: W − J has all eigenvalues of modulus 1 off the consensus direction, and ρ = 1.
    const cycle = matrixFromRows([
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(spectralRadius(cycle)).toBeCloseTo(1, 14);
  });
});

describe('one-peer exponential graph', () => {
  for (const n of [8, 16]) {
    it(`multiplies to 11ᵀ/N over ⌈log₂N⌉ steps for N = ${n}`, () => {
      const topology = makeTopology('one-peer-exp', n);
      expect(topology.period).toBe(Math.log2(n));
      const average = averagingMatrix(n).weights;
      for (const start of [0, 1, topology.period + 2]) {
        expect(maxDifference(periodProduct(topology, start).weights, average)).toBeLessThan(1e-12);
      }
      expect(periodSpectralRadius(topology)).toBeLessThan(1e-12);
      // A single step does not mix every direction: shifting by N/2 leaves some disagreement untouched.
      expect(spectralRadius(topology.at(topology.period - 1))).toBeCloseTo(1, 12);
    });
  }

  it('mixes, but not exactly, when N is not a power of two', () => {
    const topology = makeTopology('one-peer-exp', 6);
    expect(topology.period).toBe(3);
    const radius = periodSpectralRadius(topology);
    expect(radius).toBeGreaterThan(0.01);
    expect(radius).toBeLessThan(1);
  });

  it('periodProduct applies the earliest step first', () => {
    const topology = makeTopology('one-peer-exp', 6);
    const expected = multiply(topology.at(2), multiply(topology.at(1), topology.at(0)));
    expect(maxDifference(periodProduct(topology).weights, expected.weights)).toBe(0);
  });
});

describe('static topologies', () => {
  it('have a period ρ equal to their one-step ρ', () => {
    const ring = makeTopology('ring', 8);
    expect(periodSpectralRadius(ring)).toBe(spectralRadius(ring.at(0)));
  });
});
