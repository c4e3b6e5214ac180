import { algorithmConfig, createAlgorithm } from '@demuon/shared/optim';
import {
  receiveState,
  type StateKey,
  type StateLink,
  sendState,
  transferredTensors,
} from '@demuon/shared/peer';
import { CpuBackend } from '@demuon/shared/tensor';
import { describe, expect, it } from 'vitest';

/** Two ends of a link in memory: what one sends, the other receives, by key. */
function memoryLink(): StateLink & { sent: StateKey[] } {
  const mailbox = new Map<string, Float32Array[]>();
  const waiting = new Map<string, (t: Float32Array[]) => void>();
  const id = (k: StateKey) => `${k.exchange}.${k.step}.${k.round}`;
  const sent: StateKey[] = [];
  return {
    sent,
    send(_to, key, tensors) {
      sent.push(key);
      const copy = tensors.map((t) => t.slice());
      const w = waiting.get(id(key));
      if (w) w(copy);
      else mailbox.set(id(key), copy);
    },
    receive(_from, key) {
      const ready = mailbox.get(id(key));
      if (ready) return Promise.resolve(ready);
      return new Promise((resolve) => waiting.set(id(key), resolve));
    },
  };
}

describe('state transfer', () => {
  it("hands a late joiner a neighbour's parameters and optimizer state, group by group", async () => {
    const backend = new CpuBackend();
    const params = [
      { name: 'w', shape: [3, 2], kind: 'matrix' as const },
      { name: 'b', shape: [2], kind: 'vector' as const },
    ];
    const config = algorithmConfig({ name: 'demuon', lr: { eta: 0.1 } });
    const x0 = [new Float32Array(6).fill(1), new Float32Array(2).fill(2)];
    const veteran = createAlgorithm(backend, params, x0, config);
    const joiner = createAlgorithm(backend, params, x0, config);
    // The veteran has moved on: every tensor of its state differs from the joiner's.
    for (const [g, group] of transferredTensors(veteran).entries())
      for (const [i, t] of group.entries()) backend.write(t, new Float32Array(t.size).fill(10 * g + i + 0.5));
    const link = memoryLink();
    const received = receiveState(link, backend, joiner, 0, 40);
    await sendState(link, backend, veteran, [1], 40);
    await received;
    expect(link.sent.every((k) => k.exchange === 'state' && k.step === 40)).toBe(true);
    expect(link.sent.map((k) => k.round)).toEqual(transferredTensors(veteran).map((_, g) => g));
    // DeMuon's groups: parameters, momentum, tracker. The joiner has the veteran's parameters and
    // momentum; its tracker restarts from its momentum (V ← M), as after every change of the graph.
    const [x, m] = transferredTensors(veteran);
    const [jx, jm, jv] = transferredTensors(joiner);
    for (const [i, t] of jx.entries()) expect(await backend.read(t)).toEqual(await backend.read(x[i]));
    for (const [i, t] of jm.entries()) expect(await backend.read(t)).toEqual(await backend.read(m[i]));
    for (const [i, t] of jv.entries()) expect(await backend.read(t)).toEqual(await backend.read(m[i]));
    expect(await backend.read(joiner.params[0])).toEqual(new Float32Array(6).fill(0.5));
  });
});
