/**
 * The binary gossip frame: a fixed 40-byte little-endian header and an encoded payload. A tensor larger
 * than one frame is split into chunks (WebRTC data channels cap messages at 256 KiB in Chrome; 64 KiB
 * frames also keep flow control fine-grained). Every field is checked on receipt.
 *
 *   offset  size  field
 *        0     4  magic 'DMGF'
 *        4     1  version (1)
 *        5     1  encoding (0 fp32, 1 bf16, 2 fp16, 3 int8)
 *        6     2  exchange (0 a gossip round, 1 a late joiner's state)
 *        8     4  run id hash
 *       12     4  topology epoch
 *       16     4  step
 *       20     4  round within the step
 *       24     4  tensor index
 *       28     2  chunk index            30  2  chunk count
 *       32     4  element offset of this chunk in the tensor
 *       36     4  element count of this chunk
 *       40        payload
 */
import { ENCODING_SIZE, encodedLength, encodeInto, WIRE_ENCODINGS, type WireEncoding } from '../tensor/codec';

export const FRAME_MAGIC = 0x46474d44; // 'DMGF' read as a little-endian u32
export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 40;
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * What a message is part of: a gossip round of a step, or the state (parameters and optimizer state) a
 * neighbour hands a late joiner before its first step. The two never share keys.
 */
export const EXCHANGES = ['gossip', 'state'] as const;
export type Exchange = (typeof EXCHANGES)[number];

export interface FrameHeader {
  readonly encoding: WireEncoding;
  /** Absent: a gossip round. */
  readonly exchange?: Exchange;
  readonly run: number;
  readonly epoch: number;
  readonly step: number;
  readonly round: number;
  readonly tensor: number;
  readonly chunk: number;
  readonly chunks: number;
  readonly offset: number;
  readonly count: number;
}

export interface Frame extends FrameHeader {
  readonly payload: Uint8Array;
}

/** Elements per chunk so that a frame stays within MAX_FRAME_BYTES. */
export function chunkElements(encoding: WireEncoding, maxFrameBytes = MAX_FRAME_BYTES): number {
  const { perElement, perChunk } = ENCODING_SIZE[encoding];
  return Math.floor((maxFrameBytes - FRAME_HEADER_BYTES - perChunk) / perElement);
}

/**
 * Splits one tensor into encoded frames: chunk c holds elements c·per … of it, per = chunkElements(encoding).
 * Receivers refuse any other layout (see MessageAssembler), so a frame cannot claim memory it does not fill.
 */
export function encodeTensorFrames(
  header: Omit<FrameHeader, 'chunk' | 'chunks' | 'offset' | 'count'>,
  values: Float32Array,
  maxFrameBytes = MAX_FRAME_BYTES,
): Uint8Array[] {
  const per = chunkElements(header.encoding, maxFrameBytes);
  const chunks = Math.max(1, Math.ceil(values.length / per));
  if (chunks > 0xffff) throw new Error(`a tensor of ${values.length} values needs more than 65535 frames`);
  const frames: Uint8Array[] = [];
  for (let chunk = 0; chunk < chunks; chunk++) {
    const offset = chunk * per;
    const part = values.subarray(offset, Math.min(values.length, offset + per));
    const frame = new Uint8Array(FRAME_HEADER_BYTES + encodedLength(header.encoding, part.length));
    writeHeader(frame, { ...header, chunk, chunks, offset, count: part.length });
    encodeInto(header.encoding, part, frame.subarray(FRAME_HEADER_BYTES));
    frames.push(frame);
  }
  return frames;
}

function writeHeader(frame: Uint8Array, h: FrameHeader): void {
  const v = new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_BYTES);
  v.setUint32(0, FRAME_MAGIC, true);
  v.setUint8(4, FRAME_VERSION);
  v.setUint8(5, WIRE_ENCODINGS.indexOf(h.encoding));
  v.setUint16(6, EXCHANGES.indexOf(h.exchange ?? 'gossip'), true);
  v.setUint32(8, h.run >>> 0, true);
  v.setUint32(12, h.epoch, true);
  v.setUint32(16, h.step, true);
  v.setUint32(20, h.round, true);
  v.setUint32(24, h.tensor, true);
  v.setUint16(28, h.chunk, true);
  v.setUint16(30, h.chunks, true);
  v.setUint32(32, h.offset, true);
  v.setUint32(36, h.count, true);
}

/** Parses and checks a frame's header and payload size; throws a message naming the first problem. */
export function parseFrame(bytes: Uint8Array): Frame {
  if (bytes.byteLength < FRAME_HEADER_BYTES)
    throw new Error(`frame of ${bytes.byteLength} bytes is shorter than its header`);
  if (bytes.byteLength > MAX_FRAME_BYTES)
    throw new Error(`frame of ${bytes.byteLength} bytes exceeds ${MAX_FRAME_BYTES}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(0, true) !== FRAME_MAGIC) throw new Error('frame has a wrong magic number');
  const version = v.getUint8(4);
  if (version !== FRAME_VERSION)
    throw new Error(`frame version ${version} is not supported (expected ${FRAME_VERSION})`);
  const encoding = WIRE_ENCODINGS[v.getUint8(5)];
  if (!encoding) throw new Error(`frame encoding ${v.getUint8(5)} is unknown`);
  const exchange = EXCHANGES[v.getUint16(6, true)];
  if (!exchange) throw new Error(`frame exchange ${v.getUint16(6, true)} is unknown`);
  const header: FrameHeader = {
    encoding,
    exchange,
    run: v.getUint32(8, true),
    epoch: v.getUint32(12, true),
    step: v.getUint32(16, true),
    round: v.getUint32(20, true),
    tensor: v.getUint32(24, true),
    chunk: v.getUint16(28, true),
    chunks: v.getUint16(30, true),
    offset: v.getUint32(32, true),
    count: v.getUint32(36, true),
  };
  if (header.chunks === 0 || header.chunk >= header.chunks) {
    throw new Error(`frame chunk ${header.chunk} of ${header.chunks} is out of range`);
  }
  const payload = bytes.subarray(FRAME_HEADER_BYTES);
  const expected = encodedLength(encoding, header.count);
  if (payload.byteLength !== expected) {
    throw new Error(
      `frame payload holds ${payload.byteLength} bytes, ${header.count} ${encoding} values need ${expected}`,
    );
  }
  return { ...header, payload };
}

/** A 32-bit FNV-1a hash of a run id, stamped on frames so that runs never mix. */
export function runHash(runId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < runId.length; i++) {
    h ^= runId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
