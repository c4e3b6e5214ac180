/**
 * A gossip round over any link: node i sends its tensors to its out-neighbours, waits for its
 * in-neighbours' and replaces each tensor by W[i][i]·Z_i + Σ_j W[i][j]·Z_j, summing the in-neighbours in
 * ascending id so that every transport (in-memory, WebRTC) computes bit-identical results.
 */
import type { Mixer, RoundKey } from '../optim/types';
import type { Tensor, TensorBackend } from '../tensor';

/** W at an iteration: row-major n×n, row = receive. */
export interface MixingWeights {
  readonly n: number;
  readonly weights: Float64Array;
}

export interface MixingSchedule {
  at(step: number): MixingWeights;
}

/** How a node reaches its neighbours; the payload is the tensors' values in order. */
export interface GossipLink {
  send(to: number, key: RoundKey, tensors: readonly Float32Array[]): void;
  receive(from: number, key: RoundKey): Promise<Float32Array[]>;
}

export class GossipMixer<T extends Tensor> implements Mixer<T> {
  /** Receive buffers, one set per in-neighbour slot, reused across rounds. */
  private readonly scratch = new Map<string, T>();

  constructor(
    private readonly backend: TensorBackend<T>,
    readonly node: number,
    private readonly schedule: MixingSchedule,
    private readonly link: GossipLink,
  ) {}

  async mix(tensors: readonly T[], key: RoundKey): Promise<void> {
    const w = this.schedule.at(key.step);
    const row = (j: number) => w.weights[this.node * w.n + j];
    const senders: number[] = [];
    const receivers: number[] = [];
    for (let j = 0; j < w.n; j++) {
      if (j === this.node) continue;
      if (row(j) !== 0) senders.push(j);
      if (w.weights[j * w.n + this.node] !== 0) receivers.push(j);
    }
    if (receivers.length > 0) {
      // Fresh host copies: the link may hand them to several receivers, who only read them.
      const values = await Promise.all(tensors.map((t) => this.backend.read(t)));
      for (const to of receivers) this.link.send(to, key, values);
    }
    const received = await Promise.all(senders.map((from) => this.link.receive(from, key)));
    for (const [k, t] of tensors.entries()) {
      const terms: [number, T][] = [[row(this.node), t]];
      for (const [slot, from] of senders.entries()) {
        const values = received[slot][k];
        if (!values || values.length !== t.size) {
          throw new Error(
            `gossip: node ${from} sent ${values?.length ?? 0} values for tensor ${k}, expected ${t.size}`,
          );
        }
        const buffer = this.buffer(slot, k, t);
        this.backend.write(buffer, values);
        terms.push([row(from), buffer]);
      }
      this.backend.combine(t, terms);
    }
  }

  release(): void {
    for (const t of this.scratch.values()) this.backend.release(t);
    this.scratch.clear();
  }

  private buffer(slot: number, k: number, like: T): T {
    const id = `${slot}:${k}`;
    let t = this.scratch.get(id);
    if (!t || t.size !== like.size) {
      t = this.backend.tensor(like.shape);
      this.scratch.set(id, t);
    }
    return t;
  }
}
