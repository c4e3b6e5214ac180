import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BrownData,
  brownCorpusDir,
  loadBrownCorpus,
  prepareBrownData,
} from '../../client/src/node/corpus';
import { BatchSampler, type CorpusDocument, planShards } from '../../shared/data';

const scratch = mkdtempSync(join(tmpdir(), 'brown-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('Brown corpus on disk', () => {
  let docs: CorpusDocument[];
  beforeAll(() => {
    docs = loadBrownCorpus();
  });

  it('loads 500 readable documents in 15 genres', () => {
    expect(docs).toHaveLength(500);
    expect(new Set(docs.map((doc) => doc.genre)).size).toBe(15);
    expect(docs[0].id).toBe('ca01');
    expect(docs[0].genre).toBe('news');
    expect(docs[0].text.startsWith('The Fulton County Grand Jury said Friday an investigation of')).toBe(
      true,
    );
    expect(docs[0].text).toContain('produced "no evidence" that any irregularities took place.\n');
    for (const doc of docs) {
      expect(doc.text.length).toBeGreaterThan(5000);
      expect(doc.text).not.toMatch(/\b(the|of)\/[a-z]|``|\t| ,| \.|;;|[a-z]\.\./);
    }
  });

  it('names the missing directory, cats.txt or listed file', () => {
    expect(() => loadBrownCorpus(join(scratch, 'nowhere'))).toThrow(/directory not found: .*nowhere/);
    const noCats = join(scratch, 'no-cats');
    mkdirSync(noCats);
    expect(() => loadBrownCorpus(noCats)).toThrow(/no-cats\/cats\.txt not found/);
    const missingFile = join(scratch, 'missing-file');
    mkdirSync(missingFile);
    writeFileSync(join(missingFile, 'cats.txt'), 'ca01 news\nzz99 news\n');
    copyFileSync(join(brownCorpusDir(), 'ca01'), join(missingFile, 'ca01'));
    expect(() => loadBrownCorpus(missingFile)).toThrow(
      /lists "zz99" but .*missing-file\/zz99 does not exist/,
    );
  });
});

describe('prepareBrownData', () => {
  let textOf: Map<string, string>;
  let data: BrownData;
  let firstMs: number;
  beforeAll(() => {
    textOf = new Map(loadBrownCorpus().map((doc) => [doc.id, doc.text]));
    const started = performance.now();
    data = prepareBrownData({ log: (line) => console.log(line) });
    firstMs = performance.now() - started;
  });

  it('splits all documents, stratified, into tokens that decode back to the text', () => {
    expect(data.train.length + data.val.length).toBe(500);
    expect(data.val.length).toBeGreaterThanOrEqual(45);
    expect(new Set(data.val.map((doc) => doc.genre)).size).toBe(15);
    expect(data.tokenizer.vocabSize).toBe(4096);
    for (const doc of [...data.train, ...data.val]) {
      expect(doc.tokens.at(-1)).toBe(data.tokenizer.endOfText);
      expect(data.tokenizer.decode(doc.tokens.subarray(0, -1))).toBe(textOf.get(doc.id));
    }
  });

  it('compresses held-out text to few tokens per word', () => {
    let tokens = 0;
    let words = 0;
    let taggedTokens = 0;
    for (const doc of data.val) {
      tokens += doc.tokens.length - 1;
      words += textOf.get(doc.id)!.split(/\s+/).filter(Boolean).length;
      taggedTokens += readFileSync(join(brownCorpusDir(), doc.id), 'utf8')
        .split(/\s+/)
        .filter(Boolean).length;
    }
    console.log(
      `brown val: ${(tokens / words).toFixed(3)} tokens per whitespace word, ` +
        `${(tokens / taggedTokens).toFixed(3)} per Brown token (words and punctuation), ` +
        `vocab ${data.tokenizer.vocabSize}, ${data.val.length} documents`,
    );
    expect(tokens / words).toBeLessThan(1.7);
    expect(tokens / taggedTokens).toBeLessThan(1.5);
  });

  it('loads from the cache in well under a second, with identical content', () => {
    const t0 = performance.now();
    const again = prepareBrownData();
    const hitMs = performance.now() - t0;
    console.log(
      `brown cache: first call ${firstMs.toFixed(0)} ms (fromCache ${data.fromCache}), hit ${hitMs.toFixed(0)} ms`,
    );
    expect(again.fromCache).toBe(true);
    expect(hitMs).toBeLessThan(1000);
    expect(again.tokenizer.toJSON()).toEqual(data.tokenizer.toJSON());
    expect(again.val.map((doc) => doc.id)).toEqual(data.val.map((doc) => doc.id));
    expect(again.train[7].tokens).toEqual(data.train[7].tokens);
  });

  it('rebuilds a damaged cache entry to the same result and leaves no temp files', () => {
    // A four-document corpus keeps each rebuild to milliseconds.
    const corpusDir = join(scratch, 'small-corpus');
    mkdirSync(corpusDir);
    writeFileSync(join(corpusDir, 'cats.txt'), 'ca01 news\nca02 news\ncb01 editorial\ncb02 editorial\n');
    for (const id of ['ca01', 'ca02', 'cb01', 'cb02'])
      copyFileSync(join(brownCorpusDir(), id), join(corpusDir, id));
    const options = {
      corpusDir,
      cacheDir: join(scratch, 'cache'),
      vocabSize: 300,
      valFraction: 0.5,
      seed: 5,
    };
    const fresh = prepareBrownData(options);
    expect(fresh.fromCache).toBe(false);
    expect(fresh.val.map((doc) => doc.genre).sort()).toEqual(['editorial', 'news']);
    expect(prepareBrownData(options).fromCache).toBe(true);

    const bin = readdirSync(options.cacheDir).find((name) => name.endsWith('.bin'))!;
    const bytes = readFileSync(join(options.cacheDir, bin));
    bytes[100] ^= 0xff;
    writeFileSync(join(options.cacheDir, bin), bytes);
    const rebuilt = prepareBrownData(options);
    expect(rebuilt.fromCache).toBe(false);
    expect(rebuilt.train).toEqual(fresh.train);
    expect(rebuilt.tokenizer.toJSON()).toEqual(fresh.tokenizer.toJSON());

    writeFileSync(join(options.cacheDir, bin.replace(/\.bin$/, '.json')), '{"key": "truncated');
    expect(prepareBrownData(options).fromCache).toBe(false);
    expect(prepareBrownData(options).fromCache).toBe(true);
    expect(readdirSync(options.cacheDir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('rejects bad options before reading the corpus', () => {
    const cacheDir = join(scratch, 'unused-cache');
    expect(() => prepareBrownData({ cacheDir, valFraction: 0.7 })).toThrow(
      /valFraction must be in \(0, 0.5\]/,
    );
    expect(() => prepareBrownData({ cacheDir, vocabSize: 100.5 })).toThrow(/vocabSize must be an integer/);
    expect(() => prepareBrownData({ cacheDir, vocabSize: 100 })).toThrow(/got 100/);
    expect(() => prepareBrownData({ cacheDir, seed: 0.5 })).toThrow(/seed must be an integer/);
    expect(() => prepareBrownData({ cacheDir, corpusDir: join(scratch, 'nowhere') })).toThrow(
      /directory not found/,
    );
    expect(existsSync(cacheDir)).toBe(false);
  });

  it('feeds shards and batches end to end', () => {
    const plan = planShards(data.train, 'dirichlet:0.3', { nodes: 4, seed: 0 });
    const sampler = new BatchSampler(plan.nodes[2].documents, { batchSize: 4, context: 64, seed: 1 });
    const { tokens, targets } = sampler.next();
    expect(tokens.length).toBe(256);
    expect(tokens.subarray(1, 64)).toEqual(targets.subarray(0, 63));
  });
});
