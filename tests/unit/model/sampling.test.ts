/** Next-token sampling and the generation loop, against a stand-in model (logits from a seeded hash). */
import { decodeUtf8 } from '@demuon/shared/data';
import { argmax, generate, IncrementalDecoder, sampleToken, topKIndices } from '@demuon/shared/model';
import { Rng } from '@demuon/shared/util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const logitsArb = fc.array(fc.float({ noNaN: true, min: -30, max: 30 }), { minLength: 1, maxLength: 80 });

/** A stand-in model: logits over `vocab` that depend on the window's ids up to `position` only. */
function fakeModel(vocab: number, calls: { window: number[]; position: number }[] = []) {
  return async (window: Int32Array, position: number) => {
    calls.push({ window: Array.from(window), position });
    let h = 0x811c9dc5;
    for (let i = 0; i <= position; i++) h = Math.imul(h ^ window[i], 0x01000193);
    const rng = new Rng(h >>> 0);
    return Float32Array.from({ length: vocab }, () => 3 * rng.normal());
  };
}

async function collect(tokens: AsyncIterable<number>): Promise<number[]> {
  const out: number[] = [];
  for await (const t of tokens) out.push(t);
  return out;
}

describe('sampleToken', () => {
  it('with temperature 0 picks the argmax (the lowest index among equals)', () => {
    fc.assert(
      fc.property(
        logitsArb,
        fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
        (logits, topK) => {
          const picked = sampleToken(logits, { temperature: 0, topK }, new Rng(1));
          const max = Math.max(...logits);
          expect(picked).toBe(logits.indexOf(max));
          expect(argmax(logits)).toBe(picked);
        },
      ),
    );
  });

  it('never picks outside the top k', () => {
    fc.assert(
      fc.property(
        logitsArb,
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 0.01, max: 20, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (logits, k, temperature, seed) => {
          const picked = sampleToken(logits, { temperature, topK: k }, new Rng(seed));
          expect(topKIndices(logits, k)).toContain(picked);
          const kth = [...logits].sort((a, b) => b - a)[Math.min(k, logits.length) - 1];
          expect(logits[picked]).toBeGreaterThanOrEqual(kth);
        },
      ),
    );
  });

  it('draws in proportion to softmax(logits / T)', () => {
    const logits = [Math.log(1), Math.log(2), Math.log(7), Number.NEGATIVE_INFINITY];
    const rng = new Rng(7);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 20_000; i++) counts[sampleToken(logits, { temperature: 1 }, rng)]++;
    expect(counts[3]).toBe(0);
    expect(counts[0] / 20_000).toBeCloseTo(0.1, 1);
    expect(counts[2] / 20_000).toBeCloseTo(0.7, 1);
  });

  it('refuses bad options and unusable logits, naming them', () => {
    const rng = new Rng(0);
    expect(() => sampleToken([1, 2], { temperature: -1 }, rng)).toThrow(/temperature/);
    expect(() => sampleToken([1, 2], { temperature: 1, topK: 0 }, rng)).toThrow(/topK/);
    expect(() => sampleToken([1, Number.NaN], { temperature: 1 }, rng)).toThrow(/logit 1 is NaN/);
    expect(() => sampleToken([], { temperature: 0 }, rng)).toThrow(/no logits/);
  });
});

describe('generate', () => {
  it('gives the same tokens for the same seed', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 49 }), { minLength: 1, maxLength: 20 }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
        async (prompt, seed, temperature, topK) => {
          const run = () =>
            collect(
              generate({ logits: fakeModel(50), prompt, count: 12, temperature, topK, seed, context: 8 }),
            );
          const first = await run();
          expect(first).toHaveLength(12);
          expect(await run()).toEqual(first);
        },
      ),
      { numRuns: 50 },
    );
  });

  it('usually differs between seeds when it samples', async () => {
    const run = (seed: number) =>
      collect(generate({ logits: fakeModel(50), prompt: [1], count: 20, temperature: 1, seed, context: 8 }));
    const texts = new Set<string>();
    for (let seed = 0; seed < 5; seed++) texts.add((await run(seed)).join(','));
    expect(texts.size).toBeGreaterThan(1);
  });

  it('pads a short window on the right and slides over a long one', async () => {
    const calls: { window: number[]; position: number }[] = [];
    const model = fakeModel(50, calls);
    const out = await collect(
      generate({ logits: model, prompt: [5, 6, 7], count: 3, temperature: 0, seed: 0, context: 4, pad: 9 }),
    );
    expect(calls[0]).toEqual({ window: [5, 6, 7, 9], position: 2 });
    expect(calls[1]).toEqual({ window: [5, 6, 7, out[0]], position: 3 });
    // Past the context, only the last 4 ids are seen.
    expect(calls[2]).toEqual({ window: [6, 7, out[0], out[1]], position: 3 });

    calls.length = 0;
    const long = Array.from({ length: 10 }, (_, i) => i + 10);
    await collect(generate({ logits: model, prompt: long, count: 1, temperature: 0, seed: 0, context: 4 }));
    expect(calls[0]).toEqual({ window: [16, 17, 18, 19], position: 3 });
  });

  it('refuses an empty prompt and ids outside the vocabulary', async () => {
    const base = { logits: fakeModel(50), count: 1, temperature: 0, seed: 0, context: 4 };
    await expect(collect(generate({ ...base, prompt: [] }))).rejects.toThrow(/no tokens/);
    await expect(collect(generate({ ...base, prompt: [1, 60] }))).rejects.toThrow(/60 is outside.*50/);
    await expect(collect(generate({ ...base, prompt: [1.5] }))).rejects.toThrow(/prompt token 0/);
  });
});

describe('IncrementalDecoder', () => {
  it('streams exactly the text of all ids, whatever bytes split characters', () => {
    const text = fc
      .string({ unit: 'grapheme', maxLength: 30 })
      .map((s) => Array.from(new TextEncoder().encode(s)));
    fc.assert(
      fc.property(fc.oneof(text, fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 })), (bytes) => {
        const decoder = new IncrementalDecoder((ids) => decodeUtf8(ids));
        let streamed = '';
        for (const b of bytes) streamed += decoder.push(b);
        streamed += decoder.flush();
        expect(streamed).toBe(decodeUtf8(bytes));
      }),
    );
  });

  it('holds back a character until its last byte arrives', () => {
    const decoder = new IncrementalDecoder((ids) => decodeUtf8(ids));
    const euro = [0xe2, 0x82, 0xac];
    expect([0x41, ...euro].map((b) => decoder.push(b))).toEqual(['A', '', '', '€']);
  });
});
