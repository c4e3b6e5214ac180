/**
 * The prepared corpus as one binary file for browsers: a tab needs the tokenised train and validation
 * documents (not the tokenizer), and fetching 2–3 MB beats parsing and tokenising the corpus in every tab.
 *
 *   bytes 0..3   magic 'DMCB'       4..7  JSON length n (u32, little-endian)
 *   8..8+n       JSON { version, vocabSize, train: [{ id, genre, length }], val: [...] }
 *   then         every document's tokens as u16, train then val, in order (padded to an even offset)
 */
import type { TokenizedDocument } from './shards';
import { decodeUtf8, encodeUtf8 } from './utf8';

const MAGIC = 0x42434d44; // 'DMCB' read as a little-endian u32

export interface CorpusBundle {
  readonly vocabSize: number;
  readonly train: TokenizedDocument[];
  readonly val: TokenizedDocument[];
}

type Entry = { id: string; genre: string; length: number };

export function encodeCorpusBundle({ vocabSize, train, val }: CorpusBundle): Uint8Array {
  if (vocabSize > 65536) throw new Error(`a corpus bundle holds u16 tokens; vocab ${vocabSize} is too large`);
  const entry = (d: TokenizedDocument): Entry => ({ id: d.id, genre: d.genre, length: d.tokens.length });
  const json = encodeUtf8(
    JSON.stringify({ version: 1, vocabSize, train: train.map(entry), val: val.map(entry) }),
  );
  const tokensAt = 8 + json.length + ((8 + json.length) % 2);
  const total = [...train, ...val].reduce((n, d) => n + d.tokens.length, 0);
  const bytes = new Uint8Array(tokensAt + 2 * total);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, json.length, true);
  bytes.set(json, 8);
  const tokens = new Uint16Array(bytes.buffer, tokensAt, total);
  let at = 0;
  for (const d of [...train, ...val]) {
    tokens.set(d.tokens, at);
    at += d.tokens.length;
  }
  return bytes;
}

/** Reads a bundle; the error says what is wrong with a file that is not one. */
export function decodeCorpusBundle(bytes: Uint8Array): CorpusBundle {
  const fail = (why: string) => new Error(`not a corpus bundle: ${why}`);
  if (bytes.byteLength < 8) throw fail(`${bytes.byteLength} bytes`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0, true) !== MAGIC) throw fail('wrong magic');
  const n = view.getUint32(4, true);
  if (8 + n > bytes.byteLength) throw fail('truncated header');
  const header = JSON.parse(decodeUtf8(bytes.subarray(8, 8 + n))) as {
    version: number;
    vocabSize: number;
    train: Entry[];
    val: Entry[];
  };
  if (header.version !== 1) throw fail(`version ${header.version}`);
  const tokensAt = 8 + n + ((8 + n) % 2);
  const total = [...header.train, ...header.val].reduce((s, e) => s + e.length, 0);
  if (tokensAt + 2 * total !== bytes.byteLength) throw fail('token section has the wrong size');
  // Copied into an aligned buffer: the bundle's own bytes may sit at an odd offset.
  const tokens = new Uint16Array(total);
  tokens.set(new Uint16Array(bytes.slice(tokensAt).buffer));
  let at = 0;
  const docs = (entries: Entry[]) =>
    entries.map(({ id, genre, length }) => {
      const doc = { id, genre, tokens: tokens.subarray(at, at + length) };
      at += length;
      return doc;
    });
  const train = docs(header.train);
  return { vocabSize: header.vocabSize, train, val: docs(header.val) };
}
