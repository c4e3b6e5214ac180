/**
 * Text generation from a trained GPT: next-token sampling with temperature and top-k from a seeded
 * generator, and the loop that feeds a sliding window of ids to whatever runtime computes the logits
 * (onnxruntime-node on a device, onnxruntime-web in a tab). The same seed gives the same tokens.
 */
import { Rng } from '../util/random';

export interface SamplingOptions {
  /** Divides the logits before the softmax; 0 picks the most likely token (greedy). */
  readonly temperature: number;
  /** Sample among the k most likely tokens only; undefined samples from the whole vocabulary. */
  readonly topK?: number;
}

/** Throws an error naming the option when sampling options are out of range. */
export function checkSamplingOptions({ temperature, topK }: SamplingOptions): void {
  if (!(Number.isFinite(temperature) && temperature >= 0))
    throw new Error(`temperature must be a finite number ≥ 0, got ${temperature}`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 1))
    throw new Error(`topK must be a positive integer, got ${topK}`);
}

/** Index of the largest logit; the lowest index among equals. */
export function argmax(logits: ArrayLike<number>): number {
  checkLogits(logits);
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** The k indices of the largest logits, largest first; among equal logits the lower index comes first. */
export function topKIndices(logits: ArrayLike<number>, k: number): number[] {
  const order = Array.from({ length: logits.length }, (_, i) => i);
  // Comparisons rather than a difference: -Infinity − -Infinity is NaN, which would break the sort.
  order.sort((a, b) => (logits[a] > logits[b] ? -1 : logits[a] < logits[b] ? 1 : a - b));
  return order.slice(0, Math.min(k, logits.length));
}

/**
 * One token id drawn from softmax(logits / temperature) restricted to the top k, using one uniform draw
 * of `rng` (none when greedy). -Infinity logits are never drawn; NaN or +Infinity logits are an error.
 */
export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): number {
  checkSamplingOptions(options);
  if (options.temperature === 0) return argmax(logits);
  checkLogits(logits);
  const candidates =
    options.topK !== undefined && options.topK < logits.length
      ? topKIndices(logits, options.topK)
      : Array.from({ length: logits.length }, (_, i) => i);
  let max = Number.NEGATIVE_INFINITY;
  for (const i of candidates) max = Math.max(max, logits[i]);
  // float64 weights relative to the largest logit: exp never overflows and the largest weight is 1.
  const weights = candidates.map((i) => Math.exp((logits[i] - max) / options.temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let target = rng.uniform() * total;
  let last = candidates[0];
  for (const [n, i] of candidates.entries()) {
    if (weights[n] === 0) continue;
    last = i;
    target -= weights[n];
    if (target < 0) return i;
  }
  // Rounding left a sliver of the total unclaimed: it belongs to the last candidate with any weight.
  return last;
}

function checkLogits(logits: ArrayLike<number>): void {
  if (logits.length === 0) throw new Error('no logits to sample from');
  let finite = false;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (Number.isNaN(x) || x === Number.POSITIVE_INFINITY)
      throw new Error(`logit ${i} is ${x}: the model's output is not usable`);
    if (x !== Number.NEGATIVE_INFINITY) finite = true;
  }
  if (!finite) throw new Error('every logit is -Infinity: there is no token to pick');
}

export interface GenerateOptions extends SamplingOptions {
  /**
   * The logits [vocab] at `position` of `window` (context ids, padded on the right after `position`,
   * the last real one). The model is causal, so the padding does not change them.
   */
  logits(window: Int32Array, position: number): Promise<Float32Array>;
  /** Token ids to continue from; at least one (start a fresh text with the end-of-text id). */
  readonly prompt: ArrayLike<number>;
  /** How many tokens to generate. */
  readonly count: number;
  readonly seed: number;
  /** The model's context length: only the last `context` ids are seen. */
  readonly context: number;
  /** Id placed after the last real position (default 0); any valid id does. */
  readonly pad?: number;
}

/** Yields `count` generated token ids one by one, each drawn from the model's logits after the ids so far. */
export async function* generate(options: GenerateOptions): AsyncGenerator<number, void, undefined> {
  const { count, context, seed, pad = 0 } = options;
  checkSamplingOptions(options);
  if (!(Number.isInteger(count) && count >= 0))
    throw new Error(`count must be a non-negative integer, got ${count}`);
  if (!(Number.isInteger(context) && context >= 1))
    throw new Error(`context must be a positive integer, got ${context}`);
  const ids = Array.from(options.prompt);
  if (ids.length === 0) throw new Error('the prompt has no tokens (start with the end-of-text id)');
  for (const [i, id] of [...ids, pad].entries())
    if (!(Number.isInteger(id) && id >= 0 && id <= 0x7fffffff))
      throw new Error(`${i < ids.length ? `prompt token ${i}` : 'the padding id'} is ${id}, not a token id`);
  const rng = new Rng(seed);
  for (let n = 0; n < count; n++) {
    const start = Math.max(0, ids.length - context);
    // A fresh array each step: the runtime may hold on to its input while it runs.
    const window = new Int32Array(context).fill(pad);
    window.set(ids.slice(start));
    const logits = await options.logits(window, ids.length - start - 1);
    if (n === 0) {
      const outside = [...ids, pad].find((id) => id >= logits.length);
      if (outside !== undefined)
        throw new Error(`token id ${outside} is outside the model's vocabulary of ${logits.length}`);
    }
    const next = sampleToken(logits, options, rng);
    ids.push(next);
    yield next;
  }
}

/**
 * Turns token ids into text as they come. Byte-level tokens can split a character: its first bytes decode
 * to U+FFFD until the rest arrive, so trailing replacement characters are held back until then.
 */
export class IncrementalDecoder {
  private pending: number[] = [];
  private emitted = 0;

  constructor(private readonly decode: (ids: readonly number[]) => string) {}

  /** The text that `id` completes (may be empty). */
  push(id: number): string {
    this.pending.push(id);
    const text = this.decode(this.pending);
    let stable = text.length;
    // A UTF-8 character has at most 3 bytes after its first; each unfinished byte shows as one U+FFFD.
    while (stable > 0 && text.length - stable < 3 && text[stable - 1] === '\uFFFD') stable--;
    const out = text.slice(this.emitted, Math.max(this.emitted, stable));
    if (stable === text.length) {
      // Everything so far ends on a character boundary: later ids cannot change it.
      this.pending = [];
      this.emitted = 0;
    } else {
      this.emitted = Math.max(this.emitted, stable);
    }
    return out;
  }

  /** What is still held back, replacement characters included. */
  flush(): string {
    const out = this.decode(this.pending).slice(this.emitted);
    this.pending = [];
    this.emitted = 0;
    return out;
  }
}
