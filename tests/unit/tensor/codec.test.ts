import { decodeInto, encode, encodedLength, type WIRE_ENCODINGS } from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import { describe, expect, it } from 'vitest';

const decode = (encoding: (typeof WIRE_ENCODINGS)[number], bytes: Uint8Array, n: number) => {
  const out = new Float32Array(n);
  decodeInto(encoding, bytes, n, out);
  return out;
};

describe('wire codecs', () => {
  const rng = new Rng(4);
  const values = Float32Array.from({ length: 1000 }, () => rng.normal() * 0.05);

  it('fp32 is exact; bf16 and fp16 take exactly half the bytes, int8 a quarter plus its scale', () => {
    expect(decode('fp32', encode('fp32', values), 1000)).toEqual(values);
    expect(encodedLength('bf16', 1000)).toBe(encodedLength('fp32', 1000) / 2);
    expect(encodedLength('fp16', 1000)).toBe(2000);
    expect(encodedLength('int8', 1000)).toBe(1004);
  });

  it.each([
    ['bf16', 2 ** -8],
    ['fp16', 2 ** -11],
  ] as const)('%s rounds to nearest within half an ulp (relative %d)', (encoding, halfUlp) => {
    const back = decode(encoding, encode(encoding, values), values.length);
    for (let i = 0; i < values.length; i++) {
      const tolerance =
        encoding === 'fp16'
          ? Math.max(halfUlp * Math.abs(values[i]), 2 ** -25)
          : halfUlp * Math.abs(values[i]);
      expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(tolerance * 1.0001);
    }
  });

  it('fp16 round-trips every finite half-precision value, subnormals included', () => {
    const all = new Uint8Array(2 * 65536);
    const view = new DataView(all.buffer);
    let finite = 0;
    for (let h = 0; h < 65536; h++) if (((h >>> 10) & 0x1f) !== 0x1f) view.setUint16(2 * finite++, h, true);
    const bytes = all.subarray(0, 2 * finite);
    const decoded = decode('fp16', bytes, finite);
    const reencoded = encode('fp16', decoded);
    // -0 and +0 both decode to a zero; compare bit patterns except for the sign of zero.
    for (let i = 0; i < finite; i++) {
      const a = view.getUint16(2 * i, true);
      const b = new DataView(reencoded.buffer).getUint16(2 * i, true);
      if (a !== b) expect(a & 0x7fff).toBe(0);
    }
  });

  it('int8 error is at most half a quantisation step of its chunk', () => {
    const back = decode('int8', encode('int8', values), values.length);
    const step = Math.max(...values.map(Math.abs)) / 127;
    for (let i = 0; i < values.length; i++)
      expect(Math.abs(back[i] - values[i])).toBeLessThanOrEqual(step / 2 + 1e-9);
    expect(decode('int8', encode('int8', new Float32Array(3)), 3)).toEqual(new Float32Array(3));
  });

  it('refuses to send non-finite values or values fp16 cannot hold', () => {
    expect(() => encode('fp32', Float32Array.of(1, Number.NaN))).toThrow(/value 1 is NaN/);
    expect(() => encode('bf16', Float32Array.of(Number.POSITIVE_INFINITY))).toThrow(/Infinity/);
    expect(() => encode('fp16', Float32Array.of(70000))).toThrow(/beyond fp16's range/);
  });

  it('rejects malformed payloads without touching the output', () => {
    const out = Float32Array.of(7, 7, 7);
    const nan = new Uint8Array(new Float32Array([1, Number.NaN, 2]).buffer);
    expect(() => decodeInto('fp32', nan, 3, out)).toThrow(/value 1 is NaN/);
    expect(() => decodeInto('fp32', new Uint8Array(11), 3, out)).toThrow(/need 12 bytes, got 11/);
    expect(() => decodeInto('fp32', new Uint8Array(8), 2, out, 2)).toThrow(/outside the tensor/);
    const badScale = new Uint8Array(5);
    new DataView(badScale.buffer).setFloat32(0, Number.NaN, true);
    expect(() => decodeInto('int8', badScale, 1, out)).toThrow(/scale/);
    expect(out).toEqual(Float32Array.of(7, 7, 7));
  });
});
