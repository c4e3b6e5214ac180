import {
  degrees,
  inNeighbours,
  isStronglyConnected,
  linkedPeers,
  type MixingMatrix,
  makeTopology,
  matrixRows,
  metropolisHastings,
  outNeighbours,
  selfWeight,
  type Topology,
  topologyFromEdges,
  validateMixing,
  weightAt,
} from '@demuon/shared/graph';
import { describe, expect, it } from 'vitest';

/** Specs that are valid for n nodes (random-regular needs N·D even and D < N). */
function specsFor(n: number): string[] {
  const specs = ['complete', 'ring', 'exp', 'exp-demuon', 'one-peer-exp', 'torus', 'star', 'erdos-renyi:0.5'];
  if (n === 2) specs.push('random-regular:1');
  if (n >= 5) specs.push('random-regular:4');
  if (n >= 4 && n % 2 === 0) specs.push('random-regular:3');
  if (n >= 3) specs.push(`edges:${Array.from({ length: n - 1 }, (_, i) => `${i}-${i + 1}`).join(',')}`);
  return specs;
}

function* stepsOf(topology: Topology): Generator<[number, MixingMatrix]> {
  for (let k = 0; k < topology.period; k++) yield [k, topology.at(k)];
}

describe('every topology', () => {
  for (const n of [1, 2, 3, 5, 7, 8, 9, 12, 16]) {
    it(`is doubly stochastic, non-negative and strongly connected for N = ${n}`, () => {
      for (const spec of specsFor(n)) {
        const topology = makeTopology(spec, n, { seed: 3 });
        expect(topology.n).toBe(n);
        for (const [, w] of stepsOf(topology)) {
          expect(() => validateMixing(w)).not.toThrow();
          const rows = matrixRows(w);
          for (let i = 0; i < n; i++) {
            expect(Math.min(...rows[i])).toBeGreaterThanOrEqual(0);
            expect(Math.abs(rows[i].reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12);
            expect(Math.abs(rows.reduce((sum, row) => sum + row[i], 0) - 1)).toBeLessThan(1e-12);
          }
        }
        expect(isStronglyConnected(topology)).toBe(true);
      }
    });
  }

  it('lists neighbours exactly as the matrix has them', () => {
    for (const spec of specsFor(9)) {
      const topology = makeTopology(spec, 9, { seed: 5 });
      for (const [, w] of stepsOf(topology)) {
        for (let i = 0; i < 9; i++) {
          const others = Array.from({ length: 9 }, (_, j) => j).filter((j) => j !== i);
          expect(inNeighbours(w, i)).toEqual(
            others
              .filter((j) => weightAt(w, i, j) !== 0)
              .map((j) => ({ from: j, weight: weightAt(w, i, j) })),
          );
          expect(outNeighbours(w, i)).toEqual(others.filter((j) => weightAt(w, j, i) !== 0));
          expect(selfWeight(w, i)).toBe(weightAt(w, i, i));
        }
      }
    }
  });
});

describe('named topologies', () => {
  it('complete: every weight is 1/N', () => {
    expect(matrixRows(makeTopology('complete', 3).at(0)).flat()).toEqual(new Array(9).fill(1 / 3));
  });

  it('ring: 1/3 on self and both neighbours; N = 2 and N = 3 are the complete graph', () => {
    const ring = makeTopology('ring', 8).at(0);
    expect(inNeighbours(ring, 0)).toEqual([
      { from: 1, weight: 1 / 3 },
      { from: 7, weight: 1 / 3 },
    ]);
    expect(selfWeight(ring, 0)).toBeCloseTo(1 / 3, 15);
    expect(matrixRows(makeTopology('ring', 2).at(0))).toEqual([
      [0.5, 0.5],
      [0.5, 0.5],
    ]);
    for (const x of matrixRows(makeTopology('ring', 3).at(0)).flat()) expect(x).toBeCloseTo(1 / 3, 15);
  });

  it('exp: node i sends to i + 1, i + 2, i + 4 and weighs self and each in-neighbour 1/4 (N = 8)', () => {
    const w = makeTopology('exp', 8).at(0);
    expect(outNeighbours(w, 0)).toEqual([1, 2, 4]);
    expect(inNeighbours(w, 0)).toEqual([4, 6, 7].map((from) => ({ from, weight: 0.25 })));
    expect(selfWeight(w, 0)).toBe(0.25);
    // N = 5: ⌈log₂5⌉ = 3 offsets (1, 2, 4), weights 1/4.
    expect(outNeighbours(makeTopology('exp', 5).at(0), 0)).toEqual([1, 2, 4]);
  });

  it('exp-demuon: 0.4 on self, 0.2 on each in-neighbour for N = 8; 0.6 split evenly otherwise', () => {
    const w = makeTopology('exp-demuon', 8).at(0);
    expect(selfWeight(w, 3)).toBe(0.4);
    expect(inNeighbours(w, 3)).toEqual([1, 2, 7].map((from) => ({ from, weight: 0.2 })));
    const w16 = makeTopology('exp-demuon', 16).at(0);
    expect(selfWeight(w16, 0)).toBe(0.4);
    expect(inNeighbours(w16, 0).map((x) => x.weight)).toEqual([0.15, 0.15, 0.15, 0.15]);
  });

  it('one-peer-exp: at step k node i sends only to i + 2^(k mod ⌈log₂N⌉), keeping half', () => {
    const topology = makeTopology('one-peer-exp', 8);
    expect(topology.period).toBe(3);
    for (const [k, w] of stepsOf(topology)) {
      for (let i = 0; i < 8; i++) {
        expect(outNeighbours(w, i)).toEqual([(i + 2 ** k) % 8]);
        expect(inNeighbours(w, i)).toEqual([{ from: (i - 2 ** k + 8) % 8, weight: 0.5 }]);
        expect(selfWeight(w, i)).toBe(0.5);
      }
    }
    expect(topology.at(3)).toBe(topology.at(0));
    expect(linkedPeers(topology, 0)).toEqual([1, 2, 4, 6, 7]);
  });

  it('torus: most square shape by default, wrap-around, Metropolis weights', () => {
    const expectDegrees = (spec: string, n: number, degree: number) => {
      const w = makeTopology(spec, n).at(0);
      for (let i = 0; i < n; i++) expect(inNeighbours(w, i)).toHaveLength(degree);
    };
    expectDegrees('torus', 12, 4); // 3×4
    expectDegrees('torus', 8, 3); // 2×4: the two rows are linked once
    expectDegrees('torus', 7, 2); // prime: 1×7, a ring
    expect(makeTopology('torus', 8).at(0)).toEqual(makeTopology('torus:2x4', 8).at(0));
    const w = makeTopology('torus:3x3', 9).at(0);
    // Node 0 = (0, 0): left (0, 2) = 2, right 1, up (2, 0) = 6, down 3.
    expect(inNeighbours(w, 0)).toEqual([1, 2, 3, 6].map((from) => ({ from, weight: 0.2 })));
  });

  it('star: hub 0 with weight 1/N on each spoke', () => {
    const w = makeTopology('star', 5).at(0);
    expect(outNeighbours(w, 0)).toEqual([1, 2, 3, 4]);
    expect(inNeighbours(w, 3)).toEqual([{ from: 0, weight: 0.2 }]);
    expect(selfWeight(w, 3)).toBeCloseTo(0.8, 15);
  });

  it('one node: every topology is W = [1]', () => {
    for (const spec of specsFor(1)) expect(matrixRows(makeTopology(spec, 1).at(0))).toEqual([[1]]);
  });
});

describe('Metropolis–Hastings weights', () => {
  it('follow w_ij = 1/(1 + max(d_i, d_j)), w_ii = 1 − Σ on an irregular graph', () => {
    // Degrees: 0 → 3, 1 → 2, 2 → 2, 3 → 2, 4 → 1.
    const edges = [
      [0, 1],
      [0, 2],
      [0, 3],
      [3, 4],
      [2, 1],
    ] as const;
    expect(degrees(5, edges)).toEqual([3, 2, 2, 2, 1]);
    const expected = [
      [1 / 4, 1 / 4, 1 / 4, 1 / 4, 0],
      [1 / 4, 5 / 12, 1 / 3, 0, 0],
      [1 / 4, 1 / 3, 5 / 12, 0, 0],
      [1 / 4, 0, 0, 5 / 12, 1 / 3],
      [0, 0, 0, 1 / 3, 2 / 3],
    ];
    const rows = matrixRows(metropolisHastings(5, edges));
    rows.forEach((row, i) => {
      row.forEach((x, j) => {
        expect(x).toBeCloseTo(expected[i][j], 15);
      });
    });
  });

  it('rebuild a topology from the edges that remain after a peer leaves', () => {
    // A ring of 5 without node 2 (3 renumbered 2, 4 renumbered 3): edges 0-1, 3-4 → 2-3, 4-0 → 3-0.
    const survivors = topologyFromEdges(4, [
      [0, 1],
      [2, 3],
      [3, 0],
    ]);
    expect(survivors.name).toBe('edges:0-1,2-3,3-0');
    expect(() => validateMixing(survivors.at(0))).not.toThrow();
    expect(linkedPeers(survivors, 0)).toEqual([1, 3]);
    expect(() => topologyFromEdges(4, [[0, 1]])).toThrow(/disconnected: node 0 never reaches node\(s\) 2, 3/);
    expect(matrixRows(topologyFromEdges(1, []).at(0))).toEqual([[1]]);
  });
});

describe('seeded random graphs', () => {
  const weightsOf = (spec: string, seed: number) =>
    Array.from(makeTopology(spec, 16, { seed }).at(0).weights);

  for (const spec of ['random-regular:3', 'erdos-renyi:0.3']) {
    it(`${spec} is reproducible from its seed and differs between seeds`, () => {
      expect(weightsOf(spec, 7)).toEqual(weightsOf(spec, 7));
      expect(weightsOf(spec, 7)).not.toEqual(weightsOf(spec, 8));
    });
  }

  it('random-regular:D is a simple connected D-regular graph, also for dense and odd-N cases', () => {
    for (const [d, n] of [
      [3, 16],
      [2, 9],
      [4, 7],
      [12, 16],
      [15, 16],
      [5, 30],
    ]) {
      for (const seed of [0, 1, 2]) {
        const topology = makeTopology(`random-regular:${d}`, n, { seed });
        for (let i = 0; i < n; i++) {
          const w = topology.at(0);
          expect(inNeighbours(w, i)).toHaveLength(d);
          expect(outNeighbours(w, i)).toEqual(inNeighbours(w, i).map((x) => x.from)); // symmetric
        }
      }
    }
  });
});
