/**
 * The optimizers compute exactly what ALGORITHMS.md writes: each is checked against a dense, float64
 * transcription of its formulas, driven by the same gradients, through the real gossip code.
 */
import { MemoryNetwork } from '@demuon/shared/gossip';
import { type AlgorithmConfig, algorithmConfig, type ParamInfo } from '@demuon/shared/optim';
import { Lockstep } from '@demuon/shared/peer';
import { CpuBackend, newtonSchulz } from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import { describe, expect, it } from 'vitest';
import { fixedMixing, ringRows } from '../../helpers/mixing';

const N = 4;
const W = ringRows(N);
const PARAMS: ParamInfo[] = [
  { name: 'w', shape: [3, 5], kind: 'matrix' },
  { name: 'head', shape: [4, 2], kind: 'head' },
  { name: 'b', shape: [4], kind: 'vector' },
];
const STEPS = 6;

type Dense = Float64Array[][]; // [node][tensor]

const randomTensors = (rng: Rng, scale = 1) =>
  PARAMS.map((p) =>
    Float64Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => scale * rng.normal()),
  );

function mix(z: Dense): Dense {
  return z.map((_, i) =>
    z[0].map((_, t) => z[0][t].map((_, e) => W[i].reduce((s, w, j) => s + w * z[j][t][e], 0))),
  );
}
const lin = (terms: [number, Float64Array][]) =>
  terms[0][1].map((_, e) => terms.reduce((s, [c, x]) => s + c * x[e], 0));
const norm = (xs: Float64Array[]) => Math.sqrt(xs.reduce((s, x) => s + x.reduce((a, v) => a + v * v, 0), 0));

/** dir(·) written out: msgn by the CPU Newton–Schulz, L2 normalisation, per routing mode. */
function dir(
  v: Float64Array[],
  routing: 'demuon' | 'muon',
  schedule: 'ns5' | 'polar5',
  scale = 'none',
): Float64Array[] {
  return v.map((x, t) => {
    const p = PARAMS[t];
    if (p.shape.length === 2 && (routing === 'demuon' || p.kind === 'matrix')) {
      const s = scale === 'muon' ? Math.sqrt(Math.max(1, p.shape[1] / p.shape[0])) : 1;
      return Float64Array.from(
        newtonSchulz(Float32Array.from(x), p.shape[0], p.shape[1], { schedule }),
        (y) => s * y,
      );
    }
    const n = norm([x]);
    return x.map((y) => y / n);
  });
}

async function run(config: AlgorithmConfig, grads: Dense[], x0: Float64Array[]): Promise<Float32Array[][]> {
  const lock = new Lockstep({
    backend: new CpuBackend(),
    params: PARAMS,
    x0: x0.map((x) => Float32Array.from(x)),
    nodes: N,
    schedule: fixedMixing(W),
    config,
  });
  for (let k = 0; k < STEPS; k++)
    await lock.step(
      k,
      STEPS,
      grads[k].map((node) => node.map((g) => Float32Array.from(g))),
    );
  return lock.allParams();
}

function expectClose(actual: Float32Array[][], expected: Dense, tolerance = 2e-5) {
  for (let i = 0; i < N; i++) {
    for (const [t, x] of expected[i].entries()) {
      const diff = Math.max(...x.map((v, e) => Math.abs(v - actual[i][t][e])));
      expect(diff, `node ${i}, ${PARAMS[t].name}`).toBeLessThan(tolerance * Math.max(1, norm([x])));
    }
  }
}

describe('optimizers against their formulas (ring of 4, fixed gradients)', () => {
  const rng = new Rng(9);
  const x0 = randomTensors(rng);
  const grads: Dense[] = Array.from({ length: STEPS }, () =>
    Array.from({ length: N }, () => randomTensors(rng)),
  );
  const eta = (k: number) => 0.1 * (1 - k / STEPS);

  it.each([
    ['demuon', 'ns5', 'none'],
    ['muon', 'polar5', 'muon'],
  ] as const)('DeMuon, %s routing, %s, scale %s', async (routing, schedule, scale) => {
    const theta = 0.3;
    let X: Dense = Array.from({ length: N }, () => x0.map((x) => x.slice()));
    let M: Dense = X.map((node) => node.map((x) => new Float64Array(x.length)));
    let V: Dense = M.map((node) => node.map((x) => x.slice()));
    for (let k = 0; k < STEPS; k++) {
      const Mn = M.map((node, i) =>
        node.map((m, t) =>
          lin([
            [1 - theta, m],
            [theta, grads[k][i][t]],
          ]),
        ),
      );
      V = mix(
        V.map((node, i) =>
          node.map((v, t) =>
            lin([
              [1, v],
              [1, Mn[i][t]],
              [-1, M[i][t]],
            ]),
          ),
        ),
      );
      M = Mn;
      X = mix(
        X.map((node, i) =>
          dir(V[i], routing, schedule, scale).map((d, t) =>
            lin([
              [1, node[t]],
              [-eta(k), d],
            ]),
          ),
        ),
      );
    }
    const config = algorithmConfig({
      name: 'demuon',
      lr: { eta: 0.1, schedule: 'linear' },
      theta,
      routing,
      ns: { schedule },
      scale,
    });
    expectClose(await run(config, grads, x0), X);
  });

  it('DSGD and DSGD with clipping', async () => {
    for (const clip of [false, true]) {
      let X: Dense = Array.from({ length: N }, () => x0.map((x) => x.slice()));
      for (let k = 0; k < STEPS; k++) {
        X = mix(
          X.map((node, i) => {
            const g = grads[k][i];
            const tau = 0.5 * (k + 1) ** 0.4;
            const c = clip ? Math.min(1, tau / norm(g)) : 1;
            return node.map((x, t) =>
              lin([
                [1, x],
                [-eta(k) * c, g[t]],
              ]),
            );
          }),
        );
      }
      const lr = { eta: 0.1, schedule: 'linear' };
      const config = algorithmConfig(clip ? { name: 'dsgd-clip', lr, tau: 0.5 } : { name: 'dsgd', lr });
      expectClose(await run(config, grads, x0), X);
    }
  });

  it('GT-NSGDm and GT-DSGD', async () => {
    const beta = 0.8;
    let X: Dense = Array.from({ length: N }, () => x0.map((x) => x.slice()));
    let M: Dense = X.map((node) => node.map((x) => new Float64Array(x.length)));
    let Y: Dense = M.map((node) => node.map((x) => x.slice()));
    let X2: Dense = X.map((node) => node.map((x) => x.slice()));
    let Y2: Dense = M.map((node) => node.map((x) => x.slice()));
    for (let k = 0; k < STEPS; k++) {
      const Mn = M.map((node, i) =>
        node.map((m, t) =>
          lin([
            [beta, m],
            [1 - beta, grads[k][i][t]],
          ]),
        ),
      );
      Y = mix(
        Y.map((node, i) =>
          node.map((y, t) =>
            lin([
              [1, y],
              [1, Mn[i][t]],
              [-1, M[i][t]],
            ]),
          ),
        ),
      );
      M = Mn;
      X = mix(
        X.map((node, i) =>
          node.map((x, t) =>
            lin([
              [1, x],
              [-eta(k) / norm(Y[i]), Y[i][t]],
            ]),
          ),
        ),
      );

      const previous =
        k === 0 ? grads[0].map((node) => node.map((g) => new Float64Array(g.length))) : grads[k - 1];
      Y2 = mix(
        Y2.map((node, i) =>
          node.map((y, t) =>
            lin([
              [1, y],
              [1, grads[k][i][t]],
              [-1, previous[i][t]],
            ]),
          ),
        ),
      );
      X2 = mix(
        X2.map((node, i) =>
          node.map((x, t) =>
            lin([
              [1, x],
              [-eta(k), Y2[i][t]],
            ]),
          ),
        ),
      );
    }
    const lr = { eta: 0.1, schedule: 'linear' };
    expectClose(await run(algorithmConfig({ name: 'gt-nsgdm', lr, beta }), grads, x0), X);
    expectClose(await run(algorithmConfig({ name: 'gt-dsgd', lr }), grads, x0), X2);
  });

  it('central references keep every node identical', async () => {
    for (const name of ['avg-polarize', 'central-muon', 'central-adamw']) {
      const nodes = await run(algorithmConfig({ name, lr: { eta: 0.01 } }), grads, x0);
      for (const node of nodes.slice(1)) expect(node).toEqual(nodes[0]);
      expect(nodes[0][0]).not.toEqual(Float32Array.from(x0[0]));
    }
  });
});

describe('gossip', () => {
  it('a mixing round computes Σ_j W[i][j]·Z_j with the real mixer', async () => {
    const backend = new CpuBackend();
    const net = new MemoryNetwork(N);
    const rng = new Rng(2);
    const values = Array.from({ length: N }, () => Float32Array.from({ length: 6 }, () => rng.normal()));
    const tensors = values.map((v) => backend.tensor([6], v));
    const mixers = values.map((_, i) => net.mixer(backend, i, fixedMixing(W)));
    await Promise.all(mixers.map((m, i) => m.mix([tensors[i]], { step: 0, round: 0 })));
    for (let i = 0; i < N; i++) {
      const expected = values[0].map((_, e) => W[i].reduce((s, w, j) => s + w * values[j][e], 0));
      for (let e = 0; e < 6; e++) expect(tensors[i].data[e]).toBeCloseTo(expected[e], 6);
    }
    // Two neighbours each on a ring, 6 float32 values per message.
    expect(net.bytesSent).toEqual([48, 48, 48, 48]);
  });

  it('the central average is refused outside the simulator', async () => {
    const backend = new CpuBackend();
    const lock = new Lockstep({
      backend,
      params: PARAMS,
      x0: PARAMS.map((p) => new Float32Array(p.shape.reduce((a, b) => a * b, 1))),
      nodes: 1,
      schedule: fixedMixing([[1]]),
      config: algorithmConfig({ name: 'central-muon', lr: { eta: 0.1 } }),
    });
    const algo = lock.algorithms[0];
    const grads = PARAMS.map((p) => backend.tensor(p.shape));
    const gossipOnly = { mix: async () => {} };
    await expect(algo.step({ step: 0, totalSteps: 1, grads, mixer: gossipOnly })).rejects.toThrow(
      /needs the exact network average/,
    );
  });
});

describe('algorithm configs', () => {
  it('reject bad input with the field named', () => {
    expect(() => algorithmConfig({ name: 'adam' })).toThrow(/name/);
    expect(() => algorithmConfig({ name: 'demuon', lr: { eta: 0 } })).toThrow(/lr\.eta/);
    expect(() => algorithmConfig({ name: 'demuon', lr: { eta: 1 }, theta: 1.5 })).toThrow(/theta/);
    expect(() =>
      algorithmConfig({ name: 'demuon', lr: { eta: 1 }, ns: { schedule: 'polar5', steps: 6 } }),
    ).toThrow(/polar5 schedule has 5 steps/);
    expect(() => algorithmConfig({ name: 'dsgd', lr: { eta: 1, schedule: 'cosine' } })).toThrow(/schedule/);
    expect(() => algorithmConfig({ name: 'dsgd', lr: { eta: 1 }, momentum: 0.9 })).toThrow(/momentum/);
  });
});
