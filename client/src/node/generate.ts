/**
 * Writes text with a trained model folder: prints the prompt, then each generated token as it comes.
 *
 *   npm run generate -- --model DIR --prompt "The jury said" --tokens 100 --temperature 0.8 --top-k 40 --seed 1
 */
import { parseArgs } from 'node:util';
import { generate, IncrementalDecoder } from '@demuon/shared/model';
import * as ort from 'onnxruntime-node';
import type { OrtModule } from '../engine/ort-engine';
import { OrtInference } from '../engine/ort-inference';
import { nonNegativeInt, nonNegativeNumber, positiveInt, runCli, UsageError, usageChecked } from './cli-args';
import { readModelDir } from './model-dir';

const USAGE = `usage: npm run generate -- --model DIR [--prompt TEXT] [--tokens N] [--temperature T] [--top-k K]
       [--seed N] [--threads N]
  --model DIR        a model folder (npm run simulate -- --export DIR writes one)
  --prompt TEXT      text to continue (default: none, a fresh document)
  --tokens N         how many tokens to generate (default 100)
  --temperature T    sampling temperature, 0 for the most likely token each time (default 0.8)
  --top-k K          sample among the K most likely tokens, 0 for all of them (default 40)
  --seed N           the same seed, model and prompt give the same text (default 0)
  --threads N        CPU threads for onnxruntime (default: its choice)
The text goes to stdout; the timing to stderr.`;

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      prompt: { type: 'string', default: '' },
      tokens: { type: 'string', default: '100' },
      temperature: { type: 'string', default: '0.8' },
      'top-k': { type: 'string', default: '40' },
      seed: { type: 'string', default: '0' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help' as const;
  if (!values.model) throw new UsageError('--model is required (a model folder)');
  const topK = nonNegativeInt('--top-k', values['top-k']);
  return {
    model: values.model,
    prompt: values.prompt,
    tokens: nonNegativeInt('--tokens', values.tokens),
    temperature: nonNegativeNumber('--temperature', values.temperature),
    topK: topK === 0 ? undefined : topK,
    seed: nonNegativeInt('--seed', values.seed),
    threads: values.threads === undefined ? undefined : positiveInt('--threads', values.threads),
  };
}

async function main(argv: string[]): Promise<void> {
  const flags = usageChecked(() => parseFlags(argv));
  if (flags === 'help') return console.log(USAGE);
  const model = readModelDir(flags.model);
  const { tokenizer, config } = model;
  const inference = await OrtInference.create(
    ort as unknown as OrtModule,
    model.onnx,
    config,
    flags.threads === undefined ? {} : { intraOpNumThreads: flags.threads, interOpNumThreads: 1 },
  );
  const encoded = Array.from(tokenizer.encode(flags.prompt));
  // Without a prompt the model starts where a document starts: after an end-of-text.
  const prompt = encoded.length > 0 ? encoded : [tokenizer.endOfText];
  const decoder = new IncrementalDecoder((ids) => tokenizer.decode(ids));
  process.stdout.write(flags.prompt);
  const started = performance.now();
  let count = 0;
  for await (const id of generate({
    logits: (window, position) => inference.logitsAt(window, position),
    prompt,
    count: flags.tokens,
    temperature: flags.temperature,
    topK: flags.topK,
    seed: flags.seed,
    context: config.context,
  })) {
    process.stdout.write(decoder.push(id));
    count++;
  }
  process.stdout.write(`${decoder.flush()}\n`);
  const seconds = (performance.now() - started) / 1000;
  console.error(
    `${count} tokens in ${seconds.toFixed(2)} s (${count > 0 ? ((1000 * seconds) / count).toFixed(1) : '-'} ms per token)`,
  );
  await inference.release();
}

runCli(() => main(process.argv.slice(2)), USAGE);
