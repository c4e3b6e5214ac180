import { describe, expect, it } from 'vitest';
import { parseBrownCategories, parseBrownDocument } from '../../../shared/data';

describe('parseBrownCategories', () => {
  it('maps file ids to genres in file order, ignoring blank lines', () => {
    const categories = parseBrownCategories('ca01 news\nca02 news\r\n\ncr09 humor\n');
    expect([...categories]).toEqual([
      ['ca01', 'news'],
      ['ca02', 'news'],
      ['cr09', 'humor'],
    ]);
  });

  it('rejects malformed lines, duplicate ids and empty files with the line named', () => {
    expect(() => parseBrownCategories('ca01 news\nca02\n')).toThrow(/line 2.*"ca02"/);
    expect(() => parseBrownCategories('ca01 news extra')).toThrow(/line 1/);
    expect(() => parseBrownCategories('ca01 news\nca01 humor')).toThrow(/line 2.*"ca01" listed twice/);
    expect(() => parseBrownCategories('\n\n')).toThrow(/no documents/);
  });
});

describe('parseBrownDocument', () => {
  it("drops tags, turns `` and '' into double quotes and attaches punctuation", () => {
    const raw =
      "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' was/bedz found/vbn ,/, sadly/rb ./.\n";
    expect(parseBrownDocument(raw)).toBe('The jury said "no evidence" was found, sadly.');
  });

  it('joins the sentences of a paragraph with spaces and separates paragraphs by newlines', () => {
    const raw = '\n\n\tFirst/od sentence/nn ./.\nSecond/od one/cd ?/.\n\n\n\tNew/jj paragraph/nn !/.\n\n';
    expect(parseBrownDocument(raw)).toBe('First sentence. Second one?\nNew paragraph!');
  });

  it('splits word and tag on the last slash, keeping slashes inside words', () => {
    const raw = "\tand/or/cc 1/2/cd AAb//nn //in mg/l/hr/nn Atlanta's/np$ over-all/jj It's/pps+bez";
    expect(parseBrownDocument(raw)).toBe("and/or 1/2 AAb/ / mg/l/hr Atlanta's over-all It's");
  });

  it('handles brackets, colons, semicolons, dashes, headline tags and single quotes', () => {
    const raw = [
      '\tLemma/nn-hl 1/cd-hl ./.-hl',
      '',
      "\t(/( He/pps said/vbd )/) :/: wait/vb ;/. ;/. then/rb --/-- go/vb '/' home/nn '/' now/rb ./.",
    ].join('\n');
    expect(parseBrownDocument(raw)).toBe("Lemma 1.\n(He said): wait; then -- go 'home' now.");
  });

  it('prints the doubled semicolons and the period after a final abbreviation once', () => {
    const raw = '\tsolid/jj ;/. ;/. soft/jj ,/, etc./rb ./.\nJr./np ./. ./.';
    expect(parseBrownDocument(raw)).toBe('solid; soft, etc. Jr.');
  });

  it('keeps an unmatched quote readable and returns an empty string for an empty file', () => {
    expect(parseBrownDocument("\t``/`` Run/vb !/.\n\n\tAway/rb ''/'' ./.")).toBe('"Run!\nAway".');
    expect(parseBrownDocument('\n\n  \n')).toBe('');
  });
});
