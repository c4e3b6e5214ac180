/**
 * `npm run build:web`: the vite build of the browser client into client/dist (vite also emits
 * onnxruntime-web's wasm file, which the bundle references), plus the Brown corpus prepared for each
 * preset's vocabulary (dist/data/brown-<vocab>.bin, see shared/data/bundle.ts), which tabs train on.
 *
 *   npm run build:web [-- --out DIR --vocab 512,2048,4096]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeCorpusBundle } from '@demuon/shared/data';
import { GPT_PRESETS } from '@demuon/shared/model';
import { build } from 'vite';
import { positiveInt } from '../src/node/cli-args';
import { prepareBrownData } from '../src/node/corpus';

const CLIENT = fileURLToPath(new URL('..', import.meta.url));

export async function buildWebClient(options: { out?: string; vocabSizes?: number[]; quiet?: boolean } = {}) {
  const out = options.out ?? join(CLIENT, 'dist');
  const vocabSizes = options.vocabSizes ?? [...new Set(Object.values(GPT_PRESETS).map((p) => p.vocabSize))];
  await build({
    configFile: join(CLIENT, 'vite.config.ts'),
    build: { outDir: out },
    logLevel: options.quiet ? 'warn' : 'info',
  });
  mkdirSync(join(out, 'data'), { recursive: true });
  for (const vocabSize of vocabSizes) {
    const { train, val, tokenizer } = prepareBrownData({ vocabSize });
    const bundle = encodeCorpusBundle({ vocabSize: tokenizer.vocabSize, train, val });
    writeFileSync(join(out, 'data', `brown-${vocabSize}.bin`), bundle);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { out: { type: 'string' }, vocab: { type: 'string' } } });
  const vocabSizes = values.vocab?.split(',').map((v) => positiveInt('--vocab', v));
  const out = await buildWebClient({ out: values.out, vocabSizes });
  console.log(`browser client built into ${out}`);
}
