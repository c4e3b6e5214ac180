import { MessageAssembler } from '@demuon/shared/gossip';
import {
  encodeTensorFrames,
  FRAME_HEADER_BYTES,
  MAX_FRAME_BYTES,
  parseFrame,
  runHash,
} from '@demuon/shared/protocol';
import { Rng } from '@demuon/shared/util';
import { describe, expect, it } from 'vitest';

const rng = new Rng(1);
const big = Float32Array.from({ length: 40_000 }, () => rng.normal());
const small = Float32Array.of(1, 2, 3);
const run = runHash('run-a');
const header = (tensor: number, encoding: 'fp32' | 'bf16' | 'int8' = 'fp32') => ({
  encoding,
  run,
  epoch: 3,
  step: 17,
  round: 1,
  tensor,
});
const message = (encoding: 'fp32' | 'bf16' | 'int8' = 'fp32') => [
  ...encodeTensorFrames(header(0, encoding), big),
  ...encodeTensorFrames(header(1, encoding), small),
];
const current = () => true;

describe('gossip frames', () => {
  it('chunk a tensor into frames of at most 64 KiB with a parseable header', () => {
    const frames = encodeTensorFrames(header(0), big);
    expect(frames.length).toBe(
      Math.ceil(big.length / Math.floor((MAX_FRAME_BYTES - FRAME_HEADER_BYTES) / 4)),
    );
    for (const f of frames) expect(f.byteLength).toBeLessThanOrEqual(MAX_FRAME_BYTES);
    const parsed = parseFrame(frames[1]);
    expect(parsed).toMatchObject({
      encoding: 'fp32',
      run,
      epoch: 3,
      step: 17,
      round: 1,
      tensor: 0,
      chunk: 1,
    });
    expect(parsed.chunks).toBe(frames.length);
  });

  it("carry their exchange: a late joiner's state never mixes with a gossip round", () => {
    const [frame] = encodeTensorFrames({ ...header(1), exchange: 'state' }, small);
    expect(parseFrame(frame).exchange).toBe('state');
    expect(parseFrame(encodeTensorFrames(header(1), small)[0]).exchange).toBe('gossip');
    const unknown = frame.slice();
    new DataView(unknown.buffer).setUint16(6, 7, true);
    expect(() => parseFrame(unknown)).toThrow('frame exchange 7 is unknown');
  });

  it('bf16 frames carry half the payload bytes of fp32', () => {
    const payload = (fs: Uint8Array[]) => fs.reduce((n, f) => n + f.byteLength - FRAME_HEADER_BYTES, 0);
    expect(payload(encodeTensorFrames(header(0, 'bf16'), big))).toBe(
      payload(encodeTensorFrames(header(0), big)) / 2,
    );
  });

  it('reassemble in any order into the exact tensors', () => {
    const assembler = new MessageAssembler({ run, tensorSizes: [big.length, small.length] });
    const frames = new Rng(2).shuffle(message());
    const results = frames.map((f) => assembler.receive(f, current)).filter(Boolean);
    expect(results).toHaveLength(1);
    expect(results[0]?.key).toEqual({ exchange: 'gossip', epoch: 3, step: 17, round: 1 });
    expect(results[0]?.tensors[0]).toEqual(big);
    expect(results[0]?.tensors[1]).toEqual(small);
    expect(assembler.dropped).toBe(0);
  });

  it('drop and count malformed, foreign, stale, oversized, duplicate and non-finite frames', () => {
    const assembler = new MessageAssembler({ run, tensorSizes: [big.length, small.length] });
    const good = encodeTensorFrames(header(1), small)[0];
    const corrupt = good.slice();
    corrupt[0] ^= 0xff;
    const truncated = good.slice(0, good.byteLength - 1);
    const nan = encodeTensorFrames(header(1), small)[0];
    new DataView(nan.buffer).setFloat32(FRAME_HEADER_BYTES + 4, Number.NaN, true);
    const foreign = encodeTensorFrames({ ...header(1), run: runHash('run-b') }, small)[0];
    const unknownTensor = encodeTensorFrames(header(5), small)[0];
    const tooLong = encodeTensorFrames(header(1), Float32Array.of(1, 2, 3, 4))[0];
    const oversized = new Uint8Array(MAX_FRAME_BYTES + 1);
    for (const f of [corrupt, truncated, nan, foreign, unknownTensor, tooLong, oversized]) {
      expect(assembler.receive(f, current)).toBeNull();
    }
    expect(assembler.receive(good, () => false)).toBeNull(); // stale epoch or step
    const first = encodeTensorFrames(header(0), big)[0];
    expect(assembler.receive(first, current)).toBeNull();
    expect(assembler.receive(first, current)).toBeNull(); // duplicate
    expect(Object.fromEntries(assembler.drops)).toEqual({
      malformed: 3,
      'bad values': 1,
      'other run': 1,
      'unknown tensor': 1,
      'out of bounds': 1,
      stale: 1,
      duplicate: 1,
    });
    // None of that disturbed the message in progress: the rest completes it exactly.
    const rest = message().slice(1);
    const done = rest.map((f) => assembler.receive(f, current)).filter(Boolean);
    expect(done[0]?.tensors[0]).toEqual(big);
  });

  it('int8 messages arrive within a quantisation step', () => {
    const assembler = new MessageAssembler({ run, tensorSizes: [big.length, small.length] });
    const done = message('int8')
      .map((f) => assembler.receive(f, current))
      .filter(Boolean)[0];
    const step = Math.max(...big.map(Math.abs)) / 127;
    const err = Math.max(...big.map((v, i) => Math.abs(v - (done?.tensors[0][i] ?? Number.NaN))));
    expect(err).toBeLessThanOrEqual(step);
  });
});
