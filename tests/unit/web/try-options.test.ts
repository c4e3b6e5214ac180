import { describe, expect, it } from 'vitest';
import { MAX_TRY_TOKENS, readTryOptions, TRY_DEFAULTS } from '../../../client/src/web/try-model';

const fields = (over: Partial<Parameters<typeof readTryOptions>[0]> = {}) => ({
  prompt: 'The jury said',
  tokens: '100',
  temperature: '0.8',
  topK: '40',
  ...over,
});

describe('Try box settings', () => {
  it('reads the fields, empty ones as the defaults', () => {
    expect(readTryOptions(fields())).toEqual({
      prompt: 'The jury said',
      tokens: 100,
      temperature: 0.8,
      topK: 40,
    });
    expect(readTryOptions(fields({ prompt: '', tokens: ' ', temperature: '', topK: '' }))).toEqual({
      prompt: '',
      ...TRY_DEFAULTS,
    });
  });

  it('takes temperature 0 (the most likely token) and top-k 0 (the whole vocabulary)', () => {
    expect(readTryOptions(fields({ temperature: '0', topK: '0' }))).toEqual({
      prompt: 'The jury said',
      tokens: 100,
      temperature: 0,
    });
  });

  it('names the field that is out of range', () => {
    for (const [over, field] of [
      [{ tokens: '0' }, 'tokens'],
      [{ tokens: '2.5' }, 'tokens'],
      [{ tokens: String(MAX_TRY_TOKENS + 1) }, 'tokens'],
      [{ tokens: 'many' }, 'tokens'],
      [{ temperature: '-1' }, 'temperature'],
      [{ temperature: 'Infinity' }, 'temperature'],
      [{ topK: '-3' }, 'top-k'],
      [{ topK: '1.5' }, 'top-k'],
    ] as const) {
      const result = readTryOptions(fields(over));
      expect('error' in result && result.error.startsWith(`${field} must be`), JSON.stringify(over)).toBe(
        true,
      );
    }
  });
});
