/**
 * Takes a live run's model out: collects the current members' parameters over WebRTC (the server relays
 * the signals and never sees a parameter), averages them (X̄, the model the papers evaluate) or keeps one
 * named peer's, measures the validation loss, and writes a model folder (model.onnx, tokenizer, card).
 *
 *   npm run export -- --server http://HOST:PORT --run ID --out DIR [--peer ID]
 */
import { parseArgs } from 'node:util';
import { fixedBatches } from '@demuon/shared/data';
import { gptConfig, gptParams, modelCardRunFields } from '@demuon/shared/model';
import type { RunConfig } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import * as ort from 'onnxruntime-node';
import SimplePeer from 'simple-peer';
import { io } from 'socket.io-client';
import { OrtGradientEngine, type OrtModule } from '../engine/ort-engine';
import { averageOf, type CollectedModel, collectModel } from '../net/model-collector';
import { SocketIoSignaling } from '../net/signaling-socket';
import { positiveInt, runCli, UsageError, usageChecked } from './cli-args';
import { prepareBrownData } from './corpus';
import { checkModelDirFree, writeModelDir } from './model-dir';

const USAGE = `usage: npm run export -- --server http://HOST:PORT --run ID --out DIR [options]
  --out DIR          a new (or empty) folder for the model
  --peer ID          one member's parameters instead of the average of every member's
  --timeout S        seconds to wait for the members (default 60)`;

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string' },
      run: { type: 'string' },
      out: { type: 'string' },
      peer: { type: 'string' },
      timeout: { type: 'string', default: '60' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help' as const;
  for (const flag of ['server', 'run', 'out'] as const)
    if (!values[flag]) throw new UsageError(`--${flag} is required`);
  let server: string;
  try {
    server = new URL(values.server!).origin;
  } catch {
    throw new UsageError(`--server must be a URL such as http://localhost:8080, got '${values.server}'`);
  }
  return {
    server,
    run: values.run!,
    out: values.out!,
    peer: values.peer,
    timeoutMs: positiveInt('--timeout', values.timeout) * 1000,
  };
}

async function main(argv: string[]): Promise<void> {
  const flags = usageChecked(() => parseFlags(argv));
  if (flags === 'help') return console.log(USAGE);
  checkModelDirFree(flags.out);
  const socket = new SocketIoSignaling(io(flags.server, { transports: ['websocket'] }));
  let data: ReturnType<typeof prepareBrownData> | undefined;
  const dataOf = (run: RunConfig) =>
    (data ??= prepareBrownData({ vocabSize: run.model.vocab ?? gptConfig(run.model.preset).vocabSize }));
  const modelOf = (run: RunConfig) =>
    gptConfig(run.model.preset, { vocabSize: dataOf(run).tokenizer.vocabSize });
  let collected: CollectedModel;
  try {
    collected = await collectModel({
      socket,
      runId: flags.run,
      ...(flags.peer ? { peer: flags.peer } : {}),
      connect: (options) => new SimplePeer({ ...options, wrtc }),
      tensorSizes: (run) => gptParams(modelOf(run)).map((p) => p.shape.reduce((a, b) => a * b, 1)),
      timeoutMs: flags.timeoutMs,
      log: (line) => console.log(line),
    });
  } finally {
    socket.close();
  }
  const { run, peers, missing } = collected;
  for (const { peer, reason } of missing) console.log(`peer ${peer} sent nothing: ${reason}`);
  if (peers.length === 0) throw new Error(`no member of run '${run.id}' sent its parameters`);
  const params = flags.peer ? peers[0].params : averageOf(peers);
  const model = modelOf(run);
  const fields = modelCardRunFields(run);
  const loss = await validationLoss(run, model, params);
  const step = Math.min(...peers.map((p) => p.step ?? 0));
  const card = writeModelDir(flags.out, {
    config: model,
    params,
    tokenizer: dataOf(run).tokenizer.toJSON(),
    card: {
      run: fields.run,
      configFingerprint: fields.configFingerprint,
      algorithm: fields.algorithm,
      topology: fields.topology,
      step,
      source: flags.peer ? { kind: 'peer', peer: flags.peer } : { kind: 'average', peers: peers.length },
      peers: peers.map((p) => p.peer),
      validation: { loss, spec: fields.spec },
    },
  });
  console.log(
    `wrote ${flags.out}: ${flags.peer ? `peer ${flags.peer}'s parameters` : `the average of ${peers.length} peers' parameters`} ` +
      `at step ${card.step}, validation loss ${loss.toFixed(6)}`,
  );
}

/** The loss of `params` on the run's validation batches (those every peer evaluates on). */
async function validationLoss(run: RunConfig, model: ReturnType<typeof gptConfig>, params: Float32Array[]) {
  const data = prepareBrownData({ vocabSize: model.vocabSize });
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
