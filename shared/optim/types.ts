/** The contract between an algorithm, the tensors it updates and the gossip layer that mixes them. */
import type { ParamKind } from '../model';
import type { Tensor } from '../tensor';

export interface ParamInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly kind: ParamKind;
}

/** Which gossip round of which iteration a mix belongs to: the key frames are matched by. */
export interface RoundKey {
  readonly step: number;
  readonly round: number;
}

/**
 * One gossip round: every tensor Z_i is replaced by mix(Z)_i = Σ_j W[i][j]·Z_j, where node i sends its
 * tensors to its out-neighbours and waits for those of its in-neighbours. All nodes call `mix` with the
 * same key at the same point of their iteration.
 */
export interface Mixer<T extends Tensor = Tensor> {
  mix(tensors: readonly T[], key: RoundKey): Promise<void>;
  /**
   * The same round, with tensors sent as soon as they are final instead of all at once: an algorithm
   * that computes a round's tensors group by group overlaps their transfer with its next computation.
   * The mixed values are exactly those of `mix`. Links that cannot stream leave it out.
   */
  stream?(tensors: readonly T[], key: RoundKey): MixStream;
  /** The exact network average (a central server's all-reduce); only the simulator offers it. */
  average?(tensors: readonly T[], key: RoundKey): Promise<void>;
}

/** A gossip round in progress: parts of it go out with `send`, `finish` mixes once all were sent. */
export interface MixStream {
  /** Tensors [from, to) hold their final values for this round: send them now. */
  send(from: number, to: number): void;
  /** Waits for the in-neighbours and mixes every tensor; call once every tensor was sent. */
  finish(): Promise<void>;
}

export interface StepInput<T extends Tensor = Tensor> {
  /** Iteration k, 0-based, and the planned number K (for decaying step sizes). */
  readonly step: number;
  readonly totalSteps: number;
  /** Stochastic gradients g_i^k at the current parameters, one per parameter tensor. */
  readonly grads: readonly T[];
  readonly mixer: Mixer<T>;
}

/** A gossip round as an algorithm declares it: what it exchanges. */
export interface RoundSpec {
  readonly label: string;
  readonly tensors: string;
}

export interface DecentralizedAlgorithm<T extends Tensor = Tensor> {
  readonly name: string;
  /** The gossip rounds of one iteration, in order. */
  readonly rounds: readonly RoundSpec[];
  /** This node's parameters X_i, updated in place by `step`. */
  readonly params: readonly T[];
  /** Named optimizer state (momentum, trackers, …): what a late joiner must receive besides X. */
  readonly state: Readonly<Record<string, readonly T[]>>;
  step(input: StepInput<T>): Promise<void>;
  /**
   * Called on every node when the graph changes (a peer joined or left). Trackers keep their invariant
   * (Σ_i V_i = Σ_i M_i over the nodes, Σ_i ŷ_i = 0) only while W is doubly stochastic and nobody leaves
   * with their share, so each node restarts tracking from its own local quantity, which restores the
   * invariant exactly over the new member set.
   */
  resetTracking(): void;
  /** Frees every tensor the algorithm allocated, parameters included. */
  release(): void;
}
