/**
 * The peer of a browser tab, in a Web Worker so that the page stays responsive: socket.io to the
 * signaling server, onnxruntime-web for gradients (WebGPU where the browser has it, else wasm), the
 * optimizer on the WGSL backend (on onnxruntime's own GPUDevice) or the CPU backend, and gossip through the
 * page's WebRTC connections (see rtc-proxy.ts). Checkpoints go to IndexedDB, in a slot of the run this tab
 * holds (checkpoint-slot.ts), so that a reloaded tab alone in its run takes up training where it was.
 */
import { decodeCorpusBundle } from '@demuon/shared/data';
import { type GptConfig, gptConfig, initGptParams } from '@demuon/shared/model';
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import type { Tensor, TensorBackend } from '@demuon/shared/tensor';
import type SimplePeer from 'simple-peer';
import { PeerRunner } from '../net/peer-runner';
import { slotKey, takeCheckpointSlot } from './checkpoint-slot';
import { createEngine } from './create-engine';
import { IdbCheckpointStore } from './idb-checkpoints';
import { LatestParameters, type TabGradientEngine } from './latest-parameters';
import type { Capabilities, ModelSnapshot, PageToWorker, WorkerToPage } from './messages';
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
  readonly model: GptConfig;
  /** The engine to train with; it notes the parameters of each step for the Try box. */
  readonly latest: LatestParameters;
  readonly backend: TensorBackend<Tensor>;
  readonly data: {
    train: ReturnType<typeof decodeCorpusBundle>['train'];
    val: ReturnType<typeof decodeCorpusBundle>['val'];
    vocabSize: number;
  };
  readonly start: Extract<PageToWorker, { type: 'start' }>;
  readonly capabilities: Capabilities;
  /** This tab's checkpoints of the run; none where the browser has no IndexedDB or Web Locks. */
  readonly checkpoints?: IdbCheckpointStore;
  /** The run's tokenizer, for the Try box. */
  readonly tokenizerUrl: string;
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
    case 'parameters-request':
      snapshot()
        .then((taken) =>
          post(
            { type: 'parameters', id: message.id, snapshot: taken },
            taken.params.map((p) => p.buffer as ArrayBuffer),
          ),
        )
        .catch((error: Error) => post({ type: 'parameters', id: message.id, error: error.message }));
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
  const checkpoints = await openCheckpoints(run.id, message.checkpointSlot);
  session = {
    capabilities,
    run,
    model,
    latest: new LatestParameters(engine as unknown as TabGradientEngine, backend),
    backend,
    data: { train: bundle.train, val: bundle.val, vocabSize: bundle.vocabSize },
    start: message,
    ...(checkpoints ? { checkpoints } : {}),
    tokenizerUrl: `${message.server}/data/brown-${vocabSize}.tokenizer.json`,
  };
  await train(session);
}

/** This tab's slot of the run and its store; without them the peer trains on, saving nothing. */
async function openCheckpoints(runId: string, preferred: number | undefined) {
  try {
    const slot = await takeCheckpointSlot(runId, preferred);
    const store = await IdbCheckpointStore.open(slotKey(runId, slot), (saved) =>
      post({ type: 'checkpoint-saved', ...saved }),
    );
    post({ type: 'checkpoint-slot', slot, location: store.location });
    return store;
  } catch (error) {
    const why = (error as Error).message;
    post({ type: 'checkpoint-slot', unavailable: why });
    log(`no checkpoints in this tab: ${why}`);
    return undefined;
  }
}

async function train(s: Session): Promise<void> {
  const { run, latest, backend, data, start, capabilities } = s;
  const current = new PeerRunner<Tensor>({
    socket: signaling,
    runId: run.id,
    token: start.token,
    ...(start.name ? { name: start.name } : {}),
    platform: 'browser',
    engine: latest.engine,
    backend,
    ...(capabilities.residentParams ? { resident: latest.engine } : {}),
    data,
    waitForPeers: start.waitForPeers,
    ...(s.checkpoints ? { checkpoints: s.checkpoints } : {}),
    now: () => performance.now(),
    connect: (options) => connect(options),
    log,
    onJoined: (peer) => post({ type: 'joined', peerId: peer.peerId, run }),
    onActivity: (activity) => {
      latest.activity(activity);
      post({ type: 'activity', activity });
    },
    onStep: (report, epoch) => {
      latest.stepped(report.step + 1);
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
  const outcome = await current.run().finally(() => {
    const peer = current.peer;
    // The parameters it ended with stay to try after the optimizer's tensors are gone.
    latest.finished(peer?.finalParams ?? null);
  });
  runner = null;
  const kind = leaving ? 'left' : outcome.kind === 'done' ? 'done' : 'paused';
  post({ type: 'activity', activity: { kind } });
}

/** A copy of the current parameters (the untrained ones before the first step) and how to sample them. */
async function snapshot(): Promise<ModelSnapshot> {
  if (!session) throw new Error('the peer has not loaded its model yet');
  const { model, run, latest, tokenizerUrl } = session;
  const taken = (await latest.snapshot()) ?? { step: 0, values: initGptParams(model, run.seed) };
  return { model, step: taken.step, params: taken.values, tokenizerUrl };
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
