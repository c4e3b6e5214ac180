/**
 * The validation loss of a model folder, measured from its model.onnx as the card's evaluation spec says:
 * the same held-out Brown batches the training run evaluated on, the cross-entropy of every position
 * computed here in float64 from the logits, one row at a time.
 */
import { fixedBatches } from '@demuon/shared/data';
import type { InferenceSession } from 'onnxruntime-common';
import * as ort from 'onnxruntime-node';
import type { OrtModule } from '../engine/ort-engine';
import { OrtInference } from '../engine/ort-inference';
import { prepareBrownData } from './corpus';
import { type ModelDir, ModelDirError } from './model-dir';

export interface ModelEvaluation {
  /** Mean cross-entropy per token, in nats. */
  readonly loss: number;
  readonly perplexity: number;
  readonly rows: number;
  readonly tokens: number;
  readonly seconds: number;
}

export interface EvaluateModelOptions {
  sessionOptions?: InferenceSession.SessionOptions;
  log?: (line: string) => void;
}

export async function evaluateModel(
  model: ModelDir,
  options: EvaluateModelOptions = {},
): Promise<ModelEvaluation> {
  const spec = model.card.validation.spec;
  const { context } = model.config;
  const data = prepareBrownData({
    vocabSize: spec.vocab,
    valFraction: spec.valFraction,
    seed: spec.splitSeed,
    log: options.log,
  });
  // The validation tokens are the corpus tokenizer's: another tokenizer would make them other text.
  if (JSON.stringify(data.tokenizer.toJSON()) !== JSON.stringify(model.tokenizer.toJSON()))
    throw new ModelDirError(
      `${model.dir}: its tokenizer is not the one the Brown corpus yields for a vocabulary of ${spec.vocab}, ` +
        'so the validation split of its card cannot be reproduced here',
    );
  const batches = fixedBatches(data.val, {
    batchSize: spec.batch,
    context,
    count: spec.evalBatches,
    seed: spec.seed,
  });
  const started = performance.now();
  const inference = await OrtInference.create(
    ort as unknown as OrtModule,
    model.onnx,
    model.config,
    options.sessionOptions,
  );
  let measured: Awaited<ReturnType<OrtInference['meanLoss']>>;
  try {
    measured = await inference.meanLoss(batches);
  } finally {
    await inference.release();
  }
  const { loss, rows, tokens } = measured;
  return { loss, perplexity: Math.exp(loss), rows, tokens, seconds: (performance.now() - started) / 1000 };
}
