/**
 * Reassembles gossip messages from frames: one message is every tensor a neighbour sends in one round.
 * Frames are checked (header, run, chunk layout, finite values) before anything is kept; a bad frame is
 * dropped and counted with its reason, and never reaches the optimizer.
 *
 * Memory is spent on what arrived, not on what a frame claims: each chunk is kept as its decoded values,
 * and a message's tensors are put together only once its last chunk is in. The chunks of incomplete
 * messages are bounded in bytes; beyond that, the oldest incomplete message is pushed out.
 */
import { chunkElements, type Exchange, type Frame, parseFrame } from '../protocol/frame';
import { decode } from '../tensor/codec';

export interface AssemblerOptions {
  /** The run's hash (see runHash): frames of other runs are dropped. */
  readonly run: number;
  /** Element count of each tensor, in tensor-index order. */
  readonly tensorSizes: readonly number[];
  /**
   * Incomplete messages kept at once (default 16); a new one beyond that pushes out the oldest. Honest
   * neighbours have a few in flight; this bounds what a sender of endless partial messages can cost.
   */
  readonly maxPending?: number;
  /**
   * Bytes of decoded values that incomplete messages may hold together (default: four whole messages;
   * at least one). A chunk beyond it pushes out the oldest other incomplete messages.
   */
  readonly maxPendingBytes?: number;
}

export interface MessageKey {
  readonly exchange: Exchange;
  readonly epoch: number;
  readonly step: number;
  readonly round: number;
}

/** Default for maxPendingBytes, in whole messages: an honest neighbour interleaves a few streamed rounds. */
const PENDING_MESSAGES_OF_MEMORY = 4;

interface Pending {
  readonly key: MessageKey;
  /** Per tensor, its chunks' decoded values by chunk index; undefined until its first chunk arrives. */
  readonly chunks: (Float32Array | undefined)[][];
  /** Per tensor, the elements per chunk its first chunk's encoding set (0 before): later chunks match. */
  readonly per: number[];
  /** Per tensor, how many chunks are still missing. */
  readonly missing: number[];
  /** Tensors not yet complete. */
  remaining: number;
  /** Bytes of decoded values held. */
  bytes: number;
}

export class MessageAssembler {
  readonly drops = new Map<string, number>();
  /** Incomplete messages, oldest first (a Map keeps insertion order). */
  private readonly pending = new Map<string, Pending>();
  private reserved = 0;
  private readonly maxPendingBytes: number;

  constructor(private readonly options: AssemblerOptions) {
    const messageBytes = 4 * options.tensorSizes.reduce((a, b) => a + b, 0);
    this.maxPendingBytes = Math.max(
      messageBytes,
      options.maxPendingBytes ?? PENDING_MESSAGES_OF_MEMORY * messageBytes,
    );
  }

  /** Bytes of decoded values that incomplete messages hold now. */
  get reservedBytes(): number {
    return this.reserved;
  }

  /** Incomplete messages held now. */
  get pendingMessages(): number {
    return this.pending.size;
  }

  /**
   * Takes one frame; returns the complete message when this frame finished it, else null. `accept`
   * decides whether a message key is still wanted (current epoch, a step not yet mixed).
   */
  receive(
    bytes: Uint8Array,
    accept: (key: MessageKey) => boolean,
  ): { key: MessageKey; tensors: Float32Array[] } | null {
    let frame: Frame;
    try {
      frame = parseFrame(bytes);
    } catch (error) {
      return this.drop('malformed', error);
    }
    const sizes = this.options.tensorSizes;
    if (frame.run !== this.options.run) return this.drop('other run');
    const key: MessageKey = {
      exchange: frame.exchange ?? 'gossip',
      epoch: frame.epoch,
      step: frame.step,
      round: frame.round,
    };
    if (!accept(key)) return this.drop('stale');
    if (frame.tensor >= sizes.length) return this.drop('unknown tensor');
    const size = sizes[frame.tensor];
    if (frame.offset + frame.count > size) return this.drop('out of bounds');
    // Chunk c of a tensor covers exactly what encodeTensorFrames puts there: chunks never overlap or
    // leave gaps, so a message holds at most its own size, and a claimed chunk count costs nothing.
    const per = chunkElements(frame.encoding);
    const chunks = Math.max(1, Math.ceil(size / per));
    const offset = frame.chunk * per;
    if (frame.chunks !== chunks || frame.offset !== offset || frame.count !== Math.min(per, size - offset))
      return this.drop('bad layout');

    const id = messageId(key);
    const message = this.pending.get(id);
    // Chunks of one tensor in encodings of other chunk sizes would not fit together.
    if (message && message.per[frame.tensor] !== 0 && message.per[frame.tensor] !== per)
      return this.drop('bad layout');
    if (message?.chunks[frame.tensor]?.[frame.chunk]) return this.drop('duplicate');
    let values: Float32Array;
    try {
      values = decode(frame.encoding, frame.payload, frame.count);
    } catch (error) {
      return this.drop('bad values', error);
    }
    return this.keep(
      message ?? this.open(id, key),
      { tensor: frame.tensor, chunk: frame.chunk, chunks, per },
      values,
    );
  }

  /** Forgets partial messages that `keep` no longer wants (e.g. after an epoch change). */
  prune(keep: (key: MessageKey) => boolean): void {
    for (const [id, message] of this.pending) if (!keep(message.key)) this.forget(id, message);
  }

  get dropped(): number {
    let n = 0;
    for (const v of this.drops.values()) n += v;
    return n;
  }

  private open(id: string, key: MessageKey): Pending {
    if (this.pending.size >= (this.options.maxPending ?? 16)) this.pushOutOldest();
    const n = this.options.tensorSizes.length;
    const message: Pending = {
      key,
      chunks: new Array(n),
      per: new Array(n).fill(0),
      missing: new Array(n).fill(0),
      remaining: n,
      bytes: 0,
    };
    this.pending.set(id, message);
    return message;
  }

  /** Stores one checked chunk; returns the message once it is complete. */
  private keep(
    message: Pending,
    { tensor, chunk, chunks, per }: { tensor: number; chunk: number; chunks: number; per: number },
    values: Float32Array,
  ): { key: MessageKey; tensors: Float32Array[] } | null {
    // Room first: older incomplete messages go before this one, which never outgrows the bound alone.
    while (this.reserved + values.byteLength > this.maxPendingBytes && this.pushOutOldest(message));
    let held = message.chunks[tensor];
    if (!held) {
      held = new Array(chunks);
      message.chunks[tensor] = held;
      message.per[tensor] = per;
      message.missing[tensor] = chunks;
    }
    held[chunk] = values;
    message.bytes += values.byteLength;
    this.reserved += values.byteLength;
    if (--message.missing[tensor] === 0) message.remaining--;
    if (message.remaining > 0) return null;
    const id = messageId(message.key);
    this.forget(id, message);
    return { key: message.key, tensors: message.chunks.map((c) => join(c as Float32Array[])) };
  }

  /** Pushes out the oldest incomplete message other than `except`; false when there is none. */
  private pushOutOldest(except?: Pending): boolean {
    for (const [id, message] of this.pending) {
      if (message === except) continue;
      this.forget(id, message);
      this.drop('incomplete message pushed out');
      return true;
    }
    return false;
  }

  private forget(id: string, message: Pending): void {
    this.pending.delete(id);
    this.reserved -= message.bytes;
  }

  private drop(reason: string, _error?: unknown): null {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    return null;
  }
}

/** A tensor from its chunks in order; a single chunk is the tensor itself, not a copy. */
function join(chunks: Float32Array[]): Float32Array {
  if (chunks.length === 1) return chunks[0];
  let length = 0;
  for (const c of chunks) length += c.length;
  const out = new Float32Array(length);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** One string per message key, for maps. */
export function messageId(key: MessageKey): string {
  return `${key.exchange}.${key.epoch}.${key.step}.${key.round}`;
}
