/**
 * Gossip over WebRTC data channels: a GossipLink whose neighbours are simple-peer connections. Tensors
 * go out as checked binary frames (≤ 64 KiB, the wire encoding of the run), written through the peer's
 * stream so that backpressure (the data channel's buffered amount) paces the sender. Incoming frames are
 * reassembled per neighbour; bad or stale frames are dropped and counted, never applied.
 */
import {
  type GossipLink,
  MessageAssembler,
  type MessageKey,
  type MessagePart,
  messageId,
} from '@demuon/shared/gossip';
import type { RoundKey } from '@demuon/shared/optim';
import { type Exchange, encodeTensorFrames } from '@demuon/shared/protocol';
import type { WireEncoding } from '@demuon/shared/tensor';
import type SimplePeer from 'simple-peer';

export interface WebRtcLinkOptions {
  /** The run's hash (runHash): stamped on frames and checked on receipt. */
  readonly run: number;
  readonly encoding: WireEncoding;
  /** Element count of each gossiped tensor, in order. */
  readonly tensorSizes: readonly number[];
  /** Bytes incomplete messages may hold per neighbour (MessageAssembler's maxPendingBytes). */
  readonly maxPendingBytes?: number;
  /** The topology epoch frames are stamped with and accepted for. */
  epoch(): number;
  /**
   * Watches a receive that has to wait: calls `giveUp` should the wait be hopeless (the peer's round
   * deadlines), and returns what to call once the message arrived. Without it, a receive waits for good.
   */
  watch?(from: number, key: LinkKey, giveUp: (reason: Error) => void): () => void;
  /** Something arrived from neighbour `from`. */
  heard?(from: number): void;
}

/**
 * A message's key on a link: a gossip round, or with `exchange: 'state'` a late joiner's state. `epoch`
 * stamps it with a fixed epoch instead of the link's current one (a collector's, which knows no epochs).
 */
export type LinkKey = RoundKey & { readonly exchange?: Exchange; readonly epoch?: number };

/**
 * Messages for steps further ahead than this are dropped: an honest neighbour is a step or two ahead at
 * most, while each accepted step can cost a whole model's worth of memory.
 */
const MAX_STEPS_AHEAD = 8;
/** Complete messages kept for rounds not asked for yet; the oldest goes beyond this. */
const MAX_ARRIVED = 16;

export interface LinkStats {
  bytesSent: number;
  bytesReceived: number;
  framesSent: number;
  framesReceived: number;
  drops: number;
  /** Dropped frames by reason ('malformed', 'stale', 'bad values', …). */
  dropReasons: Record<string, number>;
}

interface Neighbour {
  readonly index: number;
  readonly peer: SimplePeer.Instance;
  readonly onData: (data: Uint8Array) => void;
  readonly assembler: MessageAssembler;
  readonly stats: LinkStats;
  /** Complete messages not yet asked for, and receivers waiting for messages not yet complete. */
  readonly arrived: Map<string, Float32Array[]>;
  readonly waiting: Map<string, { resolve(tensors: Float32Array[]): void; reject(error: Error): void }>;
  closed: boolean;
  /** The latest step a round was taken (or given up) for, and its rounds: anything older is stale. */
  consumed: { step: number; rounds: Set<number> };
  /** Writes are chained so frames of one message go out in order and never interleave. */
  sending: Promise<void>;
}

/** Marks `key` as taken or given up: later frames for it, or for older steps, are dropped as stale. */
function consume(neighbour: Neighbour, key: LinkKey): void {
  if ((key.exchange ?? 'gossip') !== 'gossip') return;
  const { consumed } = neighbour;
  if (key.step > consumed.step) {
    consumed.step = key.step;
    consumed.rounds.clear();
  }
  if (key.step === consumed.step) consumed.rounds.add(key.round);
}

export class WebRtcGossipLink implements GossipLink {
  private readonly neighbours = new Map<number, Neighbour>();
  private failed: Error | null = null;

  constructor(private readonly options: WebRtcLinkOptions) {}

  /** Attaches a connected simple-peer instance as neighbour `index`. */
  attach(index: number, peer: SimplePeer.Instance): void {
    const neighbour: Neighbour = {
      index,
      peer,
      onData: (data) => this.onFrame(neighbour, data),
      assembler: new MessageAssembler({
        run: this.options.run,
        tensorSizes: this.options.tensorSizes,
        maxPendingBytes: this.options.maxPendingBytes,
      }),
      stats: {
        bytesSent: 0,
        bytesReceived: 0,
        framesSent: 0,
        framesReceived: 0,
        drops: 0,
        dropReasons: {},
      },
      arrived: new Map(),
      waiting: new Map(),
      closed: false,
      consumed: { step: -1, rounds: new Set() },
      sending: Promise.resolve(),
    };
    this.neighbours.set(index, neighbour);
    peer.on('data', neighbour.onData);
    // A closed channel fails its pending and future rounds at once instead of at the timeout.
    peer.once('close', () => this.markClosed(neighbour));
  }

  /**
   * Neighbour `index` is leaving, or this peer is: no more frames go to it (not even the rest of a message
   * being written), and its rounds fail at once. Its connection stays open for its owner to close.
   */
  close(index: number): void {
    const neighbour = this.neighbours.get(index);
    if (neighbour) this.markClosed(neighbour);
  }

  closeAll(): void {
    for (const neighbour of this.neighbours.values()) this.markClosed(neighbour);
  }

  private markClosed(neighbour: Neighbour): void {
    neighbour.closed = true;
    for (const [id, w] of neighbour.waiting) {
      neighbour.waiting.delete(id);
      w.reject(new Error(`the data channel to neighbour ${neighbour.index} closed`));
    }
  }

  /** Stops listening to neighbour `index`; its connection stays open for its owner to close. */
  detach(index: number): void {
    const neighbour = this.neighbours.get(index);
    neighbour?.peer.off('data', neighbour.onData);
    this.neighbours.delete(index);
  }

  /** Fails every waiting receive now, and every later one at once (the peer stopped being a member). */
  failAll(reason: Error): void {
    this.failed = reason;
    for (const neighbour of this.neighbours.values()) {
      for (const [id, w] of neighbour.waiting) {
        neighbour.waiting.delete(id);
        w.reject(reason);
      }
    }
  }

  stats(index: number): LinkStats | undefined {
    const n = this.neighbours.get(index);
    return (
      n && { ...n.stats, drops: n.assembler.dropped, dropReasons: Object.fromEntries(n.assembler.drops) }
    );
  }

  send(to: number, key: LinkKey, tensors: readonly Float32Array[], part?: MessagePart): void {
    const neighbour = this.neighbour(to);
    if (neighbour.closed) return; // gone: the next epoch drops it, and nobody waits for these frames
    const header = {
      encoding: this.options.encoding,
      exchange: key.exchange ?? 'gossip',
      run: this.options.run,
      epoch: key.epoch ?? this.options.epoch(),
    };
    const first = part?.first ?? 0;
    const frames = tensors.flatMap((values, j) =>
      encodeTensorFrames({ ...header, step: key.step, round: key.round, tensor: first + j }, values),
    );
    neighbour.sending = neighbour.sending.then(async () => {
      for (const frame of frames) {
        if (neighbour.closed) return;
        neighbour.stats.bytesSent += frame.byteLength;
        neighbour.stats.framesSent++;
        if (!neighbour.peer.write(frame))
          await new Promise((resolve) => neighbour.peer.once('drain', resolve));
      }
    });
  }

  receive(from: number, key: LinkKey): Promise<Float32Array[]> {
    if (this.failed) return Promise.reject(this.failed);
    const neighbour = this.neighbours.get(from);
    if (!neighbour) return Promise.reject(new Error(`no data channel to neighbour ${from}`));
    const id = this.idOf(key);
    const ready = neighbour.arrived.get(id);
    if (ready) {
      neighbour.arrived.delete(id);
      consume(neighbour, key);
      return Promise.resolve(ready);
    }
    if (neighbour.closed) return Promise.reject(new Error(`the data channel to neighbour ${from} is closed`));
    return new Promise((resolve, reject) => {
      let stopWatching = () => {};
      neighbour.waiting.set(id, {
        resolve: (tensors) => {
          stopWatching();
          resolve(tensors);
        },
        reject: (error) => {
          stopWatching();
          reject(error);
        },
      });
      stopWatching =
        this.options.watch?.(from, key, (reason) => {
          if (!neighbour.waiting.delete(id)) return;
          // Given up: its frames, should they still come, are stale.
          consume(neighbour, key);
          reject(reason);
        }) ?? stopWatching;
    });
  }

  private idOf(key: LinkKey): string {
    const { step, round } = key;
    const epoch = key.epoch ?? this.options.epoch();
    return messageId({ exchange: key.exchange ?? 'gossip', epoch, step, round });
  }

  private onFrame(neighbour: Neighbour, data: Uint8Array): void {
    neighbour.stats.bytesReceived += data.byteLength;
    neighbour.stats.framesReceived++;
    // Frames of a later epoch are kept: a neighbour may switch one step before this node does.
    const epoch = this.options.epoch();
    const { consumed } = neighbour;
    const wanted = (k: MessageKey) =>
      k.exchange === 'state' ||
      (k.epoch >= epoch &&
        // Before its first round a link has no bearing yet (a late joiner starts at any step).
        (consumed.step < 0 || k.step <= consumed.step + MAX_STEPS_AHEAD) &&
        (k.step > consumed.step || (k.step === consumed.step && !consumed.rounds.has(k.round))));
    const message = neighbour.assembler.receive(data, wanted);
    if (!message) return;
    this.options.heard?.(neighbour.index);
    const id = messageId(message.key);
    const waiter = neighbour.waiting.get(id);
    if (waiter) {
      neighbour.waiting.delete(id);
      consume(neighbour, message.key);
      waiter.resolve(message.tensors);
      return;
    }
    if (neighbour.arrived.size >= MAX_ARRIVED) {
      neighbour.arrived.delete(neighbour.arrived.keys().next().value!);
      neighbour.assembler.drops.set('unclaimed', (neighbour.assembler.drops.get('unclaimed') ?? 0) + 1);
    }
    neighbour.arrived.set(id, message.tensors);
  }

  private neighbour(index: number): Neighbour {
    const n = this.neighbours.get(index);
    if (!n) throw new Error(`no data channel to neighbour ${index}`);
    return n;
  }
}
