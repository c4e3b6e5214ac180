import { Rng } from '../util/random';

export type SplitOptions = { valFraction: number; seed: number };
export type Split<T> = { train: T[]; val: T[] };

/**
 * Splits whole documents into train and validation sets, stratified by genre so that the validation
 * loss covers every genre (which matters once shards are genre-skewed). The choice depends only on the
 * seed and the documents' ids and genres, not on their order; each side keeps the input order.
 * Every genre keeps at least one training document and, when it has two or more, one validation document.
 */
export function splitByDocument<T extends { id: string; genre: string }>(
  docs: readonly T[],
  { valFraction, seed }: SplitOptions,
): Split<T> {
  if (!(valFraction > 0 && valFraction <= 0.5)) {
    throw new Error(`valFraction must be in (0, 0.5], got ${valFraction}`);
  }
  const byGenre = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const doc of docs) {
    if (seen.has(doc.id)) throw new Error(`document id "${doc.id}" appears twice; ids must be unique`);
    seen.add(doc.id);
    const ids = byGenre.get(doc.genre) ?? [];
    ids.push(doc.id);
    byGenre.set(doc.genre, ids);
  }
  const rng = new Rng(seed);
  const valIds = new Set<string>();
  for (const genre of [...byGenre.keys()].sort()) {
    const ids = byGenre.get(genre)!.sort();
    rng.shuffle(ids);
    const wanted = Math.round(ids.length * valFraction);
    const count = Math.min(ids.length - 1, Math.max(ids.length >= 2 ? 1 : 0, wanted));
    for (const id of ids.slice(0, count)) valIds.add(id);
  }
  return {
    train: docs.filter((doc) => !valIds.has(doc.id)),
    val: docs.filter((doc) => valIds.has(doc.id)),
  };
}
