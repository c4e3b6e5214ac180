/**
 * Measures a model folder's validation loss and perplexity again, from its model.onnx in a fresh
 * onnxruntime-node session, on the held-out Brown batches its card's evaluation spec names.
 *
 *   npm run evaluate -- --model DIR
 */
import { parseArgs } from 'node:util';
import { parameterCount } from '@demuon/shared/model';
import { positiveInt, runCli, UsageError, usageChecked } from './cli-args';
import { readModelDir } from './model-dir';
import { evaluateModel } from './model-eval';

const USAGE = `usage: npm run evaluate -- --model DIR [--threads N]
  --model DIR        a model folder (npm run simulate -- --export DIR writes one)
  --threads N        CPU threads for onnxruntime (default: its choice)`;

function parseFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return 'help' as const;
  if (!values.model) throw new UsageError('--model is required (a model folder)');
  return {
    model: values.model,
    threads: values.threads === undefined ? undefined : positiveInt('--threads', values.threads),
  };
}

async function main(argv: string[]): Promise<void> {
  const flags = usageChecked(() => parseFlags(argv));
  if (flags === 'help') return console.log(USAGE);
  const model = readModelDir(flags.model);
  const { card } = model;
  const spec = card.validation.spec;
  console.log(
    `model ${model.dir}: run ${card.run.id}, step ${card.step}, ${(parameterCount(model.config) / 1e6).toFixed(2)}M parameters`,
  );
  const result = await evaluateModel(model, {
    sessionOptions:
      flags.threads === undefined ? {} : { intraOpNumThreads: flags.threads, interOpNumThreads: 1 },
  });
  console.log(
    `validation loss ${result.loss.toFixed(6)} (perplexity ${result.perplexity.toFixed(3)}) on ` +
      `${spec.evalBatches} batch${spec.evalBatches === 1 ? '' : 'es'} of ${spec.batch}×${model.config.context} tokens of the held-out Brown split ` +
      `in ${result.seconds.toFixed(2)} s`,
  );
  const difference = result.loss - card.validation.loss;
  console.log(`the card says ${card.validation.loss.toFixed(6)} (difference ${difference.toExponential(2)})`);
}

runCli(() => main(process.argv.slice(2)), USAGE);
