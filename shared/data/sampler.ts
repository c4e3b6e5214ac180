import { Rng } from '../util/random';

/** Row-major [batchSize][context] token ids and their next-token targets. */
export type Batch = { tokens: Int32Array; targets: Int32Array };
export type BatchShape = { batchSize: number; context: number };
export type BatchSamplerOptions = BatchShape & { seed: number };
export type FixedBatchesOptions = BatchSamplerOptions & { count: number };

type TokenSource = { readonly tokens: ArrayLike<number> };

/**
 * Draws training batches from one shard: each row is a window of context + 1 consecutive tokens of a
 * single document (tokens = its first T, targets = its last T), with the start drawn uniformly among all
 * valid starts of all documents, so longer documents are drawn proportionally more often. Documents
 * shorter than a window are skipped. The sequence of batches is fixed by the seed.
 */
export class BatchSampler {
  readonly batchSize: number;
  readonly context: number;
  private readonly sources: ArrayLike<number>[] = [];
  /** cumulativeStarts[i] = number of valid window starts in sources[0..i]. */
  private readonly cumulativeStarts: number[] = [];
  private readonly rng: Rng;

  constructor(documents: readonly TokenSource[], { batchSize, context, seed }: BatchSamplerOptions) {
    checkShape({ batchSize, context });
    if (documents.length === 0) throw new Error('cannot sample batches from a shard with no documents');
    let starts = 0;
    let longest = 0;
    for (const doc of documents) {
      longest = Math.max(longest, doc.tokens.length);
      const count = doc.tokens.length - context;
      if (count <= 0) continue;
      starts += count;
      this.sources.push(doc.tokens);
      this.cumulativeStarts.push(starts);
    }
    if (starts === 0) {
      throw new Error(
        `no document of the shard fits a window of context + 1 = ${context + 1} tokens: ` +
          `its longest document has ${longest} tokens (context ${context})`,
      );
    }
    this.batchSize = batchSize;
    this.context = context;
    this.rng = new Rng(seed);
  }

  /** Number of distinct windows the sampler draws from. */
  get windowCount(): number {
    return this.cumulativeStarts[this.cumulativeStarts.length - 1];
  }

  next(): Batch {
    const { batchSize, context } = this;
    const tokens = new Int32Array(batchSize * context);
    const targets = new Int32Array(batchSize * context);
    for (let row = 0; row < batchSize; row++) {
      const draw = this.rng.int(this.windowCount);
      const index = firstAbove(this.cumulativeStarts, draw);
      const source = this.sources[index];
      const start = draw - (index > 0 ? this.cumulativeStarts[index - 1] : 0);
      for (let t = 0; t < context; t++) {
        tokens[row * context + t] = source[start + t];
        targets[row * context + t] = source[start + t + 1];
      }
    }
    return { tokens, targets };
  }
}

/** A fixed list of batches (same documents and seed → same batches), e.g. for the validation loss. */
export function fixedBatches(documents: readonly TokenSource[], options: FixedBatchesOptions): Batch[] {
  const { count, ...samplerOptions } = options;
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`batch count must be a positive integer, got ${count}`);
  const sampler = new BatchSampler(documents, samplerOptions);
  return Array.from({ length: count }, () => sampler.next());
}

function checkShape({ batchSize, context }: BatchShape): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!Number.isInteger(context) || context < 1)
    throw new Error(`context must be a positive integer, got ${context}`);
}

/** Index of the first element greater than `value` in an increasing array. */
function firstAbove(sorted: readonly number[], value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] > value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
