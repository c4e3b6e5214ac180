/**
 * Property-based tests of what a neighbour can send: the frame decoder (parseFrame) and the message
 * assembler take arbitrary bytes, honest frames with one header field or the payload made bad, truncated
 * or extended frames and huge claimed counts. Nothing throws beyond parseFrame's own refusal, every bad
 * frame is dropped with its reason, complete messages are exactly what was sent, and the memory held for
 * incomplete messages stays within the bound. FUZZ_RUNS sets the cases per property.
 */

import { MessageAssembler, type MessageKey } from '@demuon/shared/gossip';
import {
  EXCHANGES,
  encodeTensorFrames,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAME_VERSION,
  MAX_FRAME_BYTES,
  parseFrame,
  runHash,
} from '@demuon/shared/protocol';
import { encodedLength, WIRE_ENCODINGS, type WireEncoding } from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzRuns, fuzzTimeoutMs } from '../../helpers/fuzz-runs';

const RUNS = fuzzRuns(1000);
/** The assembler's properties take about 1.3 ms a case on an idle 2-core machine. */
const TIMEOUT = fuzzTimeoutMs(RUNS, 5);
const run = runHash('fuzz');
/** A tensor of two fp32 chunks (one bf16 chunk) and two small ones: every layout case, cheaply. */
const SIZES = [20_000, 3, 1];
const MESSAGE_BYTES = 4 * SIZES.reduce((a, b) => a + b, 0);
const BOUND = { maxPending: 3, maxPendingBytes: MESSAGE_BYTES + 1000 };

/** Header fields by byte offset (see frame.ts), with the width a mutation writes. */
const FIELDS = {
  magic: [0, 4],
  version: [4, 1],
  encoding: [5, 1],
  exchange: [6, 2],
  run: [8, 4],
  tensor: [24, 4],
  chunk: [28, 2],
  chunks: [30, 2],
  offset: [32, 4],
  count: [36, 4],
} as const;
type Field = keyof typeof FIELDS;

interface Message {
  readonly key: MessageKey;
  readonly frames: Uint8Array[];
  /** What the receiver decodes: the values as the encoding carries them. */
  readonly tensors: Float32Array[];
}

/**
 * Honest messages of a few keys and encodings; epoch 0 is stale for the receiver. One key comes in two
 * encodings (as a sender could mix them): its tensors may mix, its chunks of other sizes may not.
 */
function honestMessages(): Message[] {
  const rng = new Rng(7);
  const keys: [MessageKey, WireEncoding][] = [
    [{ exchange: 'gossip', epoch: 1, step: 0, round: 0 }, 'fp32'],
    [{ exchange: 'gossip', epoch: 1, step: 0, round: 1 }, 'bf16'],
    [{ exchange: 'state', epoch: 1, step: 1, round: 0 }, 'fp32'],
    [{ exchange: 'gossip', epoch: 2, step: 1, round: 0 }, 'int8'],
    [{ exchange: 'gossip', epoch: 2, step: 1, round: 0 }, 'fp32'],
    [{ exchange: 'gossip', epoch: 0, step: 0, round: 0 }, 'fp32'],
  ];
  return keys.map(([key, encoding]) => {
    const values = SIZES.map((n) => Float32Array.from({ length: n }, () => rng.normal()));
    const frames = values.flatMap((v, tensor) => encodeTensorFrames({ ...key, encoding, run, tensor }, v));
    // The reference decode: one assembler, the frames in order.
    const reference = new MessageAssembler({ run, tensorSizes: SIZES });
    const tensors = frames.map((f) => reference.receive(f, () => true)).find(Boolean)!.tensors;
    return { key, frames, tensors };
  });
}

const MESSAGES = honestMessages();
const HONEST = MESSAGES.flatMap((m) => m.frames.map((bytes) => ({ bytes, message: m })));
const wanted = (key: MessageKey) => key.epoch >= 1;
const same = (a: MessageKey, b: MessageKey) => JSON.stringify(a) === JSON.stringify(b);
const mixed = (key: MessageKey) => MESSAGES.filter((m) => same(m.key, key)).length > 1;

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

function writeField(bytes: Uint8Array, field: Field, value: number): void {
  const [at, width] = FIELDS[field];
  if (width === 4) view(bytes).setUint32(at, value, true);
  else if (width === 2) view(bytes).setUint16(at, value, true);
  else view(bytes).setUint8(at, value);
}

function readField(bytes: Uint8Array, field: Field): number {
  const [at, width] = FIELDS[field];
  if (width === 4) return view(bytes).getUint32(at, true);
  return width === 2 ? view(bytes).getUint16(at, true) : view(bytes).getUint8(at);
}

/** What the receiver must drop a frame for, once this was done to an honest frame. */
const REASONS: Record<Field | 'truncated' | 'extended' | 'nan', string[]> = {
  magic: ['malformed'],
  version: ['malformed'],
  // Another known encoding's payload has another length.
  encoding: ['malformed'],
  exchange: ['malformed'],
  run: ['other run'],
  tensor: ['unknown tensor', 'out of bounds', 'bad layout'],
  chunk: ['malformed', 'bad layout'],
  chunks: ['malformed', 'bad layout'],
  offset: ['out of bounds', 'bad layout'],
  count: ['malformed'],
  truncated: ['malformed'],
  extended: ['malformed'],
  // A chunk held already is a duplicate before its values are looked at.
  nan: ['bad values', 'duplicate'],
};
/** What the assembler checks after the message key (and so after whether it is stale). */
const AFTER_KEY = new Set<keyof typeof REASONS>(['tensor', 'chunk', 'chunks', 'offset', 'nan']);

type Sent = { bytes: Uint8Array; message?: Message; bad?: string[] };

/** An honest frame with one thing made bad: a header field (any other value), its length or a value. */
const badFrame: fc.Arbitrary<Sent> = fc
  .record({
    honest: fc.constantFrom(...HONEST),
    what: fc.constantFrom(...(Object.keys(REASONS) as (keyof typeof REASONS)[])),
    value: fc.integer({ min: 0, max: 0xffffffff }),
    cut: fc.nat(),
    extra: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  })
  .map(({ honest, what, value, cut, extra }) => {
    const original = honest.bytes;
    const { key } = honest.message;
    const bad = [...REASONS[what]];
    // Checks after the key's come too late for a stale message: it is dropped as such first.
    if (!wanted(key) && AFTER_KEY.has(what)) bad.push('stale');
    // A key sent in two encodings: its chunk may not fit another encoding's chunks held for its tensor.
    if (mixed(key) && what === 'nan') bad.push('bad layout');
    if (what === 'truncated')
      return { bytes: original.slice(0, cut % original.byteLength), bad: REASONS[what] };
    if (what === 'extended') {
      const bytes = new Uint8Array(original.byteLength + extra.byteLength);
      bytes.set(original);
      bytes.set(extra, original.byteLength);
      return { bytes, bad: REASONS[what] };
    }
    const bytes = original.slice();
    if (what === 'nan') {
      // The first value (the int8 scale): not finite.
      if (readField(bytes, 'encoding') === WIRE_ENCODINGS.indexOf('bf16'))
        view(bytes).setUint16(FRAME_HEADER_BYTES, 0x7fc0 | (value & 0x3f), true);
      else view(bytes).setUint32(FRAME_HEADER_BYTES, 0x7fc00000 | (value & 0xfffff), true);
      return { bytes, bad };
    }
    const [, width] = FIELDS[what];
    let next = width === 4 ? value : width === 2 ? value & 0xffff : value & 0xff;
    if (next === readField(bytes, what)) next = (next + 1) % 2 ** (8 * width);
    // A known exchange makes a frame of another, valid message; a known encoding other than fp32's
    // could be one (bf16 and fp16 have the same length): those are not bad frames.
    if (what === 'exchange' && next < 2) next = 2 + next;
    if (what === 'encoding' && readField(bytes, 'encoding') !== 0) next = 4 + (next % 252);
    writeField(bytes, what, next);
    return { bytes, bad };
  });

const honestFrame: fc.Arbitrary<Sent> = fc.constantFrom(...HONEST);
/** A whole honest message, its frames in any order: what completes messages and fills the bound. */
const honestMessage: fc.Arbitrary<Sent[]> = fc
  .constantFrom(...MESSAGES)
  .chain((m) => fc.shuffledSubarray(m.frames, { minLength: m.frames.length }))
  .map((frames) => frames.map((bytes) => HONEST.find((h) => h.bytes === bytes)!));
const randomBytes: fc.Arbitrary<Sent> = fc
  .uint8Array({ maxLength: 256 })
  .map((bytes) => ({ bytes, bad: ['malformed'] }));

/** Bit-for-bit equality, fast on long arrays (a deep equal of 20 000 values per message is slow). */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
    Buffer.from(b.buffer, b.byteOffset, b.byteLength),
  );
}

/** Counts of each drop reason, and what changed between two of them. */
const counts = (a: MessageAssembler) => new Map(a.drops);
function newDrops(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...after].flatMap(([reason, n]) => Array(n - (before.get(reason) ?? 0)).fill(reason));
}

describe('gossip frames from anyone', () => {
  it(
    'parseFrame takes any bytes: a frame whose fields are consistent, or a refusal naming the problem',
    () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 16 }), (bytes, pad) => {
          // Also as a view into a larger buffer, as a pooled Buffer arrives.
          const pooled = new Uint8Array(pad + bytes.byteLength);
          pooled.set(bytes, pad);
          for (const b of [bytes, pooled.subarray(pad)]) {
            try {
              const frame = parseFrame(b);
              expect(frame.payload.byteLength).toBe(encodedLength(frame.encoding, frame.count));
            } catch (error) {
              expect((error as Error).message).toMatch(/^frame /);
            }
          }
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    'parseFrame reads every header field back, and refuses any size, chunk or count that does not fit',
    () => {
      const header = fc.record({
        encoding: fc.nat({ max: 5 }),
        exchange: fc.nat({ max: 3 }),
        run: fc.nat({ max: 0xffffffff }),
        tensor: fc.nat({ max: 0xffffffff }),
        chunk: fc.nat({ max: 0xffff }),
        chunks: fc.nat({ max: 0xffff }),
        offset: fc.nat({ max: 0xffffffff }),
        // Small counts fit a payload; huge ones claim far more than any frame holds.
        count: fc.oneof(fc.nat({ max: 64 }), fc.nat({ max: 0xffffffff })),
      });
      fc.assert(
        fc.property(header, fc.nat({ max: 300 }), (h, payload) => {
          const bytes = new Uint8Array(FRAME_HEADER_BYTES + payload);
          writeField(bytes, 'magic', FRAME_MAGIC);
          writeField(bytes, 'version', FRAME_VERSION);
          for (const field of Object.keys(h) as (keyof typeof h)[]) writeField(bytes, field, h[field]);
          const encoding: WireEncoding | undefined = WIRE_ENCODINGS[h.encoding];
          const valid =
            encoding !== undefined &&
            h.exchange < 2 &&
            h.chunks > 0 &&
            h.chunk < h.chunks &&
            payload === encodedLength(encoding, h.count);
          if (!valid) {
            expect(() => parseFrame(bytes)).toThrow(/^frame /);
            return;
          }
          const { payload: body, ...frame } = parseFrame(bytes);
          expect(frame).toMatchObject({ ...h, encoding, exchange: EXCHANGES[h.exchange] });
          expect(body.byteLength).toBe(payload);
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    'parseFrame refuses every truncated or oversized frame',
    () => {
      const big = MESSAGES[0].frames[0];
      expect(big.byteLength).toBeGreaterThan(60_000);
      fc.assert(
        fc.property(fc.constantFrom(...HONEST), fc.nat(), ({ bytes }, cut) => {
          expect(() => parseFrame(bytes.subarray(0, cut % bytes.byteLength))).toThrow(/^frame /);
        }),
        { numRuns: RUNS },
      );
      expect(() => parseFrame(new Uint8Array(MAX_FRAME_BYTES + 1))).toThrow(/exceeds/);
    },
    TIMEOUT,
  );

  it(
    'the assembler drops every bad frame with its reason, completes exactly what was sent, within its bound',
    () => {
      const one = (a: fc.Arbitrary<Sent>) => a.map((sent) => [sent]);
      const sent = fc
        .array(fc.oneof(honestMessage, one(honestFrame), one(badFrame), one(badFrame), one(randomBytes)), {
          maxLength: 24,
          size: 'max',
        })
        .map((items) => items.flat());
      fc.assert(
        fc.property(sent, (frames) => {
          const assembler = new MessageAssembler({ run, tensorSizes: SIZES, ...BOUND });
          for (const { bytes, message, bad } of frames) {
            const before = counts(assembler);
            const done = assembler.receive(bytes, wanted);
            const dropped = newDrops(before, counts(assembler)).filter(
              (r) => r !== 'incomplete message pushed out',
            );
            if (bad) {
              expect(done).toBeNull();
              expect(dropped).toHaveLength(1);
              expect(bad).toContain(dropped[0]);
            } else if (!wanted(message!.key)) {
              expect(dropped).toEqual(['stale']);
            } else {
              // An honest frame is taken, unless its chunk is already held (or it does not fit the chunks
              // of another encoding held for its tensor).
              const refusals = mixed(message!.key) ? ['duplicate', 'bad layout'] : ['duplicate'];
              expect(dropped.length === 0 || refusals.includes(dropped[0])).toBe(true);
            }
            if (done) {
              // Each tensor is one that was sent for this key.
              const sources = MESSAGES.filter((m) => same(m.key, done.key));
              const sent = done.tensors.map((t, i) => sources.some((m) => sameBits(t, m.tensors[i])));
              expect(sent).toEqual(SIZES.map(() => true));
            }
            expect(assembler.reservedBytes).toBeGreaterThanOrEqual(0);
            expect(assembler.reservedBytes).toBeLessThanOrEqual(BOUND.maxPendingBytes);
            expect(assembler.pendingMessages).toBeLessThanOrEqual(BOUND.maxPending);
          }
        }),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );

  it(
    'the assembler takes honest frames with arbitrary bytes changed without throwing or outgrowing its bound',
    () => {
      const flipped = fc
        .record({
          honest: fc.constantFrom(...HONEST),
          at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
          to: fc.array(fc.nat({ max: 255 }), { minLength: 4, maxLength: 4 }),
        })
        .map(({ honest, at, to }) => {
          const bytes = honest.bytes.slice();
          // Mostly in the header, where each byte matters.
          for (const [i, a] of at.entries())
            bytes[a % (i === 0 ? FRAME_HEADER_BYTES : bytes.byteLength)] = to[i];
          return bytes;
        });
      fc.assert(
        fc.property(
          fc.array(
            fc.oneof(
              flipped,
              honestFrame.map((s) => s.bytes),
            ),
            { maxLength: 40 },
          ),
          (frames) => {
            const assembler = new MessageAssembler({ run, tensorSizes: SIZES, ...BOUND });
            for (const bytes of frames) {
              const done = assembler.receive(bytes, wanted);
              // Whatever got through is a whole message of finite values of the right sizes.
              for (const [i, t] of (done?.tensors ?? []).entries()) {
                expect(t.length).toBe(SIZES[i]);
                expect(t.every(Number.isFinite)).toBe(true);
              }
              expect(assembler.reservedBytes).toBeLessThanOrEqual(BOUND.maxPendingBytes);
            }
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );
});
