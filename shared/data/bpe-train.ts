import { forEachPretoken } from './pretokenize';
import { encodeUtf8 } from './utf8';

/** Token ids are below 2^16, so a pair packs exactly into one number key. */
export const pairKey = (left: number, right: number): number => left * 65536 + right;

/**
 * Learns byte-level BPE merges from `texts`. Work is done on word types (distinct pre-token pieces
 * weighted by their counts), with pair counts updated incrementally: a pair→words index finds the words
 * a merge touches, and a max-heap with lazily corrected entries finds the next pair. The result depends
 * only on the multiset of pieces: the most frequent pair wins and ties go to the smallest
 * (left id, right id). Training stops early when no pair occurs at least twice, since merging a pair
 * seen once only memorises a single word.
 *
 * @param firstId id of the first merged token (ids below it are the bytes and special tokens)
 * @returns the merges, in order: merge i creates token `firstId + i`
 */
export function trainBpeMerges(
  texts: Iterable<string>,
  numMerges: number,
  firstId: number,
): [number, number][] {
  const pieceCounts = new Map<string, number>();
  for (const text of texts) {
    forEachPretoken(text, (piece) => pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1));
  }
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [piece, count] of pieceCounts) {
    const bytes = encodeUtf8(piece);
    if (bytes.length < 2) continue; // no pair inside: never affected by a merge
    words.push(bytes);
    freqs.push(count);
  }

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, number[]>();
  const addWordToPair = (key: number, word: number) => {
    const list = pairWords.get(key);
    if (list === undefined) pairWords.set(key, [word]);
    else if (list[list.length - 1] !== word) list.push(word);
  };
  words.forEach((symbols, w) => {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = pairKey(symbols[i], symbols[i + 1]);
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + freqs[w]);
      addWordToPair(key, w);
    }
  });
  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(count, key);

  const merges: [number, number][] = [];
  const visited = new Int32Array(words.length).fill(-1);
  while (merges.length < numMerges) {
    const best = popBest(heap, pairCounts);
    if (best === null || best.count < 2) break;
    const left = Math.floor(best.key / 65536);
    const right = best.key % 65536;
    const merged = firstId + merges.length;
    merges.push([left, right]);

    const touched = pairWords.get(best.key) ?? [];
    pairWords.delete(best.key);
    const createdKeys = new Set<number>();
    for (const w of touched) {
      if (visited[w] === merged) continue;
      visited[w] = merged;
      const before = words[w];
      const after = mergePair(before, left, right, merged);
      if (after === null) continue; // stale index entry: an earlier merge removed the pair here
      const freq = freqs[w];
      for (let i = 0; i + 1 < before.length; i++) {
        const key = pairKey(before[i], before[i + 1]);
        const count = pairCounts.get(key)! - freq;
        if (count > 0) pairCounts.set(key, count);
        else pairCounts.delete(key);
      }
      for (let i = 0; i + 1 < after.length; i++) {
        const key = pairKey(after[i], after[i + 1]);
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + freq);
        // Only pairs holding the new token are new to this word; the others are indexed already.
        if (after[i] === merged || after[i + 1] === merged) {
          addWordToPair(key, w);
          createdKeys.add(key);
        }
      }
      words[w] = after;
    }
    // Counts only grow for pairs holding the new token; those get fresh heap entries.
    for (const key of createdKeys) {
      const count = pairCounts.get(key);
      if (count !== undefined) heap.push(count, key);
    }
  }
  return merges;
}

/** Replaces each non-overlapping (left, right), scanning left to right; null when there is none. */
export function mergePair(symbols: number[], left: number, right: number, merged: number): number[] | null {
  let out: number[] | null = null;
  for (let i = 0; i < symbols.length; i++) {
    if (symbols[i] === left && i + 1 < symbols.length && symbols[i + 1] === right) {
      out ??= symbols.slice(0, i);
      out.push(merged);
      i++;
    } else if (out !== null) {
      out.push(symbols[i]);
    }
  }
  return out;
}

/**
 * Pops until an entry agrees with the live count. Invariant: every live pair has an entry whose stored
 * count is at least its live count (counts that grow get a fresh entry; counts that shrink are corrected
 * here when their entry surfaces), so the first agreeing entry is a true maximum, ties included.
 */
function popBest(heap: PairHeap, pairCounts: Map<number, number>): { count: number; key: number } | null {
  while (heap.size > 0) {
    const { count, key } = heap.pop();
    const live = pairCounts.get(key) ?? 0;
    if (live === count) return { count, key };
    if (live > 0 && live < count) heap.push(live, key);
    // live > count: a newer entry holds the larger count; live === 0: the pair is gone.
  }
  return null;
}

/** Binary max-heap on (count desc, key asc) over parallel arrays. */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0], key: this.keys[0] };
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.counts.length && this.above(l, best)) best = l;
        if (r < this.counts.length && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }

  private above(a: number, b: number): boolean {
    return (
      this.counts[a] > this.counts[b] || (this.counts[a] === this.counts[b] && this.keys[a] < this.keys[b])
    );
  }

  private swap(a: number, b: number): void {
    [this.counts[a], this.counts[b]] = [this.counts[b], this.counts[a]];
    [this.keys[a], this.keys[b]] = [this.keys[b], this.keys[a]];
  }
}
