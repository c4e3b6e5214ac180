/**
 * `npm run build:web`: the vite build of the browser client into client/dist, onnxruntime-web's wasm
 * module and its loader in dist/ort (the peer worker loads them from there, see src/web/create-engine.ts),
 * plus the Brown corpus prepared for each preset's vocabulary (dist/data/brown-<vocab>.bin, see
 * shared/data/bundle.ts), which tabs train on, and its tokenizer (dist/data/brown-<vocab>.tokenizer.json),
 * which a tab's Try box writes and reads text with.
 *
 *   npm run build:web [-- --out DIR --vocab 512,2048,4096]
 */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeCorpusBundle } from '@demuon/shared/data';
import { GPT_PRESETS } from '@demuon/shared/model';
import { build } from 'vite';
import { positiveInt } from '../src/node/cli-args';
import { prepareBrownData } from '../src/node/corpus';

const CLIENT = fileURLToPath(new URL('..', import.meta.url));
/**
 * The one wasm build that onnxruntime-web's WebGPU-and-wasm entry loads (SIMD, threads, WebGPU through
 * JSEP): the module and the loader, which is also the script of each wasm thread.
 */
const ORT_FILES = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];

export async function buildWebClient(options: { out?: string; vocabSizes?: number[]; quiet?: boolean } = {}) {
  const out = options.out ?? join(CLIENT, 'dist');
  const vocabSizes = options.vocabSizes ?? [...new Set(Object.values(GPT_PRESETS).map((p) => p.vocabSize))];
  await build({
    configFile: join(CLIENT, 'vite.config.ts'),
    build: { outDir: out },
    logLevel: options.quiet ? 'warn' : 'info',
  });
  const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web'));
  mkdirSync(join(out, 'ort'), { recursive: true });
  for (const file of ORT_FILES) copyFileSync(join(ortDist, file), join(out, 'ort', file));
  mkdirSync(join(out, 'data'), { recursive: true });
  for (const vocabSize of vocabSizes) {
    const { train, val, tokenizer } = prepareBrownData({ vocabSize });
    const bundle = encodeCorpusBundle({ vocabSize: tokenizer.vocabSize, train, val });
    writeFileSync(join(out, 'data', `brown-${vocabSize}.bin`), bundle);
    writeFileSync(join(out, 'data', `brown-${vocabSize}.tokenizer.json`), JSON.stringify(tokenizer.toJSON()));
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, vocab: { type: 'string' } } });
  const vocabSizes = values.vocab?.split(',').map((v) => positiveInt('--vocab', v));
  const out = await buildWebClient({ out: values.out, vocabSizes });
  console.log(`browser client built into ${out}`);
}
