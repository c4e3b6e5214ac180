import { z } from 'zod';
import { mergePair, pairKey, trainBpeMerges } from './bpe-train';
import { forEachPretoken } from './pretokenize';
import { decodeUtf8, encodeUtf8 } from './utf8';

const BYTE_TOKENS = 256;
const END_OF_TEXT_ID = 256;
const FIRST_MERGE_ID = 257;
const MAX_VOCAB = 65536; // ids travel as Uint16Array
const CACHE_LIMIT = 100_000;
const FORMAT = 'demuon-byte-bpe';

export type BpeTrainOptions = { vocabSize?: number };

/** Serialised tokenizer: merge i creates token 257 + i from the two ids it names. */
export type BpeTokenizerJson = {
  format: typeof FORMAT;
  version: 1;
  vocabSize: number;
  endOfText: number;
  merges: [number, number][];
};

const jsonSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(1),
  vocabSize: z.number().int().min(FIRST_MERGE_ID).max(MAX_VOCAB),
  endOfText: z.literal(END_OF_TEXT_ID),
  merges: z.array(z.tuple([z.number().int().min(0), z.number().int().min(0)])),
});

/**
 * Byte-level BPE (as in GPT-2): ids 0–255 are the bytes of the (WTF-8) text, id 256 marks the end of a
 * document, and ids from 257 on are learned merges of two earlier tokens. Any string encodes, and
 * `decode(encode(s)) === s` for every JavaScript string, lone surrogates included.
 */
export class BpeTokenizer {
  static readonly END_OF_TEXT = '<|endoftext|>';
  /** Id of the end-of-document token; `encode` never emits it, callers append it between documents. */
  readonly endOfText = END_OF_TEXT_ID;
  /** Number of ids in use: 257 + the number of merges (may be below the requested size on tiny texts). */
  readonly vocabSize: number;
  private readonly merges: readonly (readonly [number, number])[];
  /** Pair key → id of the token the pair merges into; lower id = earlier merge = applied first. */
  private readonly mergedId = new Map<number, number>();
  private readonly tokenBytes: Uint8Array[] = [];
  private readonly cache = new Map<string, readonly number[]>();

  private constructor(merges: readonly (readonly [number, number])[]) {
    this.merges = merges;
    this.vocabSize = FIRST_MERGE_ID + merges.length;
    for (let b = 0; b < BYTE_TOKENS; b++) this.tokenBytes.push(Uint8Array.of(b));
    this.tokenBytes.push(new Uint8Array(0)); // end-of-text has no bytes; decode prints its name
    merges.forEach(([left, right], i) => {
      const id = FIRST_MERGE_ID + i;
      const bytes = new Uint8Array(this.tokenBytes[left].length + this.tokenBytes[right].length);
      bytes.set(this.tokenBytes[left]);
      bytes.set(this.tokenBytes[right], this.tokenBytes[left].length);
      this.tokenBytes.push(bytes);
      this.mergedId.set(pairKey(left, right), id);
    });
  }

  /** Learns merges from `texts` until the vocabulary reaches `vocabSize` (default 4096). */
  static train(texts: Iterable<string>, { vocabSize = 4096 }: BpeTrainOptions = {}): BpeTokenizer {
    BpeTokenizer.checkVocabSize(vocabSize);
    return new BpeTokenizer(trainBpeMerges(texts, vocabSize - FIRST_MERGE_ID, FIRST_MERGE_ID));
  }

  /** Throws unless `vocabSize` is a size `train` accepts; lets callers fail before any expensive work. */
  static checkVocabSize(vocabSize: number): void {
    if (!Number.isInteger(vocabSize) || vocabSize < FIRST_MERGE_ID + 1 || vocabSize > MAX_VOCAB) {
      throw new Error(
        `vocabSize must be an integer in [${FIRST_MERGE_ID + 1}, ${MAX_VOCAB}] ` +
          `(256 bytes + end-of-text + at least one merge), got ${vocabSize}`,
      );
    }
  }

  /** Rebuilds a tokenizer from `toJSON()` output (an object or its JSON string), checking every merge. */
  static fromJSON(json: unknown): BpeTokenizer {
    let value = json;
    if (typeof json === 'string') {
      try {
        value = JSON.parse(json);
      } catch (error) {
        throw new Error(`tokenizer JSON does not parse: ${(error as Error).message}`);
      }
    }
    const parsed = jsonSchema.safeParse(value);
    if (!parsed.success) {
      const issues = parsed.error.issues.map(
        (issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`,
      );
      throw new Error(`invalid tokenizer JSON: ${issues.join('; ')}`);
    }
    const { vocabSize, merges } = parsed.data;
    if (vocabSize !== FIRST_MERGE_ID + merges.length) {
      throw new Error(
        `invalid tokenizer JSON: vocabSize ${vocabSize} does not match ${merges.length} merges ` +
          `(expected ${FIRST_MERGE_ID + merges.length})`,
      );
    }
    const seen = new Set<number>();
    merges.forEach(([left, right], i) => {
      const id = FIRST_MERGE_ID + i;
      for (const part of [left, right]) {
        if (part >= id || part === END_OF_TEXT_ID) {
          throw new Error(
            `invalid tokenizer JSON: merge ${i} (token ${id}) uses id ${part}, not an earlier token`,
          );
        }
      }
      const key = pairKey(left, right);
      if (seen.has(key))
        throw new Error(`invalid tokenizer JSON: merge ${i} repeats the pair (${left}, ${right})`);
      seen.add(key);
    });
    return new BpeTokenizer(merges);
  }

  toJSON(): BpeTokenizerJson {
    return {
      format: FORMAT,
      version: 1,
      vocabSize: this.vocabSize,
      endOfText: this.endOfText,
      merges: this.merges.map(([left, right]) => [left, right]),
    };
  }

  encode(text: string): Uint16Array {
    const ids: number[] = [];
    forEachPretoken(text, (piece) => {
      for (const id of this.encodePiece(piece)) ids.push(id);
    });
    return Uint16Array.from(ids);
  }

  /** Text of the ids; the end-of-text token prints as `<|endoftext|>`. Throws on an id outside the vocabulary. */
  decode(ids: ArrayLike<number>): string {
    let text = '';
    let bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(
          `cannot decode id ${id} at position ${i}: vocabulary has ids 0..${this.vocabSize - 1}`,
        );
      }
      if (id === END_OF_TEXT_ID) {
        text += decodeUtf8(bytes) + BpeTokenizer.END_OF_TEXT;
        bytes = [];
      } else {
        for (const b of this.tokenBytes[id]) bytes.push(b);
      }
    }
    return text + decodeUtf8(bytes);
  }

  /** Applies the merges to one pre-token piece in training order (lowest merged id first). */
  private encodePiece(piece: string): readonly number[] {
    const cached = this.cache.get(piece);
    if (cached !== undefined) return cached;
    let symbols = encodeUtf8(piece);
    while (symbols.length > 1) {
      let best = -1;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const id = this.mergedId.get(pairKey(symbols[i], symbols[i + 1]));
        if (id !== undefined && (best === -1 || id < best)) best = id;
      }
      if (best === -1) break;
      const [left, right] = this.merges[best - FIRST_MERGE_ID];
      symbols = mergePair(symbols, left, right, best)!;
    }
    // Bounded so that encoding an endless stream of novel text cannot grow memory without limit.
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, symbols);
    return symbols;
  }
}
