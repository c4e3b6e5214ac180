/**
 * Taking a live run's model out: members (real socket.io, real WebRTC, onnxruntime-node) send their
 * parameters to a collector the server names, the server relaying only signals. `npm run export` writes
 * the average X̄ as a model folder whose loss, measured again in a fresh onnxruntime session, is the loss
 * of X̄ on the run's validation batches; one named peer's parameters arrive bit for bit.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedBatches } from '@demuon/shared/data';
import { gptParams } from '@demuon/shared/model';
import { RunConfigSchema } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { io } from 'socket.io-client';
import { afterAll, expect, it } from 'vitest';
import { collectModel } from '../../client/src/net/model-collector';
import { SocketIoSignaling } from '../../client/src/net/signaling-socket';
import { readModelDir } from '../../client/src/node/model-dir';
import { evaluateModel } from '../../client/src/node/model-eval';
import { nodePeerEnv, type Peer } from '../helpers/node-peers';
import { runExport } from '../helpers/peer-process';

const N = 3;
const RUN = RunConfigSchema.parse({
  id: 'live-export',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05 } },
  steps: 12,
  batch: 4,
  evalEvery: 6,
  evalBatches: 2,
  seed: 7,
  gossipTimeoutMs: 60_000,
});
const env = nodePeerEnv([RUN], RUN.batch, 'model-export-live-');
const out = mkdtempSync(join(tmpdir(), 'model-export-live-out-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const collector = () =>
  new SocketIoSignaling(io(env.server.url, { transports: ['websocket'], forceNew: true }));
const sizes = () => gptParams(env.model).map((p) => p.shape.reduce((a, b) => a * b, 1));

it('exports the average of the members and one named member, through links the server only signals', async () => {
  const peers: Peer[] = [];
  for (let i = 0; i < N; i++) peers.push(await env.join(RUN, { waitForPeers: N }));
  await Promise.all(peers.map((p) => p.train()));

  // One named peer: its very parameters.
  const socket = collector();
  const one = await collectModel({
    socket,
    runId: RUN.id,
    peer: peers[1].peerId,
    connect: (o) => new SimplePeer({ ...o, wrtc }),
    tensorSizes: sizes,
  });
  socket.close();
  expect(one.missing).toEqual([]);
  expect(one.peers.map((p) => p.peer)).toEqual([peers[1].peerId]);
  expect(one.peers[0].params).toEqual(peers[1].finalParams);

  // The average, as a model folder.
  const dir = join(out, 'average');
  const result = await runExport(['--server', env.server.url, '--run', RUN.id, '--out', dir]);
  expect(result.code, result.output).toBe(0);
  const model = readModelDir(dir);
  expect(model.card.source).toEqual({ kind: 'average', peers: N });
  expect(new Set(model.card.peers)).toEqual(new Set(peers.map((p) => p.peerId)));
  expect(model.card.step).toBe(RUN.steps);

  // X̄ of the members' final parameters, on the run's validation batches, measured here.
  const mean = peers[0].finalParams!.map((t, k) => {
    const m = new Float32Array(t.length);
    for (const p of peers) for (let e = 0; e < m.length; e++) m[e] += p.finalParams![k][e];
    for (let e = 0; e < m.length; e++) m[e] /= N;
    return m;
  });
  const batches = fixedBatches(env.corpus.val, {
    batchSize: RUN.batch,
    context: env.model.context,
    count: RUN.evalBatches,
    seed: RUN.seed,
  });
  let sum = 0;
  for (const b of batches) sum += await env.engine.loss(mean, b);
  expect(model.card.validation.loss).toBeCloseTo(sum / batches.length, 5);
  // And again from model.onnx alone, in a fresh session.
  const again = await evaluateModel(model);
  console.log(
    `exported X̄ of ${N} peers: card loss ${model.card.validation.loss.toFixed(6)}, evaluate ${again.loss.toFixed(6)}`,
  );
  expect(Math.abs(again.loss - model.card.validation.loss)).toBeLessThan(1e-4);
});

it('refuses clearly, and writes nothing, for an unknown run, a busy folder or bad flags', async () => {
  const unknown = await runExport(['--server', env.server.url, '--run', 'nope', '--out', join(out, 'nope')]);
  expect(unknown.code).toBe(1);
  expect(unknown.output).toContain(`no run "nope"`);

  const busy = join(out, 'busy');
  rmSync(busy, { recursive: true, force: true });
  mkdirSync(busy);
  writeFileSync(join(busy, 'keep.txt'), 'mine');
  const refused = await runExport(['--server', env.server.url, '--run', RUN.id, '--out', busy]);
  expect(refused.code).toBe(1);
  expect(refused.output).toMatch(/not empty/);
  expect(readdirSync(busy)).toEqual(['keep.txt']);
  expect(readFileSync(join(busy, 'keep.txt'), 'utf8')).toBe('mine');

  const flag = await runExport(['--server', 'not a url', '--run', RUN.id, '--out', join(out, 'x')]);
  expect(flag.code).toBe(2);
  expect(flag.output).toContain('--server must be a URL');
});
