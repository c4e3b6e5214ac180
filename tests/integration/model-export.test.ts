/**
 * The trained model a run leaves behind: a short simulation exports X̄ as a model folder; `npm run
 * evaluate` measures its validation loss again in a fresh process, generation from the folder is
 * reproducible, and damaged, foreign, incompatible and occupied folders are refused with clear errors.
 * Real onnxruntime-node throughout.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BpeTokenizer, fixedBatches } from '@demuon/shared/data';
import { fileEntry, generate, type ModelCard } from '@demuon/shared/model';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrtGradientEngine, type OrtModule } from '../../client/src/engine/ort-engine';
import { crossEntropySum, OrtInference } from '../../client/src/engine/ort-inference';
import { prepareBrownData } from '../../client/src/node/corpus';
import { type ModelDir, readModelDir, writeModelDir } from '../../client/src/node/model-dir';
import { runSimulation, type SimulationResult, simulationConfig } from '../../client/src/node/simulation';
import { exportSimulationModel } from '../../client/src/node/simulation-export';

const NODE_DIR = fileURLToPath(new URL('../../client/src/node/', import.meta.url));
const ortNode = ort as unknown as OrtModule;

let work: string;
let modelDir: string;
let result: SimulationResult;
let model: ModelDir;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'model-export-'));
  modelDir = join(work, 'model');
  const config = simulationConfig({
    preset: 'tiny',
    vocab: 512,
    nodes: 2,
    topology: 'ring',
    algorithm: { name: 'demuon', lr: { eta: 0.02, schedule: 'linear' } },
    steps: 8,
    batch: 4,
    evalEvery: 8,
    evalBatches: 2,
  });
  result = await runSimulation(config, { keepAverage: true });
  exportSimulationModel(modelDir, result, 'export-test');
  model = readModelDir(modelDir);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs one of the node CLIs (`generate.ts`, `evaluate.ts`, `simulate.ts`) as `npm run` does. */
function cli(
  script: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(NODE_DIR, script), ...args], {
    stdio: 'pipe',
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

async function generated(
  inference: OrtInference,
  prompt: number[],
  seed: number,
  count = 24,
): Promise<number[]> {
  const out: number[] = [];
  for await (const id of generate({
    logits: (window, position) => inference.logitsAt(window, position),
    prompt,
    count,
    temperature: 1,
    seed,
    context: model.config.context,
  }))
    out.push(id);
  return out;
}

/** A copy of the exported folder to break in one way. */
function copyOfModel(name: string): string {
  const dir = join(work, name);
  cpSync(modelDir, dir, { recursive: true });
  return dir;
}

describe('an exported model', () => {
  it('holds X̄ of the last evaluation with its validation loss', () => {
    const last = result.records[result.records.length - 1];
    expect(model.card.step).toBe(8);
    expect(model.card.validation.loss).toBe(last.valLossOfAverage);
    expect(model.card.source).toEqual({ kind: 'average', peers: 2 });
    expect(model.card.validation.spec).toMatchObject({ vocab: 512, seed: 0, batch: 4, evalBatches: 2 });
    expect(readdirSync(modelDir).sort()).toEqual([
      'README.md',
      'model-card.json',
      'model.onnx',
      'tokenizer.json',
    ]);
  });

  it('`npm run evaluate` measures the same validation loss in a fresh process', async () => {
    const { code, stdout, stderr } = await cli('evaluate.ts', ['--model', modelDir]);
    expect(code, stderr).toBe(0);
    const loss = Number(/validation loss (\d+\.\d+) \(perplexity (\d+\.\d+)\)/.exec(stdout)?.[1]);
    const valLossOfAverage = result.records[result.records.length - 1].valLossOfAverage;
    console.log(`evaluate: ${loss} vs valLossOfAverage ${valLossOfAverage}`);
    expect(Math.abs(loss - valLossOfAverage)).toBeLessThan(1e-4);
  });

  it('gives logits whose cross-entropy is the train engine loss', async () => {
    const data = prepareBrownData({ vocabSize: 512 });
    const { context, vocabSize } = model.config;
    const [batch] = fixedBatches(data.val, { batchSize: 4, context, count: 1, seed: 11 });
    const engine = await OrtGradientEngine.create(ortNode, model.config, { batchSize: 4 });
    const inference = await OrtInference.create(ortNode, model.onnx, model.config);
    try {
      let sum = 0;
      for (let row = 0; row < 4; row++) {
        const logits = await inference.logits(batch.tokens.slice(row * context, (row + 1) * context));
        sum += crossEntropySum(logits, batch.targets.subarray(row * context, (row + 1) * context), vocabSize);
      }
      const params = result.average!.params;
      const { loss } = await engine.lossAndGrads(params, batch);
      expect(sum / (4 * context)).toBeCloseTo(loss, 5);
      expect(sum / (4 * context)).toBeCloseTo(await engine.loss(params, batch), 5);
    } finally {
      await engine.dispose();
      await inference.release();
    }
  });

  it('generates the same text for the same seed, and other text for other seeds', async () => {
    const inference = await OrtInference.create(ortNode, model.onnx, model.config);
    try {
      const prompt = Array.from(model.tokenizer.encode('The jury said'));
      const first = await generated(inference, prompt, 1);
      expect(await generated(inference, prompt, 1)).toEqual(first);
      const others = await Promise.all([2, 3, 4].map((seed) => generated(inference, prompt, seed)));
      expect(others.some((o) => o.join() !== first.join())).toBe(true);
      // A prompt longer than the context slides.
      const long = Array.from(model.tokenizer.encode('The jury said it did. '.repeat(20)));
      expect(long.length).toBeGreaterThan(model.config.context);
      expect(await generated(inference, long, 1, 4)).toHaveLength(4);

      // The CLI prints the prompt, then the same tokens as text.
      const { code, stdout, stderr } = await cli('generate.ts', [
        ...['--model', modelDir, '--prompt', 'The jury said', '--tokens', '24'],
        ...['--temperature', '1', '--top-k', '0', '--seed', '1'],
      ]);
      expect(code, stderr).toBe(0);
      expect(stdout).toBe(`The jury said${model.tokenizer.decode(first)}\n`);
      expect(stderr).toMatch(/24 tokens in .* ms per token/);
    } finally {
      await inference.release();
    }
  });
});

describe('model folders that are not usable', () => {
  it('refuses a damaged model.onnx, naming it', () => {
    const dir = copyOfModel('damaged');
    const file = join(dir, 'model.onnx');
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0x10;
    writeFileSync(file, bytes);
    expect(() => readModelDir(dir)).toThrow(
      /model\.onnx is damaged: its CRC-32 is [0-9a-f]{8}, the card says/,
    );
  });

  it('refuses a foreign card, a newer card and a folder without one', () => {
    const foreign = copyOfModel('foreign');
    writeFileSync(
      join(foreign, 'model-card.json'),
      JSON.stringify({ name: 'gpt-2', layers: [1, 2, { x: null }] }),
    );
    expect(() => readModelDir(foreign)).toThrow(/model-card\.json: not a model card/);
    const card = JSON.parse(readFileSync(join(modelDir, 'model-card.json'), 'utf8'));
    writeFileSync(join(foreign, 'model-card.json'), JSON.stringify({ ...card, version: 2 }));
    expect(() => readModelDir(foreign)).toThrow(/model card version 2; this version reads 1/);
    writeFileSync(join(foreign, 'model-card.json'), '{ "format": ');
    expect(() => readModelDir(foreign)).toThrow(/model-card\.json: not JSON/);
    rmSync(join(foreign, 'model-card.json'));
    expect(() => readModelDir(foreign)).toThrow(/is not a model folder: it has no model-card\.json/);
    rmSync(join(foreign, 'model.onnx'));
    writeFileSync(join(foreign, 'model-card.json'), JSON.stringify(card));
    expect(() => readModelDir(foreign)).toThrow(/model\.onnx is missing/);
  });

  it('refuses a tokenizer of another vocabulary, even with matching checksums', () => {
    const dir = copyOfModel('incompatible');
    const other = BpeTokenizer.train(['the jury said the jury did the said jury '.repeat(30)], {
      vocabSize: 270,
    });
    const bytes = new TextEncoder().encode(JSON.stringify(other.toJSON()));
    writeFileSync(join(dir, 'tokenizer.json'), bytes);
    const card: ModelCard = JSON.parse(readFileSync(join(dir, 'model-card.json'), 'utf8'));
    card.files['tokenizer.json'] = fileEntry(bytes);
    writeFileSync(join(dir, 'model-card.json'), JSON.stringify(card));
    expect(() => readModelDir(dir)).toThrow(
      new RegExp(
        `tokenizer\\.json does not fit the model: the tokenizer has ${other.vocabSize} ids, the model's vocabulary is 512`,
      ),
    );
    expect(() =>
      writeModelDir(join(work, 'never'), {
        config: model.config,
        params: result.average!.params,
        tokenizer: other.toJSON(),
        card: model.card,
      }),
    ).toThrow(/the tokenizer has \d+ ids but the model's vocabulary is 512/);
  });

  it('never writes into a folder that is not empty, and leaves its files as they were', () => {
    const occupied = join(work, 'occupied');
    mkdirSync(occupied);
    writeFileSync(join(occupied, 'notes.txt'), 'mine');
    const before = readdirSync(work).sort();
    expect(() =>
      writeModelDir(occupied, {
        config: model.config,
        params: result.average!.params,
        tokenizer: model.tokenizer.toJSON(),
        card: model.card,
      }),
    ).toThrow(new RegExp(`cannot write a model to ${occupied}: the folder is not empty`));
    expect(readdirSync(occupied)).toEqual(['notes.txt']);
    expect(readFileSync(join(occupied, 'notes.txt'), 'utf8')).toBe('mine');
    expect(readdirSync(work).sort()).toEqual(before);
    expect(() => exportSimulationModel(modelDir, result, 'again')).toThrow(/the folder is not empty/);
  });
});

describe('the model CLIs', () => {
  it('exit with status 2 and name a bad flag', async () => {
    const cases: [string, string[], RegExp][] = [
      [
        'generate.ts',
        ['--model', modelDir, '--temperature=-1'],
        /--temperature must be a number ≥ 0, got '-1'/,
      ],
      ['generate.ts', ['--model', modelDir, '--top-k', 'many'], /--top-k must be a non-negative integer/],
      ['generate.ts', ['--prompt', 'x'], /--model is required/],
      ['evaluate.ts', ['--model', modelDir, '--threads', '0'], /--threads must be a positive integer/],
      ['evaluate.ts', ['--model', modelDir, '--shots', '5'], /Unknown option '--shots'/],
    ];
    const runs = await Promise.all(cases.map(([script, args]) => cli(script, args)));
    for (const [i, run] of runs.entries()) {
      expect(run.code, run.stderr).toBe(2);
      expect(run.stderr).toMatch(cases[i][2]);
      expect(run.stderr).toContain('usage: npm run');
    }
  });

  it('exit with status 1 naming the folder when it is not a usable model', async () => {
    const run = await cli('evaluate.ts', ['--model', join(work, 'nowhere')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`model folder ${join(work, 'nowhere')} does not exist`);
  });
});
