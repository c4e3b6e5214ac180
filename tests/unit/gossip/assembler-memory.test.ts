/**
 * What incomplete messages cost a receiver: the values that arrived, never what a frame claims, and no
 * more than the bound in bytes, beyond which the oldest incomplete message goes.
 */
import { MessageAssembler } from '@demuon/shared/gossip';
import { encodeTensorFrames, FRAME_HEADER_BYTES, runHash } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';

const run = runHash('memory');
/** A model of a million values (4 MB a message) and a small tensor. */
const SIZES = [1_000_000, 4];
const MESSAGE_BYTES = 4 * (SIZES[0] + SIZES[1]);
const key = (step: number) => ({ encoding: 'fp32' as const, run, epoch: 1, step, round: 0 });
const always = () => true;
const big = new Float32Array(SIZES[0]).fill(0.5);
const message = (step: number) => [
  ...encodeTensorFrames({ ...key(step), tensor: 0 }, big),
  ...encodeTensorFrames({ ...key(step), tensor: 1 }, Float32Array.of(1, 2, 3, 4)),
];

describe('memory held for incomplete messages', () => {
  it('a first chunk of a few dozen bytes reserves its own values, not a whole message', () => {
    const assembler = new MessageAssembler({ run, tensorSizes: SIZES });
    const [small] = encodeTensorFrames({ ...key(0), tensor: 1 }, Float32Array.of(1, 2, 3, 4));
    expect(small.byteLength).toBe(FRAME_HEADER_BYTES + 16);
    expect(assembler.receive(small, always)).toBeNull();
    expect(assembler.reservedBytes).toBe(16);
    // Sixteen such first chunks of sixteen messages: 256 bytes, where whole messages would be 64 MB.
    for (let step = 1; step < 16; step++)
      assembler.receive(
        encodeTensorFrames({ ...key(step), tensor: 1 }, Float32Array.of(1, 2, 3, 4))[0],
        always,
      );
    expect(assembler.pendingMessages).toBe(16);
    expect(assembler.reservedBytes).toBe(16 * 16);
  });

  it('beyond the bound the oldest incomplete message is pushed out, counted; the newest completes', () => {
    const assembler = new MessageAssembler({ run, tensorSizes: SIZES, maxPendingBytes: 2 * MESSAGE_BYTES });
    const [a, b, c] = [message(0), message(1), message(2)];
    // Two thirds of each of three messages: more than two messages' worth.
    const part = (frames: Uint8Array[]) => frames.slice(0, Math.ceil((frames.length * 2) / 3));
    for (const frames of [a, b, c])
      for (const f of part(frames)) expect(assembler.receive(f, always)).toBeNull();
    expect(assembler.reservedBytes).toBeLessThanOrEqual(2 * MESSAGE_BYTES);
    expect(assembler.pendingMessages).toBe(2);
    expect(Object.fromEntries(assembler.drops)).toEqual({ 'incomplete message pushed out': 1 });
    const rest = c.slice(part(c).length).map((f) => assembler.receive(f, always));
    const done = rest.at(-1);
    expect(done?.key.step).toBe(2);
    expect(done?.tensors[0]).toHaveLength(SIZES[0]);
    expect(done?.tensors[0].every((v) => v === 0.5)).toBe(true);
    expect(Array.from(done?.tensors[1] ?? [])).toEqual([1, 2, 3, 4]);
    // Message 1 is still held; message 0 went.
    expect(assembler.pendingMessages).toBe(1);
  });

  it('chunks claimed in other places than their index says, or in more chunks than the tensor has, cost nothing', () => {
    const assembler = new MessageAssembler({ run, tensorSizes: SIZES });
    const [first] = encodeTensorFrames({ ...key(0), tensor: 0 }, big);
    const header = new DataView(first.buffer, first.byteOffset, FRAME_HEADER_BYTES);
    const chunks = Math.ceil(SIZES[0] / 16_374);
    // The first 64 KiB of values again under other chunk indices (each would be kept once), or in as many
    // chunks as a frame can claim: 65535 times a frame's worth, from one tensor of a message.
    for (const [chunk, claimed] of [
      [1, chunks],
      [chunks - 1, chunks],
      [2, 65_535],
      [65_534, 65_535],
    ]) {
      header.setUint16(28, chunk, true);
      header.setUint16(30, claimed, true);
      expect(assembler.receive(first, always)).toBeNull();
    }
    expect(assembler.drops.get('bad layout')).toBe(4);
    expect(assembler.reservedBytes).toBe(0);
    expect(assembler.pendingMessages).toBe(0);
  });
});
