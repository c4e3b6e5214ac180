/**
 * Takes a run's model out, as a model folder (model.onnx, tokenizer, card) with its validation loss:
 * - from a live run: collects the current members' parameters over WebRTC (the server relays the signals
 *   and never sees a parameter) and averages them (X̄, the model the papers evaluate), or keeps one named
 *   peer's;
 * - from a peer's checkpoint (a device's folder, or one .ckpt file), when nobody trains any more.
 *
 *   npm run export -- --server http://HOST:PORT --run ID --out DIR [--peer ID]
 *   npm run export -- --checkpoint checkpoints/RUN/NAME --out DIR
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Checkpoint, CheckpointError, readCheckpoint } from '@demuon/shared/checkpoint';
import { fixedBatches } from '@demuon/shared/data';
import {
  type GptConfig,
  gptConfig,
  gptParams,
  type ModelCardDraft,
  runModelCard,
} from '@demuon/shared/model';
import type { RunConfig } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import * as ort from 'onnxruntime-node';
import SimplePeer from 'simple-peer';
import { io } from 'socket.io-client';
import { OrtGradientEngine, type OrtModule } from '../engine/ort-engine';
import { relayOnly } from '../net/ice-policy';
import { averageOf, collectModel } from '../net/model-collector';
import { SocketIoSignaling } from '../net/signaling-socket';
import { CheckpointDir } from './checkpoint-dir';
import { positiveInt, runCli, UsageError, usageChecked } from './cli-args';
import { prepareBrownData } from './corpus';
import { checkModelDirFree, writeModelDir } from './model-dir';

const USAGE = `usage: npm run export -- --server http://HOST:PORT --run ID --out DIR [options]
       npm run export -- --checkpoint PATH --out DIR
  --out DIR          a new (or empty) folder for the model
  --peer ID          one member's parameters instead of the average of every member's
  --timeout S        seconds to wait for the members (default 60)
  --relay-only       link with the members only through the TURN relays the server gives (its --turn)
  --checkpoint PATH  a peer's checkpoint folder (checkpoints/RUN/NAME) or file, instead of a live run`;

type Flags =
  | {
      kind: 'live';
      server: string;
      run: string;
      out: string;
      peer?: string;
      timeoutMs: number;
      relayOnly: boolean;
    }
  | { kind: 'checkpoint'; path: string; out: string };

function parseFlags(argv: string[]): Flags | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      run: { type: 'string' },
      out: { type: 'string' },
      peer: { type: 'string' },
      timeout: { type: 'string', default: '60' },
      checkpoint: { type: 'string' },
      'relay-only': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help';
  if (!values.out) throw new UsageError('--out is required');
  if (values.checkpoint !== undefined) {
    for (const flag of ['server', 'run', 'peer', 'relay-only'] as const)
      if (values[flag] !== undefined)
        throw new UsageError(`--${flag} goes with a live run, not --checkpoint`);
    return { kind: 'checkpoint', path: values.checkpoint, out: values.out };
  }
  for (const flag of ['server', 'run'] as const)
    if (!values[flag]) throw new UsageError(`--${flag} is required (or --checkpoint PATH)`);
  let server: string;
  try {
    server = new URL(values.server!).origin;
  } catch {
    throw new UsageError(`--server must be a URL such as http://localhost:8080, got '${values.server}'`);
  }
  return {
    kind: 'live',
    server,
    run: values.run!,
    out: values.out,
    ...(values.peer ? { peer: values.peer } : {}),
    timeoutMs: positiveInt('--timeout', values.timeout) * 1000,
    relayOnly: values['relay-only'] === true,
  };
}

/** Parameters to export, the run they are of, and what the card says of where they came from. */
interface Taken {
  readonly run: RunConfig;
  readonly params: Float32Array[];
  readonly card: Omit<Parameters<typeof runModelCard>[1], 'loss'>;
  readonly what: string;
}

/** The run's model and tokenizer on this machine (the tokenizer fixes the vocabulary). */
function modelOf(run: RunConfig) {
  const data = prepareBrownData({ vocabSize: run.model.vocab ?? gptConfig(run.model.preset).vocabSize });
  return { data, model: gptConfig(run.model.preset, { vocabSize: data.tokenizer.vocabSize }) };
}

const sizesOf = (model: GptConfig) => gptParams(model).map((p) => p.shape.reduce((a, b) => a * b, 1));

async function fromLiveRun(flags: Extract<Flags, { kind: 'live' }>): Promise<Taken> {
  const socket = new SocketIoSignaling(io(flags.server, { transports: ['websocket'] }));
  const connect = (options: SimplePeer.Options) => new SimplePeer({ ...options, wrtc });
  try {
    const { run, peers, missing } = await collectModel({
      socket,
      runId: flags.run,
      ...(flags.peer ? { peer: flags.peer } : {}),
      connect: flags.relayOnly ? relayOnly(connect) : connect,
      tensorSizes: (run) => sizesOf(modelOf(run).model),
      timeoutMs: flags.timeoutMs,
      log: (line) => console.log(line),
    });
    for (const { peer, reason } of missing) console.log(`peer ${peer} sent nothing: ${reason}`);
    if (peers.length === 0) throw new Error(`no member of run '${run.id}' sent its parameters`);
    const source: ModelCardDraft['source'] = flags.peer
      ? { kind: 'peer', peer: flags.peer }
      : { kind: 'average', peers: peers.length };
    return {
      run,
      params: flags.peer ? peers[0].params : averageOf(peers),
      card: { step: Math.min(...peers.map((p) => p.step ?? 0)), source, peers: peers.map((p) => p.peer) },
      what: flags.peer
        ? `peer ${flags.peer}'s parameters`
        : `the average of ${peers.length} peers' parameters`,
    };
  } finally {
    socket.close();
  }
}

async function fromCheckpointPath(path: string): Promise<Taken> {
  const full = resolve(path);
  if (!existsSync(full)) throw new Error(`no checkpoint at ${full}`);
  const folder = statSync(full).isDirectory();
  let checkpoint: Checkpoint | undefined;
  if (folder) {
    checkpoint = await new CheckpointDir(full).load((file, reason) =>
      console.log(`${file} is not usable: ${reason}`),
    );
    if (!checkpoint) throw new Error(`${full} holds no readable checkpoint (latest.ckpt or previous.ckpt)`);
  } else {
    const read = readCheckpoint(readFileSync(full));
    if (read instanceof CheckpointError) throw new Error(`${full}: ${read.message}`);
    checkpoint = read;
  }
  const { header, values } = checkpoint;
  const specs = gptParams(modelOf(header.run).model);
  // The parameters come first in a checkpoint (checkpointTensors): they must be this model's, in order.
  for (const [i, p] of specs.entries()) {
    const t = header.tensors[i];
    if (t?.group !== 'params' || t.name !== p.name || t.shape.join('×') !== p.shape.join('×'))
      throw new Error(
        `${full}: tensor ${i} is ${t ? `${t.group}/${t.name} [${t.shape.join('×')}]` : 'missing'}, ` +
          `not the model's ${p.name} [${p.shape.join('×')}]`,
      );
  }
  const peer = basename(folder ? full : dirname(full));
  return {
    run: header.run,
    params: values.slice(0, specs.length) as Float32Array[],
    card: { step: header.step, source: { kind: 'peer', peer }, peers: [peer] },
    what: `the checkpoint of ${peer} in run ${header.runId}`,
  };
}

async function main(argv: string[]): Promise<void> {
  const flags = usageChecked(() => parseFlags(argv));
  if (flags === 'help') return console.log(USAGE);
  checkModelDirFree(flags.out);
  const taken = flags.kind === 'live' ? await fromLiveRun(flags) : await fromCheckpointPath(flags.path);
  const { data, model } = modelOf(taken.run);
  const loss = await validationLoss(taken.run, model, data, taken.params);
  const card = writeModelDir(flags.out, {
    config: model,
    params: taken.params,
    tokenizer: data.tokenizer.toJSON(),
    card: runModelCard(taken.run, { ...taken.card, loss }),
  });
  console.log(`wrote ${flags.out}: ${taken.what} at step ${card.step}, validation loss ${loss.toFixed(6)}`);
}

/** The loss of `params` on the run's validation batches (those every peer evaluates on). */
async function validationLoss(
  run: RunConfig,
  model: GptConfig,
  data: ReturnType<typeof prepareBrownData>,
  params: Float32Array[],
): Promise<number> {
  const batches = fixedBatches(data.val, {
    batchSize: run.batch,
    context: model.context,
    count: run.evalBatches,
    seed: run.seed,
  });
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, { batchSize: run.batch });
  try {
    let sum = 0;
    for (const batch of batches) sum += await engine.loss(params, batch);
    return sum / batches.length;
  } finally {
    await engine.dispose();
  }
}

runCli(() => main(process.argv.slice(2)), USAGE);
