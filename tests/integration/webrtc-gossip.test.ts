/**
 * Gossip over real WebRTC data channels (simple-peer + @roamhq/wrtc on loopback): the networked mixer
 * computes bit-for-bit what the in-memory simulator computes with fp32 frames, and a bad frame from a
 * neighbour is contained.
 */

import {
  type Attack,
  attackingLink,
  GossipMixer,
  type GossipMixerOptions,
  neighbourhoodOf,
} from '@demuon/shared/gossip';
import { makeTopology } from '@demuon/shared/graph';
import { algorithmConfig, createAlgorithm, type ParamInfo } from '@demuon/shared/optim';
import { Lockstep } from '@demuon/shared/peer';
import { encodeTensorFrames, FRAME_HEADER_BYTES, runHash } from '@demuon/shared/protocol';
import { CpuBackend, type WireEncoding } from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { afterAll, describe, expect, it } from 'vitest';
import { WebRtcGossipLink } from '../../client/src/net/webrtc-link';

const N = 4;
const topology = makeTopology('ring', N);
const PARAMS: ParamInfo[] = [
  { name: 'w', shape: [48, 40], kind: 'matrix' }, // 1920 values: several 64 KiB frames per round
  { name: 'emb', shape: [300, 64], kind: 'embedding' },
  { name: 'b', shape: [40], kind: 'vector' },
];
const sizes = PARAMS.map((p) => p.shape.reduce((a, b) => a * b, 1));
const config = algorithmConfig({ name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } });
const STEPS = 4;
const peers: SimplePeer.Instance[] = [];

/** Links for N nodes with a connected data channel on every ring edge. */
async function ringOfLinks(encoding: WireEncoding): Promise<WebRtcGossipLink[]> {
  const links = Array.from(
    { length: N },
    () =>
      new WebRtcGossipLink({
        run: runHash('test'),
        encoding,
        tensorSizes: sizes,
        epoch: () => 1,
      }),
  );
  const connected: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const j = (i + 1) % N;
    const a = new SimplePeer({ initiator: true, wrtc });
    const b = new SimplePeer({ wrtc });
    a.on('signal', (s) => b.signal(s));
    b.on('signal', (s) => a.signal(s));
    connected.push(new Promise((r) => a.once('connect', r)), new Promise((r) => b.once('connect', r)));
    links[i].attach(j, a);
    links[j].attach(i, b);
    peers.push(a, b);
  }
  await Promise.all(connected);
  return links;
}

function gradients(seed: number): Float32Array[][][] {
  const rng = new Rng(seed);
  return Array.from({ length: STEPS }, () =>
    Array.from({ length: N }, () => sizes.map((n) => Float32Array.from({ length: n }, () => rng.normal()))),
  );
}

/** Robust mixing on every node, and node 0 gossiping corrupted values. */
type Hostility = GossipMixerOptions & { attack?: Attack };

async function runOverWebRtc(
  encoding: WireEncoding,
  grads: Float32Array[][][],
  x0: Float32Array[],
  { robust, attack }: Hostility = {},
) {
  const backend = new CpuBackend();
  const links = await ringOfLinks(encoding);
  const nodes = links.map((link, i) => ({
    algorithm: createAlgorithm(backend, PARAMS, x0, config),
    mixer: new GossipMixer(
      backend,
      neighbourhoodOf(topology, i),
      i === 0 && attack ? attackingLink(link, attack) : link,
      { robust },
    ),
    grads: PARAMS.map((p) => backend.tensor(p.shape)),
  }));
  for (let k = 0; k < STEPS; k++) {
    for (const [i, node] of nodes.entries()) {
      for (const [t, g] of grads[k][i].entries()) backend.write(node.grads[t], g);
    }
    await Promise.all(
      nodes.map((n) => n.algorithm.step({ step: k, totalSteps: STEPS, grads: n.grads, mixer: n.mixer })),
    );
  }
  return {
    params: await Promise.all(nodes.map((n) => Promise.all(n.algorithm.params.map((t) => backend.read(t))))),
    bytes: links.map(
      (l, i) => (l.stats((i + 1) % N)?.bytesSent ?? 0) + (l.stats((i + N - 1) % N)?.bytesSent ?? 0),
    ),
  };
}

afterAll(() => {
  for (const p of peers) p.destroy();
});

describe('gossip over WebRTC', () => {
  const rng = new Rng(1);
  const x0 = sizes.map((n) => Float32Array.from({ length: n }, () => 0.1 * rng.normal()));
  const grads = gradients(2);

  /** The in-memory simulator on the same gradients, gossiping through the same wire encoding. */
  async function simulate(encoding: WireEncoding, { robust, attack }: Hostility = {}) {
    const lock = new Lockstep({
      backend: new CpuBackend(),
      params: PARAMS,
      x0,
      nodes: N,
      schedule: topology,
      config,
      encoding,
      robust,
      attacks: attack ? new Map([[0, attack]]) : undefined,
    });
    for (let k = 0; k < STEPS; k++) await lock.step(k, STEPS, grads[k]);
    return lock;
  }

  it.each(['fp32', 'bf16', 'int8'] as const)(
    '%s gossip over WebRTC equals the simulator bit for bit',
    async (encoding) => {
      const lock = await simulate(encoding);
      const networked = await runOverWebRtc(encoding, grads, x0);
      expect(networked.params).toEqual(await lock.allParams());
      // Frames carry 40-byte headers on top of the encoded payload that the simulator counts.
      const payload = lock.network.bytesSent[0];
      expect(networked.bytes[0]).toBeGreaterThan(payload);
      expect(networked.bytes[0]).toBeLessThan(payload * 1.01);
    },
  );

  it.each([{ kind: 'sign-flip' }, { kind: 'scale', factor: 1e30 }] as const)(
    'robust mixing against a node gossiping %o equals the simulator bit for bit',
    async (attack) => {
      const hostility = { robust: { suspects: 1, dropBeyond: 10 }, attack };
      const lock = await simulate('fp32', hostility);
      const networked = await runOverWebRtc('fp32', grads, x0, hostility);
      expect(networked.params).toEqual(await lock.allParams());
      // The bad node was caught and left out: the honest nodes stay finite.
      expect(lock.robustCounts()[1].leftOut).toBeGreaterThan(0);
      for (const params of networked.params.slice(1))
        for (const t of params) expect(t.every(Number.isFinite)).toBe(true);
    },
  );

  it('bf16 gossip sends half the payload and stays close', async () => {
    const fp32 = await runOverWebRtc('fp32', grads, x0);
    const bf16 = await runOverWebRtc('bf16', grads, x0);
    expect(bf16.bytes[0] / fp32.bytes[0]).toBeCloseTo(0.5, 2);
    const diff = Math.max(...bf16.params[0][0].map((v, e) => Math.abs(v - fp32.params[0][0][e])));
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(0.02);
  });

  it('a neighbour sending malformed, oversized, NaN or stale frames is contained', async () => {
    const link = new WebRtcGossipLink({
      run: runHash('test'),
      encoding: 'fp32',
      tensorSizes: [3],
      epoch: () => 2,
    });
    const sender = new WebRtcGossipLink({
      run: runHash('test'),
      encoding: 'fp32',
      tensorSizes: [3],
      epoch: () => 2,
    });
    const a = new SimplePeer({ initiator: true, wrtc });
    const b = new SimplePeer({ wrtc });
    peers.push(a, b);
    a.on('signal', (x) => b.signal(x));
    b.on('signal', (x) => a.signal(x));
    await Promise.all([new Promise((r) => a.once('connect', r)), new Promise((r) => b.once('connect', r))]);
    link.attach(0, b);
    sender.attach(1, a);
    const nan = encodeTensorFrames(
      { encoding: 'fp32', run: runHash('test'), epoch: 2, step: 0, round: 0, tensor: 0 },
      Float32Array.of(1, 2, 3),
    )[0];
    new DataView(nan.buffer).setFloat32(FRAME_HEADER_BYTES, Number.NaN, true);
    const stale = encodeTensorFrames(
      { encoding: 'fp32', run: runHash('test'), epoch: 1, step: 0, round: 0, tensor: 0 },
      Float32Array.of(9, 9, 9),
    )[0];
    for (const bad of [new Uint8Array([1, 2, 3]), new Uint8Array(70_000), nan, stale]) a.write(bad);
    sender.send(1, { step: 0, round: 0 }, [Float32Array.of(1, 2, 3)]);
    expect(await link.receive(0, { step: 0, round: 0 })).toEqual([Float32Array.of(1, 2, 3)]);
    expect(link.stats(0)?.drops).toBe(4);
  });
});
