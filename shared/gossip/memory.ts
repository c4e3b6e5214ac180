/**
 * An in-memory network for the simulator and for tests: links between N nodes in one process, with
 * per-node byte counts, plus the exact all-reduce that a central server would offer.
 */
import type { Mixer, RoundKey } from '../optim/types';
import { chunkElements } from '../protocol/frame';
import type { Tensor, TensorBackend } from '../tensor';
import { decodeInto, encode, encodedLength, type WireEncoding } from '../tensor/codec';
import type { Attack } from './attacks';
import { attackingLink } from './attacks';
import {
  type GossipLink,
  GossipMixer,
  type GossipMixerOptions,
  type MessagePart,
  type MixingSchedule,
  neighbourhoodOf,
} from './mixer';

interface Pending {
  /** The message as its parts arrive; complete when `missing` reaches 0. */
  values?: Float32Array[];
  missing?: number;
  resolve?: (values: Float32Array[]) => void;
}

export class MemoryNetwork {
  /** Bytes each node has put on the wire (float32 payloads). */
  readonly bytesSent: number[];
  private readonly mailboxes = new Map<string, Pending>();
  private readonly reductions = new Map<
    string,
    { parts: (Float32Array[] | undefined)[]; waiting: ((v: Float32Array[]) => void)[] }
  >();

  /**
   * `encoding` other than fp32 puts every message through the wire codec chunk by chunk, as the WebRTC
   * link does, so that the simulator shows what bf16, fp16 or int8 gossip costs in accuracy.
   */
  constructor(
    readonly size: number,
    readonly encoding: WireEncoding = 'fp32',
  ) {
    this.bytesSent = new Array(size).fill(0);
  }

  link(node: number): GossipLink {
    return {
      send: (to, key, tensors, part = { first: 0, total: tensors.length }) => {
        this.bytesSent[node] += tensors.reduce((n, t) => n + wireBytes(this.encoding, t.length), 0);
        // fp32 messages are shared, not copied: senders hand over host copies they never touch again.
        const delivered =
          this.encoding === 'fp32' ? [...tensors] : tensors.map((t) => throughWire(this.encoding, t));
        this.deliver(`${node}>${to}@${key.step}.${key.round}`, delivered, part);
      },
      receive: (from, key) => this.take(`${from}>${node}@${key.step}.${key.round}`),
    };
  }

  /**
   * A Mixer for one node: gossip along the schedule, and the exact average for central references. A node
   * given an `attack` sends corrupted values (see attacks.ts).
   */
  mixer<T extends Tensor>(
    backend: TensorBackend<T>,
    node: number,
    schedule: MixingSchedule,
    options: GossipMixerOptions & { attack?: Attack } = {},
  ): Mixer<T> & { release(): void; readonly gossip: GossipMixer<T> } {
    const link = options.attack ? attackingLink(this.link(node), options.attack) : this.link(node);
    const gossip = new GossipMixer(backend, neighbourhoodOf(schedule, node), link, options);
    return {
      mix: (tensors, key) => gossip.mix(tensors, key),
      stream: (tensors, key) => gossip.stream(tensors, key),
      average: async (tensors, key) => {
        const values = await Promise.all(tensors.map((t) => backend.read(t)));
        const mean = await this.allReduce(node, key, values);
        for (const [k, t] of tensors.entries()) backend.write(t, mean[k]);
      },
      release: () => gossip.release(),
      gossip,
    };
  }

  /** Resolves, for every node, with the mean of all nodes' tensors once all have contributed. */
  private allReduce(node: number, key: RoundKey, values: Float32Array[]): Promise<Float32Array[]> {
    const id = `${key.step}.${key.round}`;
    let r = this.reductions.get(id);
    if (!r) {
      r = { parts: new Array(this.size).fill(undefined), waiting: [] };
      this.reductions.set(id, r);
    }
    this.bytesSent[node] += values.reduce((n, t) => n + t.byteLength, 0);
    r.parts[node] = values;
    const done = new Promise<Float32Array[]>((resolve) => r.waiting.push(resolve));
    if (r.parts.every(Boolean)) {
      this.reductions.delete(id);
      // One mean, summed in node order in float64, handed to every node: all stay identical.
      const mean = values.map((t, k) => {
        const out = new Float32Array(t.length);
        for (let i = 0; i < t.length; i++) {
          let s = 0;
          for (const part of r.parts) s += part![k][i];
          out[i] = s / this.size;
        }
        return out;
      });
      for (const resolve of r.waiting) resolve(mean);
    }
    return done;
  }

  private deliver(id: string, part: Float32Array[], { first, total }: MessagePart): void {
    let pending = this.mailboxes.get(id);
    if (!pending) {
      pending = {};
      this.mailboxes.set(id, pending);
    }
    if (!pending.values) {
      pending.values = new Array(total);
      pending.missing = total;
    }
    for (const [j, values] of part.entries()) {
      if (pending.values[first + j]) throw new Error(`gossip: tensor ${first + j} of ${id} sent twice`);
      pending.values[first + j] = values;
      pending.missing!--;
    }
    if (pending.missing === 0 && pending.resolve) {
      this.mailboxes.delete(id);
      pending.resolve(pending.values);
    }
  }

  private take(id: string): Promise<Float32Array[]> {
    const pending = this.mailboxes.get(id);
    if (pending?.values && pending.missing === 0) {
      this.mailboxes.delete(id);
      return Promise.resolve(pending.values);
    }
    return new Promise((resolve) => {
      if (pending) pending.resolve = resolve;
      else this.mailboxes.set(id, { resolve });
    });
  }
}

/** Payload bytes of one tensor on the wire, chunked as the frames chunk it (headers not counted). */
function wireBytes(encoding: WireEncoding, elements: number): number {
  const per = chunkElements(encoding);
  let bytes = 0;
  for (let offset = 0; offset < elements; offset += per)
    bytes += encodedLength(encoding, Math.min(per, elements - offset));
  return bytes;
}

/** The values a receiver decodes after `encoding` and its per-chunk scales. */
function throughWire(encoding: WireEncoding, values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  const per = chunkElements(encoding);
  for (let offset = 0; offset < values.length; offset += per) {
    const chunk = values.subarray(offset, Math.min(values.length, offset + per));
    decodeInto(encoding, encode(encoding, chunk), chunk.length, out, offset);
  }
  return out;
}
