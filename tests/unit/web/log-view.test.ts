import { describe, expect, it } from 'vitest';
import { describeLogLine, foldLine, foldLines } from '../../../client/src/web/join/log-view';

const lines = (...texts: string[]) => texts.map((text, i) => ({ text, at: 1000 * i }));

describe('join page log', () => {
  it('folds identical consecutive lines into one entry with a count and the latest time', () => {
    const entries = foldLines(lines('a', 'a', 'a', 'b'));
    expect(entries).toEqual([
      { text: 'a', count: 3, firstAt: 0, lastAt: 2000 },
      { text: 'b', count: 1, firstAt: 3000, lastAt: 3000 },
    ]);
  });

  it('folds a repeat among the last few entries, leaving the entries in place', () => {
    const entries = foldLines(lines('refused', 'step 1', 'refused', 'step 2', 'refused'));
    expect(entries.map((e) => [e.text, e.count])).toEqual([
      ['refused', 3],
      ['step 1', 1],
      ['step 2', 1],
    ]);
    expect(entries[0].lastAt).toBe(4000);
  });

  it('appends a repeat that is further back than the lookback', () => {
    const entries = foldLines(lines('x', 'a', 'b', 'x'), 2);
    expect(entries.map((e) => e.text)).toEqual(['x', 'a', 'b', 'x']);
  });

  it('says whether a line made a new entry', () => {
    const entries = foldLines(lines('a'));
    expect(foldLine(entries, 'a', 5).appended).toBe(false);
    expect(foldLine(entries, 'b', 6).appended).toBe(true);
  });

  it('puts the server’s error replies in words', () => {
    const raw = `server: ${JSON.stringify({
      code: 'not-joined',
      message: 'this socket is not a member of a run',
      event: 'heartbeat',
    })}`;
    expect(describeLogLine(raw)).toBe(
      "server refused 'heartbeat': this socket is not a member of a run (not-joined)",
    );
    expect(describeLogLine('server: {"code":"x","message":"m"}')).toBe('server refused: m (x)');
  });

  it('keeps other lines, and replies it cannot read, as they are', () => {
    expect(describeLogLine('took parameters and optimizer state from ab12')).toBe(
      'took parameters and optimizer state from ab12',
    );
    expect(describeLogLine('server: {not json}')).toBe('server: {not json}');
    expect(describeLogLine('server: {"weird":1}')).toBe('server: {"weird":1}');
  });
});
