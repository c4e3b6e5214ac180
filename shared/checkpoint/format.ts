/**
 * A peer's checkpoint as bytes, the same in a tab's storage and a device's directory: what it needs to
 * take up training where it stopped (its parameters and optimizer state, by group and name), the step it
 * was at, and what run it belongs to. Layout, all little-endian:
 *
 *   "DMCK"  u32 version  u32 header bytes  header (UTF-8 JSON)  tensor values (f32, in header order)  u32 CRC-32
 *
 * The CRC covers everything before it: a damaged file is told from a foreign one, and neither is taken.
 */
import CRC32 from 'crc-32';
import { z } from 'zod';
import { decodeUtf8, encodeUtf8 } from '../data/utf8';
import { RunConfigSchema } from '../protocol/events';

const MAGIC = [0x44, 0x4d, 0x43, 0x4b]; // "DMCK"
export const CHECKPOINT_VERSION = 1;
/** Magic, version and header length. */
const PREAMBLE_BYTES = 12;

const TensorEntrySchema = z
  .object({
    /** 'params', or the optimizer state's name ('momentum', 'tracker', …). */
    group: z.string().min(1).max(64),
    name: z.string().min(1).max(200),
    shape: z.array(z.number().int().min(1)).max(8),
  })
  .strict();

export const CheckpointHeaderSchema = z
  .object({
    runId: z.string().min(1).max(64),
    /** The run config's fingerprint (configFingerprint): a checkpoint resumes only the run it came from. */
    fingerprint: z.string().min(1).max(64),
    /** The run's config when it was saved: what the state is of (model, algorithm, data), without a server. */
    run: RunConfigSchema,
    /** The next step to train: the checkpoint holds the state after `step` steps. */
    step: z.number().int().min(0),
    /** The training loss of the last step taken, for the resumed peer's first report. */
    trainLoss: z.number().finite().optional(),
    /** The validation loss of the saved parameters: a resumed peer shows it has them by getting it again. */
    valLoss: z.number().finite().optional(),
    savedAt: z.number().int().min(0),
    tensors: z.array(TensorEntrySchema).max(100_000),
  })
  .strict();
export type CheckpointHeader = z.infer<typeof CheckpointHeaderSchema>;

export interface Checkpoint {
  readonly header: CheckpointHeader;
  /** The values of `header.tensors`, in order. */
  readonly values: readonly Float32Array[];
}

/** Why bytes are not a usable checkpoint; the message says what to do about it. */
export class CheckpointError extends Error {}

export function encodeCheckpoint({ header, values }: Checkpoint): Uint8Array {
  const parsed = CheckpointHeaderSchema.parse(header);
  if (values.length !== parsed.tensors.length)
    throw new CheckpointError(`${values.length} tensors for a header that lists ${parsed.tensors.length}`);
  for (const [i, t] of parsed.tensors.entries()) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (values[i].length !== size)
      throw new CheckpointError(
        `tensor ${t.group}/${t.name} has ${values[i].length} values, its shape ${size}`,
      );
  }
  const json = Uint8Array.from(encodeUtf8(JSON.stringify(parsed)));
  const valueBytes = values.reduce((n, v) => n + v.byteLength, 0);
  const bytes = new Uint8Array(PREAMBLE_BYTES + json.length + valueBytes + 4);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(4, CHECKPOINT_VERSION, true);
  view.setUint32(8, json.length, true);
  bytes.set(json, PREAMBLE_BYTES);
  let offset = PREAMBLE_BYTES + json.length;
  for (const v of values) {
    for (let i = 0; i < v.length; i++) view.setFloat32(offset + 4 * i, v[i], true);
    offset += v.byteLength;
  }
  view.setInt32(offset, CRC32.buf(bytes.subarray(0, offset)), true);
  return bytes;
}

/** Reads a checkpoint; a CheckpointError names what is wrong with bytes that are not one. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (bytes.length < PREAMBLE_BYTES + 4 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new CheckpointError('not a checkpoint (no DMCK header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== CHECKPOINT_VERSION)
    throw new CheckpointError(`checkpoint version ${version}; this version reads ${CHECKPOINT_VERSION}`);
  const end = bytes.length - 4;
  if (CRC32.buf(bytes.subarray(0, end)) !== view.getInt32(end, true))
    throw new CheckpointError('the checkpoint is damaged (its checksum does not match)');
  const headerBytes = view.getUint32(8, true);
  if (PREAMBLE_BYTES + headerBytes > end) throw new CheckpointError('the checkpoint is truncated');
  let header: CheckpointHeader;
  try {
    const json = JSON.parse(decodeUtf8(bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + headerBytes)));
    header = CheckpointHeaderSchema.parse(json);
  } catch (error) {
    throw new CheckpointError(`the checkpoint's header is invalid: ${(error as Error).message}`);
  }
  const sizes = header.tensors.map((t) => t.shape.reduce((a, b) => a * b, 1));
  let offset = PREAMBLE_BYTES + headerBytes;
  if (offset + 4 * sizes.reduce((a, b) => a + b, 0) !== end)
    throw new CheckpointError('the checkpoint holds a different number of values than its header lists');
  const values = sizes.map((size) => {
    const v = new Float32Array(size);
    for (let i = 0; i < size; i++) v[i] = view.getFloat32(offset + 4 * i, true);
    offset += 4 * size;
    return v;
  });
  return { header, values };
}

/** The checkpoint in `bytes`, or the CheckpointError that says why they hold none (stores keep going). */
export function readCheckpoint(bytes: Uint8Array): Checkpoint | CheckpointError {
  try {
    return decodeCheckpoint(bytes);
  } catch (error) {
    if (error instanceof CheckpointError) return error;
    throw error;
  }
}
