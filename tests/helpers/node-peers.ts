/**
 * In-process Node peers for networked tests: one signaling server on loopback, one onnxruntime engine and
 * Newton–Schulz backend shared by every peer (the tiny GPT), real socket.io clients and real WebRTC. Set up
 * in beforeAll, closed in afterAll.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckpointStore } from '@demuon/shared/checkpoint';
import { BatchSampler, planShards } from '@demuon/shared/data';
import { makeTopology } from '@demuon/shared/graph';
import { type GptConfig, gptConfig, initGptParams } from '@demuon/shared/model';
import { Lockstep, type StepReport } from '@demuon/shared/peer';
import type { Epoch, RunConfig } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import * as ort from 'onnxruntime-node';
import SimplePeer from 'simple-peer';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll } from 'vitest';
import { OrtGradientEngine, type OrtModule } from '../../client/src/engine/ort-engine';
import { NetworkPeer } from '../../client/src/net/network-peer';
import { SocketIoSignaling } from '../../client/src/net/signaling-socket';
import { prepareBrownData } from '../../client/src/node/corpus';
import { OrtNewtonSchulzBackend } from '../../client/src/node/fast-cpu-backend';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';

export type Peer = NetworkPeer<ReturnType<OrtNewtonSchulzBackend['tensor']>>;

export interface JoinOptions {
  waitForPeers?: number;
  onStep?: (peer: Peer, socket: Socket, report: StepReport, epoch: Epoch) => void;
  log?: (line: string) => void;
  connect?: (settings: SimplePeer.Options) => SimplePeer.Instance;
  /** Another server than the environment's (e.g. one the test restarts). */
  at?: SignalingServer;
  /** A server this process does not hold (another process, a load balancer): its URL and the run's token. */
  remote?: { url: string; token: string };
  checkpoints?: CheckpointStore;
}

export function nodePeerEnv(runs: RunConfig[], batch: number, prefix: string) {
  const env = {
    server: undefined as unknown as SignalingServer,
    engine: undefined as unknown as OrtGradientEngine,
    backend: undefined as unknown as OrtNewtonSchulzBackend,
    model: undefined as unknown as GptConfig,
    corpus: undefined as unknown as Awaited<ReturnType<typeof prepareBrownData>>,
    /** Connects a socket and joins `run`; peers joined one after another get indices in order. */
    join: async (run: RunConfig, options: JoinOptions = {}): Promise<Peer> => {
      const at = options.at ?? env.server;
      const url = options.remote?.url ?? at.url;
      const socket = io(url, { transports: ['websocket'], forceNew: true });
      sockets.push(socket);
      const peer: Peer = await NetworkPeer.join({
        socket: new SocketIoSignaling(socket),
        runId: run.id,
        token: options.remote?.token ?? at.runs.get(run.id)!.secretToken(),
        connect: options.connect ?? ((settings) => new SimplePeer({ ...settings, wrtc })),
        platform: 'node',
        engine: env.engine,
        backend: env.backend,
        data: { train: env.corpus.train, val: env.corpus.val, vocabSize: env.corpus.tokenizer.vocabSize },
        waitForPeers: options.waitForPeers ?? 1,
        log: options.log,
        onStep: (report, epoch) => options.onStep?.(peer, socket, report, epoch),
        ...(options.checkpoints ? { checkpoints: options.checkpoints } : {}),
      });
      peers.push(peer);
      return peer;
    },
  };
  let dataDir = '';
  const sockets: Socket[] = [];
  const peers: Peer[] = [];
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), prefix));
    env.server = await createSignalingServer({ port: 0, dataDir, runs, log: silentLogger });
    env.corpus = await prepareBrownData({ vocabSize: 512 });
    env.model = gptConfig('tiny', { vocabSize: env.corpus.tokenizer.vocabSize });
    env.engine = await OrtGradientEngine.create(ort as unknown as OrtModule, env.model, { batchSize: batch });
    env.backend = new OrtNewtonSchulzBackend();
  });
  afterAll(async () => {
    for (const p of peers) p.close();
    for (const s of sockets) s.disconnect();
    await env.server?.close();
    await env.engine?.dispose();
    await env.backend?.dispose();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return env;
}

/** Every node's final parameters when the simulator runs `run` on `nodes` nodes with the peers' seeds. */
export async function simulatedParams(
  env: ReturnType<typeof nodePeerEnv>,
  run: RunConfig,
  nodes: number,
): Promise<Float32Array[][]> {
  const plan = planShards(env.corpus.train, run.data, { nodes, seed: run.seed });
  const samplers = plan.nodes.map(
    (s) =>
      new BatchSampler(s.documents, {
        batchSize: run.batch,
        context: env.model.context,
        seed: run.seed * 1000 + s.node,
      }),
  );
  const lock = new Lockstep({
    backend: env.backend,
    params: env.engine.params,
    x0: initGptParams(env.model, run.seed),
    nodes,
    schedule: makeTopology('ring', nodes, { seed: run.seed }),
    config: run.algorithm,
  });
  for (let k = 0; k < run.steps; k++) {
    const grads = [];
    for (const [i, params] of (await lock.allParams()).entries()) {
      grads.push((await env.engine.lossAndGrads(params, samplers[i].next())).grads);
    }
    await lock.step(k, run.steps, grads);
  }
  const params = await lock.allParams();
  lock.release();
  return params;
}
