/**
 * A networked run end to end: the signaling server on loopback, four peers joining with real
 * socket.io clients, WebRTC data channels to their ring neighbours, DeMuon on the tiny GPT with fp32
 * gossip. The peers end where the in-process simulator ends with the same seeds: the same parameters.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchSampler, planShards } from '@demuon/shared/data';
import { makeTopology } from '@demuon/shared/graph';
import { gptConfig, initGptParams } from '@demuon/shared/model';
import { Lockstep } from '@demuon/shared/peer';
import { RunConfigSchema } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import * as ort from 'onnxruntime-node';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OrtGradientEngine, type OrtModule } from '../../client/src/engine/ort-engine';
import { NetworkPeer } from '../../client/src/net/network-peer';
import { prepareBrownData } from '../../client/src/node/corpus';
import { OrtNewtonSchulzBackend } from '../../client/src/node/fast-cpu-backend';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';

const N = 4;
const RUN = RunConfigSchema.parse({
  id: 'net',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
  steps: 12,
  batch: 4,
  evalEvery: 6,
  evalBatches: 1,
  seed: 5,
});

const FAULT_RUN = RunConfigSchema.parse({ ...RUN, id: 'net-fault', steps: 16 });
const LATE_RUN = RunConfigSchema.parse({ ...RUN, id: 'net-late', steps: 14 });

let server: SignalingServer;
let dataDir: string;
const sockets: Socket[] = [];
const peers: NetworkPeer<ReturnType<OrtNewtonSchulzBackend['tensor']>>[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'networked-run-'));
  server = await createSignalingServer({
    port: 0,
    dataDir,
    runs: [RUN, FAULT_RUN, LATE_RUN],
    log: silentLogger,
  });
});

afterAll(async () => {
  for (const p of peers) p.close();
  for (const s of sockets) s.disconnect();
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('four peers over WebRTC train to exactly the simulator’s parameters', async () => {
  const token = server.runs.get(RUN.id)!.secretToken();
  const data = await prepareBrownData({ vocabSize: 512 });
  const model = gptConfig('tiny', { vocabSize: data.tokenizer.vocabSize });
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, { batchSize: RUN.batch });
  const backend = new OrtNewtonSchulzBackend();
  const corpus = { train: data.train, val: data.val, vocabSize: data.tokenizer.vocabSize };

  // Join one after another so that join order (= topology index) is known.
  for (let i = 0; i < N; i++) {
    const socket = io(server.url, { transports: ['websocket'], forceNew: true });
    sockets.push(socket);
    peers.push(
      await NetworkPeer.join({
        socket,
        runId: RUN.id,
        token,
        platform: 'node',
        engine,
        backend,
        data: corpus,
        wrtc,
        waitForPeers: N,
      }),
    );
  }
  await Promise.all(peers.map((p) => p.train()));

  // The simulator with the same seeds, shards and samplers.
  const plan = planShards(data.train, RUN.data, { nodes: N, seed: RUN.seed });
  const samplers = plan.nodes.map(
    (s) =>
      new BatchSampler(s.documents, {
        batchSize: RUN.batch,
        context: model.context,
        seed: RUN.seed * 1000 + s.node,
      }),
  );
  const lock = new Lockstep({
    backend,
    params: engine.params,
    x0: initGptParams(model, RUN.seed),
    nodes: N,
    schedule: makeTopology('ring', N, { seed: RUN.seed }),
    config: RUN.algorithm,
  });
  for (let k = 0; k < RUN.steps; k++) {
    const grads = [];
    for (const [i, params] of (await lock.allParams()).entries()) {
      grads.push((await engine.lossAndGrads(params, samplers[i].next())).grads);
    }
    await lock.step(k, RUN.steps, grads);
  }
  for (const [i, peer] of peers.entries()) expect(peer.finalParams).toEqual(await lock.nodeParams(i));

  // The server saw every peer's metrics.
  const response = await fetch(`${server.url}/api/runs/${RUN.id}/metrics.json`);
  const { points } = (await response.json()) as {
    points: { peer: string; step: number; valLoss?: number }[];
  };
  expect(new Set(points.map((p) => p.peer)).size).toBe(N);
  expect(points.some((p) => p.step === RUN.steps && p.valLoss !== undefined)).toBe(true);
  await engine.dispose();
  await backend.dispose();
});

it('a peer killed mid-run: the others finish on the new epoch and agree', async () => {
  const run = FAULT_RUN;
  const token = server.runs.get(run.id)!.secretToken();
  const data = await prepareBrownData({ vocabSize: 512 });
  const model = gptConfig('tiny', { vocabSize: data.tokenizer.vocabSize });
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, { batchSize: run.batch });
  const backend = new OrtNewtonSchulzBackend();
  const corpus = { train: data.train, val: data.val, vocabSize: data.tokenizer.vocabSize };
  const group: NetworkPeer<ReturnType<OrtNewtonSchulzBackend['tensor']>>[] = [];
  const groupSockets: Socket[] = [];
  const lastEpochSize: number[] = [];
  for (let i = 0; i < N; i++) {
    const socket = io(server.url, { transports: ['websocket'], forceNew: true });
    groupSockets.push(socket);
    sockets.push(socket);
    const victim = i === N - 1;
    const peer: NetworkPeer<ReturnType<OrtNewtonSchulzBackend['tensor']>> = await NetworkPeer.join({
      socket,
      runId: run.id,
      token,
      platform: 'node',
      engine,
      backend,
      data: corpus,
      wrtc,
      waitForPeers: N,
      onStep: (report, epoch) => {
        lastEpochSize[i] = epoch.members.length;
        if (victim && report.step === 3) {
          // As a closed tab does: its links and its socket vanish mid-run.
          peer.close();
          socket.disconnect();
        }
      },
    });
    group.push(peer);
    peers.push(peer);
  }
  await Promise.all(group.map((p) => p.train()));
  const survivors = group.slice(0, N - 1);
  for (const [i] of survivors.entries()) expect(lastEpochSize[i]).toBe(N - 1);
  const finals = survivors.map((p) => p.finalParams!);
  for (const params of finals.slice(1)) {
    const diff = Math.max(
      ...params.map((t, k) => Math.max(...t.map((v, e) => Math.abs(v - finals[0][k][e])))),
    );
    expect(diff).toBeLessThan(1e-3);
  }
  const response = await fetch(`${server.url}/api/runs/${run.id}`);
  const { state } = (await response.json()) as { state: { members: unknown[] } };
  expect(state.members).toHaveLength(N - 1);
  await engine.dispose();
  await backend.dispose();
});

it('a late joiner takes its state from a neighbour and trains in step with the others', async () => {
  const run = LATE_RUN;
  const token = server.runs.get(run.id)!.secretToken();
  const data = await prepareBrownData({ vocabSize: 512 });
  const model = gptConfig('tiny', { vocabSize: data.tokenizer.vocabSize });
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, { batchSize: run.batch });
  const backend = new OrtNewtonSchulzBackend();
  const corpus = { train: data.train, val: data.val, vocabSize: data.tokenizer.vocabSize };
  type Peer = NetworkPeer<ReturnType<OrtNewtonSchulzBackend['tensor']>>;
  const logs: string[] = [];
  const firstStep = new Map<Peer, number>();
  const start = async (waitForPeers: number, onStep?: (step: number) => void): Promise<Peer> => {
    const socket = io(server.url, { transports: ['websocket'], forceNew: true });
    sockets.push(socket);
    const peer: Peer = await NetworkPeer.join({
      socket,
      runId: run.id,
      token,
      platform: 'node',
      engine,
      backend,
      data: corpus,
      wrtc,
      waitForPeers,
      log: (line) => logs.push(line),
      onStep: (report) => {
        if (!firstStep.has(peer)) firstStep.set(peer, report.step);
        onStep?.(report.step);
      },
    });
    peers.push(peer);
    return peer;
  };
  let late: Promise<Peer> | null = null;
  const early = [
    await start(3, (step) => {
      if (step === 3 && !late) late = start(1);
    }),
    await start(3),
    await start(3),
  ];
  const training = early.map((p) => p.train());
  while (!late) await new Promise((r) => setTimeout(r, 50));
  const joiner = await (late as Promise<Peer>);
  await Promise.all([...training, joiner.train()]);

  expect(firstStep.get(joiner)).toBeGreaterThan(3);
  expect(logs.some((l) => l.startsWith('took parameters and optimizer state from'))).toBe(true);
  const finals = [...early, joiner].map((p) => p.finalParams!);
  const spread = Math.max(
    ...finals
      .slice(1)
      .map((params) =>
        Math.max(...params.map((t, k) => Math.max(...t.map((v, e) => Math.abs(v - finals[0][k][e]))))),
      ),
  );
  console.log(
    `late joiner started at step ${firstStep.get(joiner)}; largest parameter difference at the end ${spread.toExponential(2)}`,
  );
  expect(spread).toBeLessThan(1e-2);
  await engine.dispose();
  await backend.dispose();
});
