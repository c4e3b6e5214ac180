/**
 * A gossip round over any link: node i sends its tensors to its out-neighbours, waits for its
 * in-neighbours' and replaces each tensor by W[i][i]·Z_i + Σ_j W[i][j]·Z_j, summing the in-neighbours in
 * ascending id so that every transport (in-memory, WebRTC) computes bit-identical results.
 */
import type { Mixer, MixStream, RoundKey } from '../optim/types';
import type { Tensor, TensorBackend } from '../tensor';
import { distance, NeighbourClipper, type RobustMixing } from './robust';

/** W at an iteration: row-major n×n, row = receive. */
export interface MixingWeights {
  readonly n: number;
  readonly weights: Float64Array;
}

export interface MixingSchedule {
  at(step: number): MixingWeights;
}

/**
 * Where a part of a message sits in the whole: its tensors are tensors `first`, `first + 1`, … of a
 * message of `total` tensors. A message may be sent in several parts; it is received whole.
 */
export interface MessagePart {
  readonly first: number;
  readonly total: number;
}

/** How a node reaches its neighbours; the payload is the tensors' values in order. */
export interface GossipLink {
  send(to: number, key: RoundKey, tensors: readonly Float32Array[], part?: MessagePart): void;
  receive(from: number, key: RoundKey): Promise<Float32Array[]>;
}

/** One node's row of W at an iteration: its self weight, whom it hears (ascending) and whom it feeds. */
export interface Neighbourhood {
  readonly selfWeight: number;
  readonly inNeighbours: readonly { readonly from: number; readonly weight: number }[];
  readonly outNeighbours: readonly number[];
}

/** Node `node`'s neighbourhoods read off a full mixing-matrix schedule (simulator, tests). */
export function neighbourhoodOf(schedule: MixingSchedule, node: number): (step: number) => Neighbourhood {
  return (step) => {
    const { n, weights } = schedule.at(step);
    const inNeighbours: { from: number; weight: number }[] = [];
    const outNeighbours: number[] = [];
    for (let j = 0; j < n; j++) {
      if (j === node) continue;
      if (weights[node * n + j] !== 0) inNeighbours.push({ from: j, weight: weights[node * n + j] });
      if (weights[j * n + node] !== 0) outNeighbours.push(j);
    }
    return { selfWeight: weights[node * n + node], inNeighbours, outNeighbours };
  };
}

export interface GossipMixerOptions {
  /** Clip each neighbour's contribution (ClippedGossip, see robust.ts); plain mixing without it. */
  readonly robust?: RobustMixing;
}

export class GossipMixer<T extends Tensor> implements Mixer<T> {
  /** Receive buffers, one set per in-neighbour slot, reused across rounds. */
  private readonly scratch = new Map<string, T>();
  private readonly clipper: NeighbourClipper | undefined;

  constructor(
    private readonly backend: TensorBackend<T>,
    private readonly neighbourhood: (step: number) => Neighbourhood,
    private readonly link: GossipLink,
    options: GossipMixerOptions = {},
  ) {
    this.clipper = options.robust && new NeighbourClipper(options.robust);
  }

  /** In-neighbours that failed to deliver a round (gone or too slow), counted since construction. */
  missedRounds = 0;

  /**
   * What robust mixing did so far: neighbour tensors it scaled down, and neighbour rounds it left out
   * for lying (see NeighbourClipper).
   */
  get robustCounts(): { clipped: number; leftOut: number } {
    return { clipped: this.clipper?.clipped ?? 0, leftOut: this.clipper?.leftOut ?? 0 };
  }

  async mix(tensors: readonly T[], key: RoundKey): Promise<void> {
    const round = this.stream(tensors, key);
    round.send(0, tensors.length);
    await round.finish();
  }

  /**
   * One gossip round. A neighbour whose message cannot arrive (its link closed, or the link's timeout
   * passed) counts as this node itself for the round: its weight moves to the self weight, so the row
   * still sums to one and the round completes. The server's next epoch then removes it for good.
   */
  stream(tensors: readonly T[], key: RoundKey): MixStream {
    const { selfWeight, inNeighbours, outNeighbours } = this.neighbourhood(key.step);
    const sending: Promise<void>[] = [];
    // This node's values on the host, as sent: robust mixing measures the neighbours' distance from them.
    const own: Float32Array[] = [];
    const robust = this.clipper !== undefined && inNeighbours.length > 0;
    return {
      send: (from, to) => {
        if (outNeighbours.length === 0 && !robust) return;
        // Fresh host copies: the link may hand them to several receivers, who only read them.
        const values = Promise.all(tensors.slice(from, to).map((t) => this.backend.read(t)));
        sending.push(
          values.then((part) => {
            for (const [j, v] of part.entries()) own[from + j] = v;
            for (const neighbour of outNeighbours) {
              try {
                this.link.send(neighbour, key, part, { first: from, total: tensors.length });
              } catch {
                // A neighbour without a link any more: the epoch that removes it is on its way.
              }
            }
          }),
        );
      },
      finish: async () => {
        // Every part is read off the tensors before they are overwritten by the mix.
        await Promise.all(sending);
        const received = await Promise.allSettled(
          inNeighbours.map(({ from }) => this.link.receive(from, key)),
        );
        this.combine(tensors, key.step, selfWeight, inNeighbours, received, robust ? own : undefined);
      },
    };
  }

  /**
   * x_i ← self·x_i + Σ_j w_ij·z_j. With robust mixing, neighbour j's weight is scaled by its clip factor
   * s_j per tensor and the rest, w_ij·(1 − s_j), stays with the node: x_i + Σ_j w_ij·s_j·(z_j − x_i).
   */
  private combine(
    tensors: readonly T[],
    step: number,
    selfWeight: number,
    inNeighbours: Neighbourhood['inNeighbours'],
    received: PromiseSettledResult<Float32Array[]>[],
    own: readonly Float32Array[] | undefined,
  ): void {
    let self = selfWeight;
    const heard: { slot: number; from: number; weight: number; values: Float32Array[] }[] = [];
    for (const [slot, r] of received.entries()) {
      const { from, weight } = inNeighbours[slot];
      if (r.status === 'rejected') {
        self += weight;
        this.missedRounds++;
        continue;
      }
      for (const [k, t] of tensors.entries()) {
        if (r.value[k]?.length !== t.size) {
          throw new Error(
            `gossip: node ${from} sent ${r.value[k]?.length ?? 0} values for tensor ${k}, expected ${t.size}`,
          );
        }
      }
      heard.push({ slot, from, weight, values: r.value });
    }
    const factors =
      own && this.clipper
        ? this.clipper.factors(
            step,
            heard.map((h) => h.from),
            heard.map((h) => h.values.map((v, k) => distance(v, own[k]))),
          )
        : undefined;
    for (const [k, t] of tensors.entries()) {
      const terms: [number, T][] = [[self, t]];
      for (const [h, { slot, weight, values }] of heard.entries()) {
        const s = factors ? factors[h][k] : 1;
        terms[0][0] += weight * (1 - s);
        if (s === 0) continue;
        const buffer = this.buffer(slot, k, t);
        this.backend.write(buffer, values[k]);
        terms.push([weight * s, buffer]);
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
