/**
 * N nodes of one algorithm in one process, advanced together: each iteration takes every node's
 * gradients and runs all nodes' steps concurrently, their gossip rounds meeting in an in-memory network.
 * The simulator and the optimizer tests drive algorithms through this, with the very code a peer runs.
 */
import {
  type Attack,
  type GossipMixer,
  MemoryNetwork,
  type MixingSchedule,
  type RobustMixing,
} from '../gossip';
import {
  type AlgorithmConfig,
  averageParams,
  consensusError,
  createAlgorithm,
  type DecentralizedAlgorithm,
  type Mixer,
  type ParamInfo,
} from '../optim';
import type { Tensor, TensorBackend, WireEncoding } from '../tensor';
import { transferredTensors } from './state-transfer';

export interface LockstepOptions<T extends Tensor> {
  readonly backend: TensorBackend<T>;
  readonly params: readonly ParamInfo[];
  /** The shared initial parameters X⁰. */
  readonly x0: readonly Float32Array[];
  readonly nodes: number;
  readonly schedule: MixingSchedule;
  readonly config: AlgorithmConfig;
  /** The wire encoding gossip goes through (default fp32, exact). */
  readonly encoding?: WireEncoding;
  /** Clipped gossip on every node (see gossip/robust.ts). */
  readonly robust?: RobustMixing;
  /** Nodes that gossip corrupted values (see gossip/attacks.ts), by index. */
  readonly attacks?: ReadonlyMap<number, Attack>;
}

export class Lockstep<T extends Tensor> {
  readonly network: MemoryNetwork;
  readonly algorithms: DecentralizedAlgorithm<T>[];
  private readonly mixers: (Mixer<T> & { release(): void; readonly gossip: GossipMixer<T> })[];
  private readonly grads: T[][];

  constructor(private readonly options: LockstepOptions<T>) {
    const { backend, params, x0, nodes, schedule, config } = options;
    this.network = new MemoryNetwork(nodes, options.encoding);
    this.algorithms = Array.from({ length: nodes }, () => createAlgorithm(backend, params, x0, config));
    const { robust, attacks } = options;
    this.mixers = Array.from({ length: nodes }, (_, i) =>
      this.network.mixer(backend, i, schedule, { robust, attack: attacks?.get(i) }),
    );
    this.grads = Array.from({ length: nodes }, () => params.map((p) => backend.tensor(p.shape)));
  }

  /** One iteration: `grads[i][t]` is node i's stochastic gradient of tensor t at its current parameters. */
  async step(step: number, totalSteps: number, grads: readonly (readonly Float32Array[])[]): Promise<void> {
    const { backend } = this.options;
    for (const [i, nodeGrads] of grads.entries()) {
      for (const [t, g] of nodeGrads.entries()) backend.write(this.grads[i][t], g);
    }
    await Promise.all(
      this.algorithms.map((a, i) =>
        a.step({ step, totalSteps, grads: this.grads[i], mixer: this.mixers[i] }),
      ),
    );
  }

  /**
   * Node `node` takes node `from`'s parameters and optimizer state and restarts its tracking, as a late
   * joiner does: how a node whose state turned non-finite starts again.
   */
  async copyState(node: number, from: number): Promise<void> {
    const { backend } = this.options;
    const source = transferredTensors(this.algorithms[from]);
    for (const [g, tensors] of transferredTensors(this.algorithms[node]).entries())
      for (const [i, t] of tensors.entries()) backend.write(t, await backend.read(source[g][i]));
    this.algorithms[node].resetTracking();
  }

  /** What robust mixing did, per node, so far (see GossipMixer.robustCounts). */
  robustCounts(): { clipped: number; leftOut: number }[] {
    return this.mixers.map((m) => m.gossip.robustCounts);
  }

  /** Node i's parameters on the host. */
  nodeParams(i: number): Promise<Float32Array[]> {
    return Promise.all(this.algorithms[i].params.map((t) => this.options.backend.read(t)));
  }

  async allParams(): Promise<Float32Array[][]> {
    return Promise.all(this.algorithms.map((_, i) => this.nodeParams(i)));
  }

  async averageParams(): Promise<Float32Array[]> {
    return averageParams(await this.allParams());
  }

  async consensusError(): Promise<number> {
    return consensusError(
      this.options.params.map((p) => p.shape),
      await this.allParams(),
    );
  }

  release(): void {
    for (const a of this.algorithms) a.release();
    for (const m of this.mixers) m.release();
    for (const g of this.grads) for (const t of g) this.options.backend.release(t);
  }
}
