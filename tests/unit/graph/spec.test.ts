import {
  formatTopologySpec,
  MAX_GRAPH_DRAWS,
  makeTopology,
  matrixFromRows,
  parseTopologySpec,
  staticTopology,
  TopologyConfigSchema,
  type TopologySpec,
  topologySpec,
  validateMixing,
} from '@demuon/shared/graph';
import { describe, expect, it } from 'vitest';

describe('topology spec strings and objects', () => {
  const cases: [string, TopologySpec][] = [
    ['complete', { kind: 'complete' }],
    ['ring', { kind: 'ring' }],
    ['exp', { kind: 'exp' }],
    ['exp-demuon', { kind: 'exp-demuon' }],
    ['one-peer-exp', { kind: 'one-peer-exp' }],
    ['torus', { kind: 'torus' }],
    ['torus:2x4', { kind: 'torus', rows: 2, cols: 4 }],
    ['star', { kind: 'star' }],
    ['random-regular:3', { kind: 'random-regular', degree: 3 }],
    ['erdos-renyi:0.3', { kind: 'erdos-renyi', p: 0.3 }],
    [
      'edges:0-1,1-2,2-0',
      {
        kind: 'edges',
        edges: [
          [0, 1],
          [1, 2],
          [2, 0],
        ],
      },
    ],
  ];

  it('parses every form, formats it back, and accepts the same spec as an object', () => {
    for (const [text, spec] of cases) {
      expect(parseTopologySpec(text)).toEqual(spec);
      expect(formatTopologySpec(spec)).toBe(text);
      expect(topologySpec(spec)).toEqual(spec);
      expect(TopologyConfigSchema.parse(text)).toEqual(spec);
      expect(TopologyConfigSchema.parse(spec)).toEqual(spec);
    }
  });

  it('tolerates case and spaces', () => {
    expect(parseTopologySpec(' Torus : 3 X 3 ')).toEqual({ kind: 'torus', rows: 3, cols: 3 });
    expect(parseTopologySpec('edges: 0 - 1 , 1-2')).toEqual({
      kind: 'edges',
      edges: [
        [0, 1],
        [1, 2],
      ],
    });
  });

  it('builds the same topology from a string and from an object', () => {
    const fromString = makeTopology('torus:2x4', 8);
    const fromObject = makeTopology({ kind: 'torus', rows: 2, cols: 4 }, 8);
    expect(fromObject.name).toBe('torus:2x4');
    expect(fromObject.at(0)).toEqual(fromString.at(0));
  });
});

describe('bad specs are rejected with a message naming the problem', () => {
  const rejects = (spec: string | unknown, n: number, message: RegExp) =>
    expect(() => makeTopology(spec as string, n), String(spec)).toThrow(message);

  it('unknown names list the known ones', () => {
    rejects('rign', 8, /unknown topology "rign": expected one of complete, ring, exp, .*edges:A-B/);
    rejects('', 8, /unknown topology ""/);
    rejects({ kind: 'hypercube' }, 8, /unknown topology "hypercube": expected one of complete/);
  });

  it('bad parameters', () => {
    rejects('ring:3', 8, /"ring:3": "ring" takes no parameter/);
    rejects('random-regular', 8, /degree D must be a positive integer/);
    rejects('random-regular:0', 8, /degree D must be a positive integer/);
    rejects('random-regular:2.5', 8, /degree D must be a positive integer/);
    rejects('erdos-renyi', 8, /edge probability P must be a number in \(0, 1\]/);
    rejects('erdos-renyi:0', 8, /edge probability P/);
    rejects('erdos-renyi:1.5', 8, /edge probability P/);
    rejects('erdos-renyi:abc', 8, /edge probability P/);
    rejects('torus:3', 8, /shape must be ROWSxCOLS/);
    rejects('torus:0x8', 8, /shape must be ROWSxCOLS/);
  });

  it('edge lists: malformed edge, node ≥ N, self loop, duplicate, disconnected', () => {
    rejects('edges:', 4, /needs at least one edge/);
    rejects('edges:0-1,a-b', 4, /"a-b" is not an edge A-B/);
    rejects('edges:0-1,1-4', 4, /edge 1 \(1-4\): node 4 does not exist, nodes are 0..3/);
    rejects('edges:0-1,2-2', 4, /edge 1 \(2-2\): self loop on node 2/);
    rejects('edges:0-1,1-2,1-0', 4, /edge 2 \(1-0\): duplicate edge 0-1/);
    rejects(
      'edges:0-1,2-3',
      4,
      /"edges:0-1,2-3" on 4 nodes: the graph is disconnected: node 0 never reaches node\(s\) 2, 3/,
    );
    rejects('edges:0-1,1-2', 4, /never reaches node\(s\) 3/);
  });

  it('N that does not fit the topology', () => {
    rejects('ring', 0, /number of nodes must be a positive integer, got 0/);
    rejects('complete', 2.5, /number of nodes must be a positive integer, got 2.5/);
    rejects('torus:3x3', 8, /a 3x3 torus has 9 nodes, not 8/);
    rejects('random-regular:3', 3, /degree 3 needs at least 4 nodes/);
    rejects('random-regular:3', 5, /N·D = 15 is odd/);
    rejects('random-regular:1', 4, /1-regular graph on more than 2 nodes is disconnected/);
    rejects(
      'erdos-renyi:0.01',
      30,
      new RegExp(`all ${MAX_GRAPH_DRAWS} draws of G\\(30, 0.01\\) were disconnected.*ln\\(N\\)/N`),
    );
  });

  it('structured objects', () => {
    rejects({ kind: 'torus', rows: 2 }, 8, /give both rows and cols/);
    rejects({ kind: 'erdos-renyi', p: 2 }, 8, /invalid topology spec .*p: /);
    rejects({ kind: 'random-regular', degree: -1 }, 8, /degree: /);
    rejects({ kind: 'ring', size: 3 }, 8, /size/);
    rejects({ kind: 'edges', edges: [[0, 0]] }, 8, /edges: edge 0 \(0-0\): self loop on node 0/);
    rejects({ kind: 'edges', edges: [[0, 1.5]] }, 8, /edges\.0\.1/);
    rejects(42, 8, /a topology spec is a string such as "ring" or an object with a "kind", got 42/);
    rejects({ rows: 2 }, 8, /invalid topology spec .*kind/);
    expect(TopologyConfigSchema.safeParse('rign').error?.issues[0].message).toMatch(
      /unknown topology "rign"/,
    );
  });

  it('mixing matrices that are not doubly stochastic, negative or not connected', () => {
    const check = (rows: number[][]) => () => validateMixing(matrixFromRows(rows));
    expect(
      check([
        [1, 0.5],
        [0, 0.5],
      ]),
    ).toThrow(/row 0 .* sums to 1.5, not 1/);
    expect(
      check([
        [0.5, 0.5],
        [1, 0],
      ]),
    ).toThrow(/column 0 .* sums to 1.5, not 1: not doubly stochastic/);
    expect(
      check([
        [1.5, -0.5],
        [-0.5, 1.5],
      ]),
    ).toThrow(/W\[0\]\[1\] = -0.5, weights must be finite and non-negative/);
    expect(
      check([
        [Number.NaN, 1],
        [1, 0],
      ]),
    ).toThrow(/W\[0\]\[0\] = NaN/);
    expect(() => validateMixing({ n: 2, weights: new Float64Array(3) })).toThrow(
      /expected 2×2 = 4 weights, got 3/,
    );
    const split = matrixFromRows([
      [0.5, 0.5, 0],
      [0.5, 0.5, 0],
      [0, 0, 1],
    ]);
    expect(() => staticTopology('split', split)).toThrow(
      /topology "split": the graph is disconnected: node 0 never reaches node\(s\) 2/,
    );
    expect(() => makeTopology('ring', 4).at(-1)).toThrow(/step must be a non-negative integer, got -1/);
  });
});
