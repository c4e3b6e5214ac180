/**
 * DeMuon's second round streams: each tensor group goes out as soon as its X − η·dir(V) is final, while the
 * next group's Newton–Schulz runs. The tests check that this changes when bytes move, never what is mixed.
 */
import { type GossipLink, GossipMixer, MemoryNetwork, neighbourhoodOf } from '@demuon/shared/gossip';
import { makeTopology } from '@demuon/shared/graph';
import { algorithmConfig, createAlgorithm, type ParamInfo, tensorGroups } from '@demuon/shared/optim';
import { CpuBackend, type CpuTensor, type NewtonSchulzOptions } from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import { describe, expect, it } from 'vitest';

const PARAMS: ParamInfo[] = [
  { name: 'embed', shape: [24, 8], kind: 'embedding' },
  { name: 'ln', shape: [8], kind: 'vector' },
  { name: 'w1', shape: [8, 16], kind: 'matrix' },
  { name: 'w2', shape: [16, 8], kind: 'matrix' },
  { name: 'head', shape: [8, 24], kind: 'head' },
];
const NODES = 4;
const STEPS = 6;

function initial(seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return PARAMS.map((p) =>
    Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
  );
}

/** Runs DeMuon on a ring of 4 with seeded random gradients; returns every node's final parameters. */
async function train(overlap: number, backend: CpuBackend = new CpuBackend()) {
  const network = new MemoryNetwork(NODES);
  const topology = makeTopology('ring', NODES);
  const config = algorithmConfig({ name: 'demuon', lr: { eta: 0.05 }, overlap });
  const x0 = initial(1);
  const nodes = Array.from({ length: NODES }, (_, i) => ({
    algo: createAlgorithm(backend, PARAMS, x0, config),
    mixer: network.mixer(backend, i, topology),
    rng: new Rng(100 + i),
  }));
  for (let step = 0; step < STEPS; step++) {
    await Promise.all(
      nodes.map(({ algo, mixer, rng }) => {
        const grads = PARAMS.map((p) =>
          backend.tensor(
            p.shape,
            Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
          ),
        );
        return algo.step({ step, totalSteps: STEPS, grads, mixer });
      }),
    );
  }
  return Promise.all(nodes.map(({ algo }) => Promise.all(algo.params.map((t) => backend.read(t)))));
}

describe('tensor groups', () => {
  it('split the tensors in order into contiguous groups of about equal size', () => {
    const sizes = [100, 1, 50, 50, 100];
    const params = sizes.map((n, i): ParamInfo => ({ name: `t${i}`, shape: [n], kind: 'vector' }));
    expect(tensorGroups(params, 1)).toEqual([[0, 5]]);
    expect(tensorGroups(params, 3)).toEqual([
      [0, 2],
      [2, 4],
      [4, 5],
    ]);
    // Never more groups than tensors, and every tensor in exactly one group.
    const many = tensorGroups(params, 64);
    expect(many.length).toBe(5);
    expect(many.flatMap(([a, b]) => Array.from({ length: b - a }, (_, k) => a + k))).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('DeMuon with a streamed second round', () => {
  it('ends with the same parameters, bit for bit, whatever the number of groups', async () => {
    const whole = await train(1);
    for (const overlap of [2, 4, 64]) {
      const streamed = await train(overlap);
      for (const [i, node] of streamed.entries()) {
        for (const [t, values] of node.entries()) expect(values).toEqual(whole[i][t]);
      }
    }
    // The run did move: otherwise equality would prove nothing.
    expect(whole[0][2]).not.toEqual(initial(1)[2]);
  });

  it('sends a group before the next group is orthogonalised', async () => {
    const events: string[] = [];
    class RecordingBackend extends CpuBackend {
      override msgn(ins: readonly CpuTensor[], outs: readonly CpuTensor[], options: NewtonSchulzOptions) {
        events.push(`msgn ${ins.map((t) => t.shape.join('x')).join(',')}`);
        return super.msgn(ins, outs, options);
      }
    }
    const backend = new RecordingBackend();
    const network = new MemoryNetwork(2);
    const topology = makeTopology('complete', 2);
    const algos = [0, 1].map(() =>
      createAlgorithm(
        backend,
        PARAMS,
        initial(2),
        algorithmConfig({ name: 'demuon', lr: { eta: 0.05 }, overlap: 3 }),
      ),
    );
    const mixers = [0, 1].map((node) => {
      const link = network.link(node);
      const recording: GossipLink = {
        send: (to, key, tensors, part) => {
          if (node === 0 && key.round === 1) events.push(`send ${part?.first}+${tensors.length}`);
          link.send(to, key, tensors, part);
        },
        receive: (from, key) => link.receive(from, key),
      };
      return new GossipMixer(backend, neighbourhoodOf(topology, node), recording);
    });
    const rng = new Rng(5);
    await Promise.all(
      algos.map((algo, i) =>
        algo.step({
          step: 0,
          totalSteps: 1,
          grads: PARAMS.map((p) =>
            backend.tensor(
              p.shape,
              Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
            ),
          ),
          mixer: mixers[i],
        }),
      ),
    );
    const sends = events.filter((e) => e.startsWith('send'));
    expect(sends).toEqual(tensorGroups(PARAMS, 3).map(([from, to]) => `send ${from}+${to - from}`));
    // Node 0's first group is on the wire before the last group's Newton–Schulz has run.
    const lastMsgn = events.lastIndexOf(events.filter((e) => e.startsWith('msgn')).at(-1)!);
    expect(events.indexOf(sends[0])).toBeLessThan(lastMsgn);
  });
});
