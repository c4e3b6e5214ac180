/**
 * Reassembles gossip messages from frames: one message is every tensor a neighbour sends in one round.
 * Frames are checked (header, run, sizes, bounds, finite values) before anything is written; a bad frame
 * is dropped and counted with its reason, and never reaches the optimizer.
 */
import { type Exchange, type Frame, parseFrame } from '../protocol/frame';
import { decodeInto } from '../tensor/codec';

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
}

export interface MessageKey {
  readonly exchange: Exchange;
  readonly epoch: number;
  readonly step: number;
  readonly round: number;
}

interface Pending {
  readonly key: MessageKey;
  readonly tensors: Float32Array[];
  /** Chunks received per tensor, to detect completion and duplicates. */
  readonly seen: Set<number>[];
  chunksPerTensor: number[];
  remaining: number;
}

export class MessageAssembler {
  readonly drops = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly options: AssemblerOptions) {}

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

    const id = messageId(key);
    let message = this.pending.get(id);
    if (!message) {
      if (this.pending.size >= (this.options.maxPending ?? 16)) {
        this.pending.delete(this.pending.keys().next().value!);
        this.drop('incomplete message pushed out');
      }
      message = {
        key,
        tensors: sizes.map((n) => new Float32Array(n)),
        seen: sizes.map(() => new Set<number>()),
        chunksPerTensor: sizes.map(() => 0),
        remaining: sizes.length,
      };
      this.pending.set(id, message);
    }
    const known = message.chunksPerTensor[frame.tensor];
    if (known !== 0 && known !== frame.chunks) return this.drop('inconsistent chunk count');
    if (message.seen[frame.tensor].has(frame.chunk)) return this.drop('duplicate');
    try {
      decodeInto(frame.encoding, frame.payload, frame.count, message.tensors[frame.tensor], frame.offset);
    } catch (error) {
      return this.drop('bad values', error);
    }
    message.chunksPerTensor[frame.tensor] = frame.chunks;
    message.seen[frame.tensor].add(frame.chunk);
    if (message.seen[frame.tensor].size === frame.chunks) message.remaining--;
    if (message.remaining > 0) return null;
    this.pending.delete(id);
    return { key, tensors: message.tensors };
  }

  /** Forgets partial messages that `keep` no longer wants (e.g. after an epoch change). */
  prune(keep: (key: MessageKey) => boolean): void {
    for (const [id, message] of this.pending) if (!keep(message.key)) this.pending.delete(id);
  }

  get dropped(): number {
    let n = 0;
    for (const v of this.drops.values()) n += v;
    return n;
  }

  private drop(reason: string, _error?: unknown): null {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    return null;
  }
}

/** One string per message key, for maps. */
export function messageId(key: MessageKey): string {
  return `${key.exchange}.${key.epoch}.${key.step}.${key.round}`;
}
