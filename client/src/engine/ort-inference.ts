/**
 * A trained model's inference graph (model.onnx) in any onnxruntime flavour: the logits of a row of token
 * ids, for generation and for measuring the validation loss from the exported file itself.
 */
import { type GptConfig, INFERENCE_LOGITS, INFERENCE_TOKENS, type TokenBatch } from '@demuon/shared/model';
import type { InferenceSession } from 'onnxruntime-common';
import type { OrtModule } from './ort-engine';

export class OrtInference {
  private constructor(
    private readonly ort: OrtModule,
    private readonly session: InferenceSession,
    readonly config: GptConfig,
  ) {}

  static async create(
    ort: OrtModule,
    model: Uint8Array,
    config: GptConfig,
    sessionOptions?: InferenceSession.SessionOptions,
  ): Promise<OrtInference> {
    return new OrtInference(ort, await ort.InferenceSession.create(model, sessionOptions), config);
  }

  /** Logits [context × vocab] of one row of `context` token ids. */
  async logits(tokens: Int32Array): Promise<Float32Array> {
    const { context, vocabSize } = this.config;
    if (tokens.length !== context)
      throw new Error(`a row must hold the context length ${context} of token ids, got ${tokens.length}`);
    const out = await this.session.run({
      [INFERENCE_TOKENS]: new this.ort.Tensor('int32', tokens, [1, context]),
    });
    const logits = out[INFERENCE_LOGITS].data as Float32Array;
    if (logits.length !== context * vocabSize)
      throw new Error(`the model returned ${logits.length} logits, not ${context}×${vocabSize}`);
    return logits;
  }

  /** Logits [vocab] at `position` of a row: what generation samples from. */
  /**
   * The mean cross-entropy of `batches` (rows of `context` tokens and their targets), one row at a time
   * through the graph, summed in float64.
   */
  async meanLoss(batches: readonly TokenBatch[]): Promise<{ loss: number; rows: number; tokens: number }> {
    const { context, vocabSize } = this.config;
    let sum = 0;
    let rows = 0;
    for (const batch of batches) {
      for (let row = 0; row * context < batch.tokens.length; row++) {
        const logits = await this.logits(batch.tokens.slice(row * context, (row + 1) * context));
        sum += crossEntropySum(logits, batch.targets.subarray(row * context, (row + 1) * context), vocabSize);
        rows++;
      }
    }
    return { loss: sum / (rows * context), rows, tokens: rows * context };
  }

  async logitsAt(tokens: Int32Array, position: number): Promise<Float32Array> {
    const { context, vocabSize } = this.config;
    if (!(Number.isInteger(position) && position >= 0 && position < context))
      throw new Error(`position ${position} is outside the context of ${context}`);
    const all = await this.logits(tokens);
    return all.slice(position * vocabSize, (position + 1) * vocabSize);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Σ over positions of −log softmax(logits[t])[targets[t]], in float64 from float32 logits [rows × vocab]:
 * the cross-entropy summed over one row, for a mean taken by the caller.
 */
export function crossEntropySum(logits: Float32Array, targets: ArrayLike<number>, vocab: number): number {
  if (logits.length !== targets.length * vocab)
    throw new Error(
      `${logits.length} logits do not cover ${targets.length} targets of a vocabulary of ${vocab}`,
    );
  let sum = 0;
  for (let t = 0; t < targets.length; t++) {
    const target = targets[t];
    if (!(Number.isInteger(target) && target >= 0 && target < vocab))
      throw new Error(`target ${t} is ${target}, outside the vocabulary of ${vocab}`);
    const offset = t * vocab;
    let max = Number.NEGATIVE_INFINITY;
    for (let v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]);
    let total = 0;
    for (let v = 0; v < vocab; v++) total += Math.exp(logits[offset + v] - max);
    sum += max + Math.log(total) - logits[offset + target];
  }
  return sum;
}
