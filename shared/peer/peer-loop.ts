/**
 * The training loop of one networked node: batch → gradients → algorithm step (local ops and gossip
 * rounds) → metrics. The same loop runs in a Node peer and in a browser worker; only the engine, the
 * backend and the mixer's link differ.
 */
import type { GradientEngine, ResidentGradientEngine, TokenBatch } from '../model';
import type { DecentralizedAlgorithm, Mixer, MixStream, RoundKey } from '../optim';
import type { Tensor, TensorBackend } from '../tensor';

export interface StepTiming {
  /** Forward and backward pass. */
  readonly gradientMs: number;
  /** Local optimizer arithmetic (Newton–Schulz, updates, encoding). */
  readonly optimizerMs: number;
  /** Inside gossip rounds: sending, waiting for neighbours, mixing. */
  readonly waitingMs: number;
}

export interface StepReport {
  readonly step: number;
  readonly trainLoss: number;
  readonly timing: StepTiming;
  /**
   * ‖x_i − Σ_j w_ij·x_j‖ over all parameters in this step's gossip of parameters: how far this node was
   * from its neighbourhood's average, 0 at consensus. Absent for algorithms that gossip no parameters.
   */
  readonly disagreement?: number;
  /** Mean validation loss of this node's parameters, on eval steps. */
  readonly valLoss?: number;
  /**
   * This node's state is lost (a neighbour's huge values, an overflow): the loss was not a finite number
   * (the step was then not taken, and nothing of it went to the neighbours), or the parameters were not
   * after this step's gossip.
   */
  readonly stateNotFinite?: true;
}

export interface PeerLoopOptions<T extends Tensor> {
  readonly engine: GradientEngine;
  readonly backend: TensorBackend<T>;
  readonly algorithm: DecentralizedAlgorithm<T>;
  readonly mixer: Mixer<T>;
  readonly batches: { next(): TokenBatch };
  readonly validation: readonly TokenBatch[];
  readonly totalSteps: number;
  readonly evalEvery: number;
  /** A monotonic clock in milliseconds (performance.now where the platform has it). */
  readonly now?: () => number;
  /**
   * The engine's resident form, when it works on the backend's tensors (onnxruntime-web on the WGSL
   * backend's GPUDevice): parameters and gradients then never leave the GPU.
   */
  readonly resident?: ResidentGradientEngine<T>;
  /** Told when the step enters a phase: its status for the neighbours' round deadlines. */
  readonly onPhase?: (phase: 'gradient' | 'optimizer' | 'gossip') => void;
}

/**
 * Times every gossip round so that a step's wall time splits into computing and waiting, and measures what
 * the round of parameters changed: x_i − mix(x)_i, the node's disagreement with its neighbourhood.
 */
class TimedMixer<T extends Tensor> implements Mixer<T> {
  waitingMs = 0;
  disagreement: number | undefined;
  private readonly before: T[];

  constructor(
    private readonly inner: Mixer<T>,
    private readonly now: () => number,
    private readonly backend: TensorBackend<T>,
    params: readonly T[],
    /** Which round of a step gossips the parameters (-1: none). */
    private readonly paramsRound: number,
    private readonly onPhase: PeerLoopOptions<T>['onPhase'],
  ) {
    this.before = paramsRound < 0 ? [] : params.map((p) => backend.tensor(p.shape));
  }

  mix(tensors: readonly T[], key: RoundKey): Promise<void> {
    return this.measured(tensors, key, () => this.timed(() => this.inner.mix(tensors, key)));
  }

  /** Present when the inner mixer streams; only `finish` is waiting, sends run alongside computing. */
  get stream(): Mixer<T>['stream'] {
    const inner = this.inner;
    if (!inner.stream) return undefined;
    return (tensors: readonly T[], key: RoundKey): MixStream => {
      const round = inner.stream!(tensors, key);
      return {
        send: (from, to) => round.send(from, to),
        // Every tensor is final once `finish` is called: the measure starts there.
        finish: () => this.measured(tensors, key, () => this.timed(() => round.finish())),
      };
    };
  }

  release(): void {
    for (const t of this.before) this.backend.release(t);
  }

  private async measured(tensors: readonly T[], key: RoundKey, act: () => Promise<void>): Promise<void> {
    if (key.round !== this.paramsRound || tensors.length !== this.before.length) return act();
    for (const [i, t] of tensors.entries()) this.backend.combine(this.before[i], [[1, t]]);
    await act();
    for (const [i, t] of tensors.entries())
      this.backend.combine(this.before[i], [
        [1, this.before[i]],
        [-1, t],
      ]);
    const squares = await this.backend.sumSquares(this.before);
    this.disagreement = Math.sqrt(squares.reduce((a, b) => a + b, 0));
  }

  private async timed(act: () => Promise<void>): Promise<void> {
    const started = this.now();
    this.onPhase?.('gossip');
    try {
      await act();
    } finally {
      this.waitingMs += this.now() - started;
      this.onPhase?.('optimizer');
    }
  }
}

export class PeerLoop<T extends Tensor> {
  private readonly grads: T[];
  private readonly mixer: TimedMixer<T>;
  private readonly now: () => number;

  constructor(private readonly options: PeerLoopOptions<T>) {
    this.grads = options.engine.params.map((p) => options.backend.tensor(p.shape));
    this.now = options.now ?? Date.now;
    const { algorithm, backend } = options;
    const paramsRound = algorithm.rounds.findIndex((r) => r.label === 'params');
    this.mixer = new TimedMixer(
      options.mixer,
      this.now,
      backend,
      algorithm.params,
      paramsRound,
      options.onPhase,
    );
  }

  /** This node's parameters on the host. */
  params(): Promise<Float32Array[]> {
    return Promise.all(this.options.algorithm.params.map((t) => this.options.backend.read(t)));
  }

  async validationLoss(): Promise<number> {
    const { resident, engine, algorithm, validation } = this.options;
    const params = resident ? null : await this.params();
    let sum = 0;
    for (const batch of validation)
      sum += params ? await engine.loss(params, batch) : await resident!.lossOn(algorithm.params, batch);
    return sum / validation.length;
  }

  /** The batch's loss, with its gradients left in `this.grads`. */
  private async gradients(batch: TokenBatch): Promise<number> {
    const { resident, engine, backend, algorithm } = this.options;
    if (resident) return resident.lossAndGradsInto(algorithm.params, batch, this.grads);
    const { loss, grads } = await engine.lossAndGrads(await this.params(), batch);
    for (const [i, g] of grads.entries()) backend.write(this.grads[i], g);
    return loss;
  }

  /** Runs iteration `step`: one gradient, one algorithm step with its gossip rounds. */
  async step(step: number): Promise<StepReport> {
    const { algorithm, batches, totalSteps, evalEvery } = this.options;
    const started = this.now();
    this.options.onPhase?.('gradient');
    const loss = await this.gradients(batches.next());
    const computed = this.now();
    if (!Number.isFinite(loss)) {
      const timing = { gradientMs: computed - started, optimizerMs: 0, waitingMs: 0 };
      return { step, trainLoss: loss, timing, stateNotFinite: true };
    }
    this.options.onPhase?.('optimizer');
    this.mixer.waitingMs = 0;
    this.mixer.disagreement = undefined;
    await algorithm.step({ step, totalSteps, grads: this.grads, mixer: this.mixer });
    const finished = this.now();
    const timing: StepTiming = {
      gradientMs: computed - started,
      optimizerMs: finished - computed - this.mixer.waitingMs,
      waitingMs: this.mixer.waitingMs,
    };
    const { disagreement } = this.mixer;
    const report: StepReport = {
      step,
      trainLoss: loss,
      timing,
      ...(disagreement !== undefined ? { disagreement } : {}),
    };
    // Parameters that turned non-finite in this step's gossip show in the disagreement at once.
    if (disagreement !== undefined && !Number.isFinite(disagreement))
      return { ...report, stateNotFinite: true };
    if ((step + 1) % evalEvery === 0 || step + 1 === totalSteps) {
      return { ...report, valLoss: await this.validationLoss() };
    }
    return report;
  }

  release(): void {
    for (const g of this.grads) this.options.backend.release(g);
    this.mixer.release();
  }
}
