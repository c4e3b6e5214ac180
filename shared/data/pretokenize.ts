/**
 * GPT-2's pre-tokenisation: English contractions, letter runs and number runs with their leading space,
 * runs of other symbols with their leading space, and whitespace (a run of spaces before a word leaves its
 * last space to the word). BPE merges never cross these pieces, which keeps tokens word-like and makes a
 * per-piece cache effective.
 */
const PRETOKEN = /'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** Calls `visit` with each piece of `text`, in order; the pieces concatenate back to `text`. */
export function forEachPretoken(text: string, visit: (piece: string) => void): void {
  const pattern = new RegExp(PRETOKEN.source, PRETOKEN.flags);
  let end = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    // The alternatives cover every code point, so no gap should appear; passing one on keeps the
    // round-trip exact even if an engine disagrees on a Unicode class.
    if (match.index > end) visit(text.slice(end, match.index));
    visit(match[0]);
    end = match.index + match[0].length;
  }
  if (end < text.length) visit(text.slice(end));
}

export function pretokenize(text: string): string[] {
  const pieces: string[] = [];
  forEachPretoken(text, (piece) => pieces.push(piece));
  return pieces;
}
