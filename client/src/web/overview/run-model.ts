/**
 * The run's model as its members hold it now, for the overview's "Download the model" and "Try the
 * model": X̄ of the members' parameters, collected over WebRTC links the server only signals (see
 * client/src/net/model-collector.ts), packed into a model folder by a worker. Loaded on first use: the
 * overview itself carries no parser or WebRTC code.
 */
import { BpeTokenizer } from '@demuon/shared/data';
import { type GptConfig, gptConfig, gptParams } from '@demuon/shared/model';
import type { RunConfig } from '@demuon/shared/protocol';
import SimplePeer from 'simple-peer/simplepeer.min.js';
import { io } from 'socket.io-client';
import { averageOf, collectModel } from '../../net/model-collector';
import { SocketIoSignaling } from '../../net/signaling-socket';
import type { ModelSnapshot, PackageEvent, PackageRequest } from '../messages';

export interface RunModel {
  readonly run: RunConfig;
  readonly snapshot: ModelSnapshot;
  readonly peers: readonly string[];
  /** Members asked that sent nothing in time, and why. */
  readonly missing: readonly { peer: string; reason: string }[];
}

/** X̄ of every current member's parameters. */
export async function collectRunModel(runId: string): Promise<RunModel> {
  const socket = new SocketIoSignaling(io({ transports: ['websocket'], forceNew: true }));
  let model: GptConfig | undefined;
  try {
    let tokenizerUrl = '';
    const collected = await collectModel({
      socket,
      runId,
      connect: (options) => new SimplePeer(options),
      // The model's shape comes with the run, its vocabulary with the run's tokenizer.
      tensorSizes: async (run) => {
        const vocab = run.model.vocab ?? gptConfig(run.model.preset).vocabSize;
        tokenizerUrl = `${location.origin}/data/brown-${vocab}.tokenizer.json`;
        const response = await fetch(tokenizerUrl);
        if (!response.ok) throw new Error(`the server has no tokenizer for a vocabulary of ${vocab}`);
        const { vocabSize } = BpeTokenizer.fromJSON(await response.json());
        model = gptConfig(run.model.preset, { vocabSize });
        return gptParams(model).map((p) => p.shape.reduce((a, b) => a * b, 1));
      },
      timeoutMs: 30_000,
    });
    if (collected.peers.length === 0)
      throw new Error(
        `no member sent its parameters (${collected.missing.map((m) => `${m.peer}: ${m.reason}`).join('; ')})`,
      );
    const step = Math.min(...collected.peers.map((p) => p.step ?? 0));
    return {
      run: collected.run,
      snapshot: { model: model!, step, params: averageOf(collected.peers), tokenizerUrl },
      peers: collected.peers.map((p) => p.peer),
      missing: collected.missing,
    };
  } finally {
    socket.close();
  }
}

/** The model folder of `model`, zipped, with the validation loss its card records. */
export function packRunModel(model: RunModel): Promise<Extract<PackageEvent, { type: 'packaged' }>> {
  const worker = new Worker(new URL('../model-package-worker.ts', import.meta.url), { type: 'module' });
  const request: PackageRequest = {
    type: 'package',
    run: model.run,
    step: model.snapshot.step,
    peers: model.peers,
    params: model.snapshot.params.map((p) => p.slice()),
    origin: location.origin,
  };
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent<PackageEvent>) => {
      worker.terminate();
      if (event.data.type === 'packaged') resolve(event.data);
      else reject(new Error(event.data.message));
    };
    worker.onerror = (event) => {
      worker.terminate();
      reject(new Error(`the packing worker failed: ${event.message}`));
    };
    worker.postMessage(
      request,
      request.params.map((p) => p.buffer as ArrayBuffer),
    );
  });
}
