import { describe, expect, it } from 'vitest';
import { BatchSampler, fixedBatches } from '../../../shared/data';

/** Document d holds tokens d*1000, d*1000+1, …: a window's origin and offset can be read off its values. */
const doc = (d: number, length: number) => ({ tokens: Int32Array.from({ length }, (_, i) => d * 1000 + i) });

describe('BatchSampler', () => {
  const documents = [doc(1, 50), doc(2, 5), doc(3, 200)];

  it('returns row-major [B][T] windows from a single document with targets shifted by one', () => {
    const sampler = new BatchSampler(documents, { batchSize: 8, context: 16, seed: 1 });
    for (let step = 0; step < 50; step++) {
      const { tokens, targets } = sampler.next();
      expect(tokens).toBeInstanceOf(Int32Array);
      expect(tokens.length).toBe(8 * 16);
      expect(targets.length).toBe(8 * 16);
      for (let row = 0; row < 8; row++) {
        const first = tokens[row * 16];
        const d = Math.floor(first / 1000);
        expect(d).not.toBe(2); // shorter than context + 1: skipped
        for (let t = 0; t < 16; t++) {
          expect(tokens[row * 16 + t]).toBe(first + t);
          expect(targets[row * 16 + t]).toBe(first + t + 1);
        }
        const length = d === 1 ? 50 : 200;
        expect(first % 1000).toBeLessThanOrEqual(length - 17);
      }
    }
  });

  it('is fixed by the seed', () => {
    const a = new BatchSampler(documents, { batchSize: 4, context: 8, seed: 3 });
    const b = new BatchSampler(documents, { batchSize: 4, context: 8, seed: 3 });
    const c = new BatchSampler(documents, { batchSize: 4, context: 8, seed: 4 });
    const first = a.next();
    expect(b.next()).toEqual(first);
    expect(c.next().tokens).not.toEqual(first.tokens);
  });

  it('draws every start uniformly, so documents weigh by their number of windows', () => {
    const sampler = new BatchSampler([doc(1, 14), doc(2, 94)], { batchSize: 100, context: 4, seed: 9 });
    expect(sampler.windowCount).toBe(10 + 90);
    const seen = new Map<number, number>();
    for (let step = 0; step < 200; step++) {
      const { tokens } = sampler.next();
      for (let row = 0; row < 100; row++) seen.set(tokens[row * 4], (seen.get(tokens[row * 4]) ?? 0) + 1);
    }
    expect(seen.size).toBe(100); // every start, first and last included
    expect(seen.has(1000) && seen.has(1009) && seen.has(2000) && seen.has(2089)).toBe(true);
    const fromFirst = [...seen].filter(([token]) => token < 2000).reduce((sum, [, n]) => sum + n, 0);
    expect(fromFirst / 20_000).toBeCloseTo(0.1, 1);
  });

  it('accepts a document of exactly context + 1 tokens (one window)', () => {
    const sampler = new BatchSampler([doc(4, 9)], { batchSize: 2, context: 8, seed: 0 });
    const { tokens, targets } = sampler.next();
    expect([...tokens.subarray(0, 8)]).toEqual([4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007]);
    expect(targets[7]).toBe(4008);
  });

  it('rejects bad shapes, empty shards and shards with no window', () => {
    for (const batchSize of [0, -1, 1.5, Number.NaN]) {
      expect(() => new BatchSampler(documents, { batchSize, context: 8, seed: 0 })).toThrow(
        /batchSize must be/,
      );
    }
    for (const context of [0, 2.5]) {
      expect(() => new BatchSampler(documents, { batchSize: 2, context, seed: 0 })).toThrow(
        /context must be/,
      );
    }
    expect(() => new BatchSampler([], { batchSize: 2, context: 8, seed: 0 })).toThrow(/no documents/);
    expect(() => new BatchSampler(documents, { batchSize: 2, context: 200, seed: 0 })).toThrow(
      /context \+ 1 = 201 tokens: its longest document has 200 tokens \(context 200\)/,
    );
  });
});

describe('fixedBatches', () => {
  it('gives the same list for the same seed, and checks the count', () => {
    const documents = [doc(1, 100), doc(2, 300)];
    const a = fixedBatches(documents, { batchSize: 4, context: 16, count: 5, seed: 7 });
    expect(a).toHaveLength(5);
    expect(fixedBatches(documents, { batchSize: 4, context: 16, count: 5, seed: 7 })).toEqual(a);
    expect(a[1].tokens).not.toEqual(a[0].tokens);
    expect(() => fixedBatches(documents, { batchSize: 4, context: 16, count: 0, seed: 7 })).toThrow(/count/);
  });
});
