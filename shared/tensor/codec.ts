/**
 * Wire encodings of float32 tensor data for gossip: fp32 (exact), bf16 and fp16 (half the bytes,
 * round-to-nearest-even), int8 (a quarter, with one float32 scale per chunk). Decoding never trusts its
 * input: sizes are checked and non-finite values rejected, so a bad frame is refused, not applied.
 */

export type WireEncoding = 'fp32' | 'bf16' | 'fp16' | 'int8';
export const WIRE_ENCODINGS: readonly WireEncoding[] = ['fp32', 'bf16', 'fp16', 'int8'];

/** Bytes per element, and fixed bytes per chunk (int8's scale). */
export const ENCODING_SIZE: Record<WireEncoding, { perElement: number; perChunk: number }> = {
  fp32: { perElement: 4, perChunk: 0 },
  bf16: { perElement: 2, perChunk: 0 },
  fp16: { perElement: 2, perChunk: 0 },
  int8: { perElement: 1, perChunk: 4 },
};

export function encodedLength(encoding: WireEncoding, elements: number): number {
  const { perElement, perChunk } = ENCODING_SIZE[encoding];
  return perChunk + perElement * elements;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function toBf16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  return ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) & 0xffff;
}

function fromBf16(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

function toFp16(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // inf / nan
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow: the caller checks the range first
  if (e <= 0) {
    if (e < -10) return sign; // underflows to ±0
    mantissa |= 0x800000; // subnormal: shift the implicit bit in, round to nearest even
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rounded = (mantissa + half - 1 + ((mantissa >>> shift) & 1)) >>> shift;
    return sign | rounded;
  }
  const rounded = mantissa + 0xfff + ((mantissa >>> 13) & 1);
  if (rounded & 0x800000) {
    mantissa = 0;
    e += 1;
    if (e >= 0x1f) return sign | 0x7c00;
  } else {
    mantissa = rounded;
  }
  return sign | (e << 10) | (mantissa >>> 13);
}

function fromFp16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 0x1f) return m ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

export const FP16_MAX = 65504;

/** Encodes `values` into `out` (which must hold encodedLength bytes) as little-endian bytes. */
export function encodeInto(encoding: WireEncoding, values: Float32Array, out: Uint8Array): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const n = values.length;
  if (out.byteLength !== encodedLength(encoding, n))
    throw new Error('encode: output buffer has the wrong size');
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(values[i]))
      throw new Error(`encode: value ${i} is ${values[i]}; only finite values are sent`);
  }
  switch (encoding) {
    case 'fp32':
      for (let i = 0; i < n; i++) view.setFloat32(4 * i, values[i], true);
      return;
    case 'bf16':
      for (let i = 0; i < n; i++) view.setUint16(2 * i, toBf16(values[i]), true);
      return;
    case 'fp16':
      for (let i = 0; i < n; i++) {
        if (Math.abs(values[i]) > FP16_MAX)
          throw new Error(`encode: value ${i} (${values[i]}) is beyond fp16's range`);
        view.setUint16(2 * i, toFp16(values[i]), true);
      }
      return;
    case 'int8': {
      let max = 0;
      for (let i = 0; i < n; i++) max = Math.max(max, Math.abs(values[i]));
      const scale = max / 127;
      view.setFloat32(0, scale, true);
      const inv = scale > 0 ? 1 / scale : 0;
      for (let i = 0; i < n; i++)
        view.setInt8(4 + i, Math.max(-127, Math.min(127, Math.round(values[i] * inv))));
      return;
    }
  }
}

export function encode(encoding: WireEncoding, values: Float32Array): Uint8Array {
  const out = new Uint8Array(encodedLength(encoding, values.length));
  encodeInto(encoding, values, out);
  return out;
}

/**
 * Decodes `elements` values from `bytes` into a new array; throws when the size does not match or a
 * value is not finite.
 */
export function decode(encoding: WireEncoding, bytes: Uint8Array, elements: number): Float32Array {
  if (bytes.byteLength !== encodedLength(encoding, elements)) {
    throw new Error(
      `decode: ${elements} ${encoding} values need ${encodedLength(encoding, elements)} bytes, got ${bytes.byteLength}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float32Array(elements);
  switch (encoding) {
    case 'fp32':
      for (let i = 0; i < elements; i++) values[i] = view.getFloat32(4 * i, true);
      break;
    case 'bf16':
      for (let i = 0; i < elements; i++) values[i] = fromBf16(view.getUint16(2 * i, true));
      break;
    case 'fp16':
      for (let i = 0; i < elements; i++) values[i] = fromFp16(view.getUint16(2 * i, true));
      break;
    case 'int8': {
      const scale = view.getFloat32(0, true);
      if (!Number.isFinite(scale) || scale < 0) throw new Error(`decode: int8 scale ${scale} is invalid`);
      for (let i = 0; i < elements; i++) values[i] = view.getInt8(4 + i) * scale;
      break;
    }
  }
  for (let i = 0; i < elements; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`decode: value ${i} is ${values[i]}`);
  }
  return values;
}

/**
 * Decodes `elements` values from `bytes` into `out` at `offset`; throws (changing nothing) when the
 * size does not match or a value is not finite.
 */
export function decodeInto(
  encoding: WireEncoding,
  bytes: Uint8Array,
  elements: number,
  out: Float32Array,
  offset = 0,
): void {
  if (offset < 0 || offset + elements > out.length) throw new Error('decode: values fall outside the tensor');
  out.set(decode(encoding, bytes, elements), offset);
}
