/**
 * The peer of a browser tab, in a Web Worker so that the page stays responsive: socket.io to the
 * signaling server, onnxruntime-web for gradients (WebGPU where the browser has it, else wasm), the
 * optimizer on the WGSL backend (on onnxruntime's own GPUDevice) or the CPU backend, and gossip through the
 * page's WebRTC connections (see rtc-proxy.ts).
 */
import { decodeCorpusBundle } from '@demuon/shared/data';
import { gptConfig, type ResidentGradientEngine } from '@demuon/shared/model';
import { EVENTS, type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import { CpuBackend, type Tensor, type TensorBackend } from '@demuon/shared/tensor';
import * as ort from 'onnxruntime-web';
import type SimplePeer from 'simple-peer';
import { io, type Socket } from 'socket.io-client';
import { OrtGradientEngine, type OrtModule } from '../engine/ort-engine';
import { WebGpuBackend } from '../gpu/backend';
import { NetworkPeer } from '../net/network-peer';
import type { Capabilities, PageToWorker, WorkerToPage } from './messages';
import { RemotePeer } from './rtc-proxy';

/** The worker's global scope (the DOM typings this project compiles against have no worker scope). */
const scope = globalThis as unknown as {
  postMessage(message: WorkerToPage, transfer: Transferable[]): void;
  onmessage: ((event: MessageEvent<PageToWorker>) => void) | null;
};

// One wasm thread: threads need a cross-origin-isolated page, and the tab's other work runs beside it.
ort.env.wasm.numThreads = 1;

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
let peer: NetworkPeer<Tensor> | null = null;
let socket: Socket | null = null;
let leaving = false;
const remotes = new Map<number, RemotePeer>();
let nextRemote = 0;

scope.onmessage = (event) => {
  const message = event.data;
  switch (message.type) {
    case 'start':
      start(message).catch(fail);
      return;
    case 'pause':
      // Pausing leaves the run after this step; resuming joins again and takes a neighbour's state.
      peer?.stop();
      return;
    case 'resume':
      if (session && !peer) train(session).catch(fail);
      return;
    case 'leave':
      leaving = true;
      peer?.stop();
      if (!peer) post({ type: 'state', state: 'left' });
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

/** onnxruntime on WebGPU with the WGSL optimizer on the same device, or wasm with the CPU backend. */
async function createEngine(
  model: ReturnType<typeof gptConfig>,
  batchSize: number,
  { provider, resident }: { provider: 'auto' | 'webgpu' | 'wasm'; resident: boolean },
) {
  const module = ort as unknown as OrtModule;
  let fallbackReason: string | undefined;
  if (provider !== 'wasm') {
    if (!('gpu' in navigator)) fallbackReason = 'this browser has no WebGPU (navigator.gpu)';
    else {
      try {
        const adapter = await navigator.gpu.requestAdapter();
        if (!adapter) throw new Error('no WebGPU adapter');
        const engine = await OrtGradientEngine.create(module, model, {
          batchSize,
          sessionOptions: { executionProviders: ['webgpu'] },
        });
        // onnxruntime's own device: the WGSL kernels work on the same GPU memory.
        const device = (await ort.env.webgpu.device) as GPUDevice;
        const gpu = new WebGpuBackend(device);
        // Resident: onnxruntime reads the optimizer's parameter buffers and writes its gradient buffers.
        if (resident) engine.beforeGpuRun = () => gpu.flush();
        const backend = gpu as unknown as TensorBackend<Tensor>;
        const info = adapter.info;
        return {
          engine,
          backend,
          capabilities: {
            provider: 'webgpu',
            adapter: {
              vendor: info.vendor,
              architecture: info.architecture,
              device: info.device,
              description: info.description,
            },
            features: [...device.features].sort(),
            limits: limitsOf(device.limits),
            optimizerBackend: "WGSL kernels on onnxruntime's GPUDevice",
            residentParams: resident,
          } satisfies Capabilities,
        };
      } catch (error) {
        if (provider === 'webgpu') throw error;
        fallbackReason = `WebGPU failed: ${(error as Error).message}`;
      }
    }
  }
  const engine = await OrtGradientEngine.create(module, model, {
    batchSize,
    sessionOptions: { executionProviders: ['wasm'] },
  });
  return {
    engine,
    backend: new CpuBackend() as unknown as TensorBackend<Tensor>,
    capabilities: {
      provider: 'wasm',
      ...(fallbackReason ? { fallbackReason } : {}),
      features: [],
      limits: {},
      optimizerBackend: 'CPU (JavaScript)',
      residentParams: false,
    } satisfies Capabilities,
  };
}

function limitsOf(limits: GPUSupportedLimits): Record<string, number> {
  const picked: Record<string, number> = {};
  for (const key of [
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
  ] as const)
    picked[key] = limits[key];
  return picked;
}

async function train({ run, engine, backend, data, start, capabilities }: Session): Promise<void> {
  socket ??= io(start.server, { transports: ['websocket'] });
  post({ type: 'state', state: 'waiting' });
  let training = false;
  const current = await NetworkPeer.join({
    socket,
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
    onStep: (report, epoch) => {
      if (!training) post({ type: 'state', state: 'training' });
      training = true;
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
          dataEpochs: current.dataEpochs(report.step + 1),
          members: epoch.members.length,
          ...current.traffic(),
          links: current.lastLinks,
        },
      });
    },
  });
  peer = current as unknown as NetworkPeer<Tensor>;
  post({ type: 'joined', peerId: current.peerId, run });
  await current.train();
  const finished = !current.stopped;
  // Connections first: once the server has let the peer go, their late ICE signals would be refused.
  current.close();
  socket.emit(EVENTS.leave, {});
  peer = null;
  post({ type: 'state', state: leaving ? 'left' : finished ? 'done' : 'paused' });
  if (leaving) socket.disconnect();
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
