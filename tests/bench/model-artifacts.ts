/**
 * What a run leaves behind, per GPT preset, on this machine: a peer's checkpoint (DeMuon's parameters,
 * momentum and tracker) encoded, saved (flushed, renamed) and loaded back; the model folder written and
 * read back with its checks; and generation from model.onnx on onnxruntime-node (ms per token). Medians of
 * `--repeats` runs. Prints a table and writes docs/bench/model-artifacts.{md,json}.
 *
 *   npm run bench:model [-- --repeats 5 --tokens 100]
 */
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BpeTokenizer } from '@demuon/shared/data';
import {
  GPT_PRESETS,
  type GptPreset,
  generate,
  gptConfig,
  gptParams,
  initGptParams,
} from '@demuon/shared/model';
import { algorithmConfig, createAlgorithm } from '@demuon/shared/optim';
import { PeerCheckpoints } from '@demuon/shared/peer';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { CpuBackend } from '@demuon/shared/tensor';
import * as ort from 'onnxruntime-node';
import type { OrtModule } from '../../client/src/engine/ort-engine';
import { OrtInference } from '../../client/src/engine/ort-inference';
import { CheckpointDir } from '../../client/src/node/checkpoint-dir';
import { positiveInt } from '../../client/src/node/cli-args';
import { prepareBrownData } from '../../client/src/node/corpus';
import { readModelDir, writeModelDir } from '../../client/src/node/model-dir';
import { median } from '../helpers/median';

const { values: args } = parseArgs({
  options: {
    repeats: { type: 'string', default: '5' },
    tokens: { type: 'string', default: '100' },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
  },
});
const repeats = positiveInt('--repeats', args.repeats);
const tokens = positiveInt('--tokens', args.tokens);

const timed = async (act: () => unknown | Promise<unknown>) => {
  const started = performance.now();
  await act();
  return performance.now() - started;
};

interface Row {
  preset: GptPreset;
  parameters: number;
  checkpointMB: number;
  saveMs: number;
  loadMs: number;
  modelMB: number;
  writeModelMs: number;
  readModelMs: number;
  msPerToken: number;
}

const work = mkdtempSync(join(tmpdir(), 'bench-model-'));
const rows: Row[] = [];
try {
  for (const preset of Object.keys(GPT_PRESETS) as GptPreset[]) {
    const data = prepareBrownData({ vocabSize: GPT_PRESETS[preset].vocabSize });
    const config = gptConfig(preset, { vocabSize: data.tokenizer.vocabSize });
    const params = gptParams(config);
    const run = RunConfigSchema.parse({
      id: `bench-${preset}`,
      model: { preset },
      algorithm: { name: 'demuon', lr: { eta: 0.05 } },
    });
    const backend = new CpuBackend();
    const algorithm = createAlgorithm(
      backend,
      params,
      initGptParams(config, 1),
      algorithmConfig(run.algorithm),
    );
    const store = new CheckpointDir(join(work, preset));
    const checkpoints = new PeerCheckpoints(store, () => {});
    const save: number[] = [];
    const load: number[] = [];
    for (let r = 0; r < repeats; r++) {
      save.push(
        await timed(() => checkpoints.save(run, 100 + r, params, backend, algorithm, { valLoss: 5 })),
      );
      load.push(await timed(() => store.load()));
    }
    const folder = (r: number) => join(work, `${preset}-model-${r}`);
    const write: number[] = [];
    const read: number[] = [];
    const draft = {
      run: { id: run.id },
      algorithm: run.algorithm,
      topology: 'ring',
      step: 100,
      source: { kind: 'average' as const, peers: 1 },
      peers: ['p'],
      validation: {
        loss: 5,
        spec: {
          corpus: 'brown' as const,
          split: 'validation' as const,
          vocab: config.vocabSize,
          valFraction: 0.1,
          splitSeed: 0,
          seed: 0,
          batch: 8,
          evalBatches: 4,
        },
      },
    };
    const weights = initGptParams(config, 2);
    for (let r = 0; r < repeats; r++) {
      write.push(
        await timed(() =>
          writeModelDir(folder(r), {
            config,
            params: weights,
            tokenizer: data.tokenizer.toJSON(),
            card: draft,
          }),
        ),
      );
      read.push(await timed(() => readModelDir(folder(r))));
    }
    const model = readModelDir(folder(0));
    const inference = await OrtInference.create(ort as unknown as OrtModule, model.onnx, config, {
      intraOpNumThreads: 2,
    });
    const perToken: number[] = [];
    const prompt = Array.from(BpeTokenizer.fromJSON(data.tokenizer.toJSON()).encode('The jury said'));
    for (let r = 0; r < repeats; r++) {
      let count = 0;
      const ms = await timed(async () => {
        for await (const _ of generate({
          logits: (w, p) => inference.logitsAt(w, p),
          prompt,
          count: tokens,
          temperature: 0.8,
          topK: 40,
          seed: r,
          context: config.context,
        }))
          count++;
      });
      perToken.push(ms / count);
    }
    await inference.release();
    const row: Row = {
      preset,
      parameters: params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0),
      checkpointMB: statSync(join(work, preset, 'latest.ckpt')).size / 1e6,
      saveMs: median(save),
      loadMs: median(load),
      modelMB: statSync(join(folder(0), 'model.onnx')).size / 1e6,
      writeModelMs: median(write),
      readModelMs: median(read),
      msPerToken: median(perToken),
    };
    rows.push(row);
    console.log(JSON.stringify(row));
    algorithm.release();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

const table = [
  '| preset | parameters | checkpoint | save | load | model.onnx | write folder | read folder | generate |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.preset} | ${(r.parameters / 1e6).toFixed(2)} M | ${r.checkpointMB.toFixed(1)} MB | ${r.saveMs.toFixed(0)} ms | ${r.loadMs.toFixed(0)} ms | ${r.modelMB.toFixed(1)} MB | ${r.writeModelMs.toFixed(0)} ms | ${r.readModelMs.toFixed(0)} ms | ${r.msPerToken.toFixed(2)} ms/token |`,
  ),
].join('\n');
console.log(table);
mkdirSync(args.out, { recursive: true });
writeFileSync(
  join(args.out, 'model-artifacts.md'),
  `# What a run leaves behind: checkpoints and model folders\n\n` +
    `\`npm run bench:model -- --repeats ${repeats} --tokens ${tokens}\`, ${new Date().toISOString().slice(0, 10)}, onnxruntime-node on this machine's CPU (2 cores), medians of ${repeats}.\n\n` +
    "A checkpoint holds DeMuon's parameters, momentum and tracker (three tensors per parameter), with a CRC-32; a save encodes it, writes a temporary file, flushes it and renames it into place (the previous one kept); a load reads and checks it. A model folder is model.onnx (the inference graph with the weights inside), the tokenizer, the card and its README, written into a temporary folder, flushed and renamed; a read checks every file (CRCs, the graph's inputs and outputs, the tokenizer). Generation: the given number of tokens at temperature 0.8, top-k 40, each token running the whole context window (no key/value cache), 2 onnxruntime threads.\n\n" +
    `${table}\n`,
);
writeFileSync(
  join(args.out, 'model-artifacts.json'),
  `${JSON.stringify({ repeats, tokens, rows }, null, 2)}\n`,
);
