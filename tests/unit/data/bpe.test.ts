import { describe, expect, it } from 'vitest';
import { BpeTokenizer, encodeUtf8, pretokenize } from '../../../shared/data';
import { Rng } from '../../../shared/util';

/** A small synthetic corpus with repetition (so merges happen), punctuation, numbers and some Unicode. */
function syntheticTexts(count: number, seed: number): string[] {
  const rng = new Rng(seed);
  const vocabulary = [
    'the',
    'jury',
    'said',
    'election',
    'county',
    'Atlanta',
    'investigation',
    'of',
    'and',
    'was',
    'réunion',
    'naïve',
    'Zürich',
    '東京',
    'emoji🙂',
    "don't",
    "it's",
    'over-all',
    '1961',
    '$3.50',
    '(note)',
    'well,',
  ];
  return Array.from({ length: count }, () => {
    const syllables = ['ka', 'lo', 'mi', 'tren', 'ous', 'ing', 'ed', 'pre', 'st', 'qu', 'ér', 'ü', 'x', 'zo'];
    const invented = () =>
      Array.from({ length: 1 + rng.int(4) }, () => syllables[rng.int(syllables.length)]).join('');
    const words = Array.from({ length: 40 + rng.int(40) }, () =>
      rng.uniform() < 0.6 ? vocabulary[rng.int(vocabulary.length)] : invented(),
    );
    return `${words.join(' ')}.\nNext "quoted" line!`;
  });
}

/** Textbook BPE: recount every pair before each merge. Slow, obviously right, same tie rule. */
function referenceMerges(texts: string[], numMerges: number): [number, number][] {
  const counts = new Map<string, number>();
  for (const text of texts)
    for (const piece of pretokenize(text)) counts.set(piece, (counts.get(piece) ?? 0) + 1);
  let words = [...counts].map(([piece, count]) => ({ symbols: encodeUtf8(piece), count }));
  const merges: [number, number][] = [];
  while (merges.length < numMerges) {
    const pairs = new Map<number, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] * 65536 + symbols[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + count);
      }
    }
    let best = -1;
    let bestCount = 0;
    for (const [key, count] of pairs) {
      if (count > bestCount || (count === bestCount && key < best)) [best, bestCount] = [key, count];
    }
    if (bestCount < 2) break;
    const [left, right] = [Math.floor(best / 65536), best % 65536];
    const id = 257 + merges.length;
    merges.push([left, right]);
    words = words.map(({ symbols, count }) => {
      const out: number[] = [];
      for (let i = 0; i < symbols.length; i++) {
        if (symbols[i] === left && symbols[i + 1] === right) {
          out.push(id);
          i++;
        } else out.push(symbols[i]);
      }
      return { symbols: out, count };
    });
  }
  return merges;
}

const texts = syntheticTexts(60, 1);
const tokenizer = BpeTokenizer.train(texts, { vocabSize: 512 });

describe('BpeTokenizer training', () => {
  it('learns the same merges as textbook BPE', () => {
    expect(tokenizer.vocabSize).toBe(512);
    expect(tokenizer.toJSON().merges).toEqual(referenceMerges(texts, 512 - 257));
  });

  it('is deterministic and independent of the order of the texts', () => {
    const again = BpeTokenizer.train(texts, { vocabSize: 512 });
    const reversed = BpeTokenizer.train([...texts].reverse(), { vocabSize: 512 });
    expect(again.toJSON()).toEqual(tokenizer.toJSON());
    expect(reversed.toJSON()).toEqual(tokenizer.toJSON());
  });

  it('stops early when no pair occurs twice, reporting the real vocabulary size', () => {
    const tiny = BpeTokenizer.train(['abab'], { vocabSize: 1000 });
    expect(tiny.vocabSize).toBe(258); // only "ab" repeats
    expect(tiny.encode('abab')).toEqual(Uint16Array.of(257, 257));
  });

  it('compresses text like the training text', () => {
    const sample = syntheticTexts(5, 99).join('\n');
    const ids = tokenizer.encode(sample);
    expect(ids.length).toBeLessThan(encodeUtf8(sample).length / 3);
  });

  it('rejects vocabulary sizes that are too small, too large or not integers', () => {
    for (const vocabSize of [257, 100, 0, 300.5, Number.NaN, 65537]) {
      expect(() => BpeTokenizer.train(texts, { vocabSize })).toThrow(
        /vocabSize must be an integer in \[258, 65536\]/,
      );
    }
  });
});

describe('BpeTokenizer encode/decode', () => {
  const samples = [
    '',
    ' ',
    'hello world',
    '  leading and trailing spaces  ',
    'tabs\tand\nnewlines\r\n\n',
    'The jury said "no evidence" (really) -- 1961, $3.50!',
    'naïve café Zürich 東京 Ελληνικά русский',
    'emoji 🙂👍🏽 family 👨‍👩‍👧 flag 🇺🇸',
    '\u0000\u0001\u007f\u00a0\u2028\ufeff',
    'lone surrogates \ud800 and \udfff and reversed \udc00\ud800',
    "don't it's we'll they're I'M",
  ];

  it('round-trips ASCII, Unicode, emoji, control characters, lone surrogates and the empty string', () => {
    for (const text of samples) expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('round-trips random strings of UTF-16 code units', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 200; trial++) {
      const units = Array.from({ length: rng.int(30) }, () =>
        rng.uniform() < 0.5 ? 32 + rng.int(95) : rng.int(65536),
      );
      const text = String.fromCharCode(...units);
      expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    }
  });

  it('returns Uint16Array ids inside the vocabulary and never the end-of-text id', () => {
    const ids = tokenizer.encode(`${texts[0]} ${BpeTokenizer.END_OF_TEXT}`);
    expect(ids).toBeInstanceOf(Uint16Array);
    expect(Math.max(...ids)).toBeLessThan(tokenizer.vocabSize);
    expect([...ids]).not.toContain(tokenizer.endOfText);
  });

  it('gives the same ids with a warm cache as with a cold one', () => {
    const cold = BpeTokenizer.fromJSON(tokenizer.toJSON());
    expect(cold.encode(texts[3])).toEqual(tokenizer.encode(texts[3]));
    expect(cold.encode(texts[3])).toEqual(tokenizer.encode(texts[3]));
  });

  it('decodes the end-of-text token by name and rejects ids outside the vocabulary', () => {
    const ids = [...tokenizer.encode('a'), tokenizer.endOfText, ...tokenizer.encode('b')];
    expect(tokenizer.decode(ids)).toBe('a<|endoftext|>b');
    expect(() => tokenizer.decode([1, tokenizer.vocabSize])).toThrow(/id 512 at position 1/);
    expect(() => tokenizer.decode([-1])).toThrow(/id -1/);
    expect(() => tokenizer.decode([1.5])).toThrow(/id 1.5/);
  });

  it('decodes a lone continuation byte as U+FFFD instead of failing', () => {
    expect(tokenizer.decode([0x80, 0x41])).toBe('\ufffdA');
  });
});

describe('BpeTokenizer JSON', () => {
  const json = tokenizer.toJSON();

  it('round-trips through an object and through a JSON string', () => {
    for (const input of [json, JSON.stringify(json)]) {
      const restored = BpeTokenizer.fromJSON(input);
      expect(restored.toJSON()).toEqual(json);
      expect(restored.encode(texts[0])).toEqual(tokenizer.encode(texts[0]));
    }
  });

  it('rejects corrupt input with a message that says what is wrong', () => {
    const withMerges = (merges: [number, number][]) => ({ ...json, merges, vocabSize: 257 + merges.length });
    expect(() => BpeTokenizer.fromJSON('{"format":')).toThrow(/does not parse/);
    expect(() => BpeTokenizer.fromJSON(null)).toThrow(/invalid tokenizer JSON/);
    expect(() => BpeTokenizer.fromJSON({ ...json, format: 'other' })).toThrow(
      /invalid tokenizer JSON: format/,
    );
    expect(() => BpeTokenizer.fromJSON({ ...json, version: 2 })).toThrow(/version/);
    expect(() => BpeTokenizer.fromJSON({ ...json, vocabSize: json.vocabSize + 1 })).toThrow(/does not match/);
    expect(() => BpeTokenizer.fromJSON(withMerges([[1, 2.5]]))).toThrow(/merges/);
    expect(() => BpeTokenizer.fromJSON(withMerges([[1, 257]]))).toThrow(/merge 0 \(token 257\) uses id 257/);
    expect(() => BpeTokenizer.fromJSON(withMerges([[256, 1]]))).toThrow(/uses id 256/);
    expect(() =>
      BpeTokenizer.fromJSON(
        withMerges([
          [1, 2],
          [1, 2],
        ]),
      ),
    ).toThrow(/merge 1 repeats the pair \(1, 2\)/);
  });
});
