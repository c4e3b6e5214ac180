import { describe, expect, it } from 'vitest';
import { splitByDocument } from '../../../shared/data';

const sizes: Record<string, number> = { news: 20, fiction: 9, humor: 3, poetry: 2, lonely: 1 };
const docs = Object.entries(sizes).flatMap(([genre, count]) =>
  Array.from({ length: count }, (_, i) => ({ id: `${genre}${String(i).padStart(2, '0')}`, genre })),
);
const ids = (list: { id: string }[]) => list.map((doc) => doc.id);

describe('splitByDocument', () => {
  it('is fixed by the seed and changes with it', () => {
    const a = splitByDocument(docs, { valFraction: 0.2, seed: 7 });
    const b = splitByDocument(docs, { valFraction: 0.2, seed: 7 });
    const c = splitByDocument(docs, { valFraction: 0.2, seed: 8 });
    expect(ids(a.val)).toEqual(ids(b.val));
    expect(ids(a.val)).not.toEqual(ids(c.val));
  });

  it('does not depend on the input order and keeps it on each side', () => {
    const forward = splitByDocument(docs, { valFraction: 0.2, seed: 3 });
    const backward = splitByDocument([...docs].reverse(), { valFraction: 0.2, seed: 3 });
    expect(new Set(ids(backward.val))).toEqual(new Set(ids(forward.val)));
    expect(ids(backward.val)).toEqual([...ids(forward.val)].reverse());
  });

  it('partitions the documents and stratifies by genre', () => {
    const { train, val } = splitByDocument(docs, { valFraction: 0.2, seed: 1 });
    expect([...ids(train), ...ids(val)].sort()).toEqual(ids(docs).sort());
    const count = (list: typeof docs, genre: string) => list.filter((doc) => doc.genre === genre).length;
    expect(count(val, 'news')).toBe(4);
    expect(count(val, 'fiction')).toBe(2);
    expect(count(val, 'humor')).toBe(1); // round(0.6) = 1
    expect(count(val, 'poetry')).toBe(1); // at least one when a genre has two
    expect(count(train, 'poetry')).toBe(1);
    expect(count(val, 'lonely')).toBe(0); // a single document stays in train
    expect(count(train, 'lonely')).toBe(1);
  });

  it('keeps a training document per genre even at the largest fraction', () => {
    const { train } = splitByDocument(docs, { valFraction: 0.5, seed: 2 });
    for (const genre of Object.keys(sizes)) expect(train.some((doc) => doc.genre === genre)).toBe(true);
  });

  it('rejects fractions outside (0, 0.5] and duplicate ids', () => {
    for (const valFraction of [0, -0.1, 0.6, Number.NaN]) {
      expect(() => splitByDocument(docs, { valFraction, seed: 0 })).toThrow(
        /valFraction must be in \(0, 0.5\]/,
      );
    }
    expect(() => splitByDocument([...docs, docs[0]], { valFraction: 0.1, seed: 0 })).toThrow(
      /"news00" appears twice/,
    );
  });
});
