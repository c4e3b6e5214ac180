/**
 * What happens to the trackers when a node leaves: its share of Σ_i V_i leaves with it, so the survivors
 * restart tracking from their own momentum, which makes Σ V = Σ M exact again over the new graph.
 */
import { MemoryNetwork } from '@demuon/shared/gossip';
import { makeTopology } from '@demuon/shared/graph';
import {
  algorithmConfig,
  createAlgorithm,
  type DecentralizedAlgorithm,
  type ParamInfo,
} from '@demuon/shared/optim';
import { CpuBackend, type CpuTensor } from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import { describe, expect, it } from 'vitest';
import { leastSquares } from '../../helpers/least-squares';

const problem = leastSquares({ nodes: 4, seed: 7 });
const PARAMS: ParamInfo[] = [{ name: 'X', shape: [problem.rows, problem.cols], kind: 'matrix' }];
const backend = new CpuBackend();

/** Runs `steps` iterations of the given nodes (ids index the problem's local losses) on a ring of them. */
async function run(
  nodes: { id: number; algo: DecentralizedAlgorithm<CpuTensor> }[],
  from: number,
  steps: number,
  rng: Rng,
) {
  const network = new MemoryNetwork(nodes.length);
  const topology = makeTopology('ring', nodes.length);
  const mixers = nodes.map((_, i) => network.mixer(backend, i, topology));
  const total = from + steps;
  for (let k = from; k < total; k++) {
    await Promise.all(
      nodes.map(async ({ id, algo }, i) => {
        const x = await backend.read(algo.params[0]);
        const g = backend.tensor(PARAMS[0].shape, problem.gradient(id, x, rng, 0.1, 3));
        await algo.step({ step: k, totalSteps: 2 * total, grads: [g], mixer: mixers[i] });
      }),
    );
  }
}

/** ‖Σ_i a_i − Σ_i b_i‖ over the nodes for two named state tensors (b absent: compare with zero). */
async function imbalance(nodes: { algo: DecentralizedAlgorithm<CpuTensor> }[], a: string, b?: string) {
  const total = new Float64Array(problem.rows * problem.cols);
  for (const { algo } of nodes) {
    const va = await backend.read(algo.state[a][0]);
    const vb = b ? await backend.read(algo.state[b][0]) : new Float32Array(va.length);
    for (let e = 0; e < total.length; e++) total[e] += va[e] - vb[e];
  }
  return Math.sqrt(total.reduce((s, v) => s + v * v, 0));
}

describe.each([
  ['demuon', { name: 'demuon', lr: { eta: 0.02 } }, 'tracker', 'momentum'],
  ['gt-nsgdm', { name: 'gt-nsgdm', lr: { eta: 0.05 } }, 'tracker', 'momentum'],
  ['suda-muon (ED)', { name: 'suda', backbone: 'ed', lr: { eta: 0.02 } }, 'dual', undefined],
] as const)('%s when a node leaves', (_name, config, tracker, tracked) => {
  it('restores the tracking invariant over the survivors and keeps converging', async () => {
    const x0 = [new Float32Array(problem.rows * problem.cols)];
    const nodes = [0, 1, 2, 3].map((id) => ({
      id,
      algo: createAlgorithm(backend, PARAMS, x0, algorithmConfig(config)),
    }));
    const rng = new Rng(3);
    await run(nodes, 0, 40, rng);
    expect(await imbalance(nodes, tracker, tracked)).toBeLessThan(1e-4); // the invariant while the graph is whole

    const survivors = nodes.slice(0, 3);
    expect(await imbalance(survivors, tracker, tracked)).toBeGreaterThan(1e-5); // node 3 left with its share
    for (const { algo } of survivors) algo.resetTracking();
    expect(await imbalance(survivors, tracker, tracked)).toBe(0);

    // The survivors now minimise the mean of their own three losses.
    const gradientNorm = async () => {
      const x = await backend.read(survivors[0].algo.params[0]);
      const g = new Float64Array(x.length);
      for (const { id } of survivors)
        for (const [e, v] of problem.localGradient(id, x).entries()) g[e] += v / 3;
      return Math.sqrt(g.reduce((s, v) => s + v * v, 0));
    };
    const before = await gradientNorm();
    await run(survivors, 40, 200, rng);
    expect(await imbalance(survivors, tracker, tracked)).toBeLessThan(1e-4);
    expect(await gradientNorm()).toBeLessThan(before / 2);
  });
});
