/**
 * The peer of a browser tab, in a Web Worker so that the page stays responsive: socket.io to the
 * signaling server, onnxruntime-web for gradients (WebGPU where the browser has it, else wasm), the
 * optimizer on the WGSL backend (on onnxruntime's own GPUDevice) or the CPU backend, and gossip through the
 * page's WebRTC connections (see rtc-proxy.ts).
 */
import { decodeCorpusBundle } from '@demuon/shared/data';
import { gptConfig, type ResidentGradientEngine } from '@demuon/shared/model';
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import type { Tensor, TensorBackend } from '@demuon/shared/tensor';
import type SimplePeer from 'simple-peer';
import type { OrtGradientEngine } from '../engine/ort-engine';
import { PeerRunner } from '../net/peer-runner';
import { createEngine } from './create-engine';
import type { Capabilities, PageToWorker, WorkerToPage } from './messages';
import { RemotePeer } from './rtc-proxy';
import { RemoteSignaling } from './socket-proxy';

/** The worker's global scope (the DOM typings this project compiles against have no worker scope). */
const scope = globalThis as unknown as {
  postMessage(message: WorkerToPage, transfer: Transferable[]): void;
  onmessage: ((event: MessageEvent<PageToWorker>) => void) | null;
};

const post = (message: WorkerToPage, transfer: Transferable[] = []) => scope.postMessage(message, transfer);
const log = (line: string) => post({ type: 'log', line });

interface Session {
  readonly run: RunConfig;
  readonly engine: OrtGradientEngine;
  readonly backend: TensorBackend<Tensor>;
  readonly data: {
    train: ReturnType<typeof decodeCorpusBundle>['train'];
    val: ReturnType<typeof decodeCorpusBundle>['val'];
    vocabSize: number;
  };
  readonly start: Extract<PageToWorker, { type: 'start' }>;
  readonly capabilities: Capabilities;
}

let session: Session | null = null;
let runner: PeerRunner<Tensor> | null = null;
let leaving = false;
/** The page's signaling socket: its heartbeats go out while a step blocks this worker. */
const signaling = new RemoteSignaling(post);
const remotes = new Map<number, RemotePeer>();
let nextRemote = 0;

scope.onmessage = (event) => {
  const message = event.data;
  if (signaling.receive(message)) return;
  switch (message.type) {
    case 'start':
      start(message).catch(fail);
      return;
    case 'pause':
      // Pausing leaves the run after this step; resuming joins again and takes a neighbour's state.
      runner?.stop();
      return;
    case 'resume':
      if (session && !runner) train(session).catch(fail);
      return;
    case 'leave':
      leaving = true;
      runner?.stop();
      if (!runner) post({ type: 'activity', activity: { kind: 'left' } });
      return;
    case 'rtc-event':
      remotes.get(message.id)?.receive(message);
      return;
  }
};

function fail(error: unknown): void {
  post({ type: 'error', message: error instanceof Error ? error.message : String(error) });
}

async function start(message: Extract<PageToWorker, { type: 'start' }>): Promise<void> {
  const response = await fetch(`${message.server}/api/runs/${encodeURIComponent(message.runId)}`);
  if (!response.ok) throw new Error(`the server has no run '${message.runId}' (HTTP ${response.status})`);
  const run = RunConfigSchema.parse(((await response.json()) as { config: unknown }).config);
  const vocabSize = run.model.vocab ?? gptConfig(run.model.preset).vocabSize;
  const corpus = await fetch(`${message.server}/data/brown-${vocabSize}.bin`);
  if (!corpus.ok)
    throw new Error(
      `the server has no corpus for vocabulary ${vocabSize} (build it with npm run build:web -- --vocab ${vocabSize})`,
    );
  const bundle = decodeCorpusBundle(new Uint8Array(await corpus.arrayBuffer()));
  const model = gptConfig(run.model.preset, { vocabSize: bundle.vocabSize });
  const { engine, backend, capabilities } = await createEngine(model, run.batch, message);
  post({ type: 'capabilities', capabilities });
  session = {
    capabilities,
    run,
    engine,
    backend,
    data: { train: bundle.train, val: bundle.val, vocabSize: bundle.vocabSize },
    start: message,
  };
  await train(session);
}

async function train({ run, engine, backend, data, start, capabilities }: Session): Promise<void> {
  const current = new PeerRunner<Tensor>({
    socket: signaling,
    runId: run.id,
    token: start.token,
    ...(start.name ? { name: start.name } : {}),
    platform: 'browser',
    engine,
    backend,
    ...(capabilities.residentParams ? { resident: engine as unknown as ResidentGradientEngine<Tensor> } : {}),
    data,
    waitForPeers: start.waitForPeers,
    now: () => performance.now(),
    connect: (options) => connect(options),
    log,
    onJoined: (peer) => post({ type: 'joined', peerId: peer.peerId, run }),
    onActivity: (activity) => post({ type: 'activity', activity }),
    onStep: (report, epoch) => {
      const peer = current.peer!;
      post({
        type: 'step',
        step: {
          step: report.step + 1,
          totalSteps: run.steps,
          trainLoss: report.trainLoss,
          ...(report.valLoss !== undefined ? { valLoss: report.valLoss } : {}),
          ...(report.disagreement !== undefined ? { disagreement: report.disagreement } : {}),
          timing: report.timing,
          epoch: epoch.epoch,
          dataEpochs: peer.dataEpochs(report.step + 1),
          members: epoch.members.length,
          ...peer.traffic(),
          links: peer.lastLinks,
        },
      });
    },
  });
  runner = current;
  const outcome = await current.run();
  runner = null;
  const kind = leaving ? 'left' : outcome.kind === 'done' ? 'done' : 'paused';
  post({ type: 'activity', activity: { kind } });
}

function connect(options: SimplePeer.Options): SimplePeer.Instance {
  const id = nextRemote++;
  const remote = new RemotePeer(id, (message) => {
    if (message.type === 'rtc-write') post(message, []);
    else post(message);
  });
  remote.on('close', () => remotes.delete(id));
  remotes.set(id, remote);
  post({
    type: 'rtc-create',
    id,
    options: { initiator: options.initiator ?? false, config: options.config },
  });
  return remote as unknown as SimplePeer.Instance;
}
