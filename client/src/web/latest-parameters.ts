/**
 * This tab's current parameters, for the Try box, taken without disturbing training. The peer loop gives
 * the gradient engine the parameters at the start of every step: fresh host copies on wasm (and on WebGPU
 * with `resident=0`), the optimizer's own GPU tensors on resident WebGPU. The engine the peer trains with
 * is wrapped to note them; a snapshot is a copy (the host arrays copied again, the GPU tensors read back),
 * so nothing the Try box does can reach the training state.
 */
import type { GradientEngine, ResidentGradientEngine } from '@demuon/shared/model';
import type { PeerActivity } from '@demuon/shared/peer';
import type { Tensor, TensorBackend } from '@demuon/shared/tensor';

export interface ParameterSnapshot {
  /** Steps trained into these parameters. */
  readonly step: number;
  readonly values: Float32Array[];
}

/** The engine a tab trains with: the resident methods are used only on resident WebGPU. */
export type TabGradientEngine = GradientEngine & ResidentGradientEngine<Tensor>;

export class LatestParameters {
  /** The engine to train with: the given one, noting the parameters of each step. */
  readonly engine: TabGradientEngine;
  private host: { step: number; values: readonly Float32Array[] } | undefined;
  /** The optimizer's parameter tensors (resident training), valid while its membership trains. */
  private resident: { step: number; tensors: readonly Tensor[] } | undefined;
  /** Steps trained before the step now starting. */
  private stepsDone = 0;

  constructor(
    inner: TabGradientEngine,
    private readonly backend: TensorBackend<Tensor>,
  ) {
    this.engine = {
      params: inner.params,
      batchSize: inner.batchSize,
      context: inner.context,
      lossAndGrads: (params, batch) => {
        this.host = { step: this.stepsDone, values: params };
        this.resident = undefined;
        return inner.lossAndGrads(params, batch);
      },
      lossAndGradsInto: (params, batch, grads) => {
        this.resident = { step: this.stepsDone, tensors: params };
        this.host = undefined;
        return inner.lossAndGradsInto(params, batch, grads);
      },
      loss: (params, batch) => inner.loss(params, batch),
      lossOn: (params, batch) => inner.lossOn(params, batch),
      dispose: () => inner.dispose(),
    };
  }

  /** The peer's activity: a step starting after a wait, a bootstrap or a resume says which it is. */
  activity(activity: PeerActivity): void {
    if (activity.kind === 'training') this.stepsDone = activity.step;
    // An evicted membership released its tensors; the next one notes its own.
    if (activity.kind === 'rejoining') this.resident = undefined;
  }

  /** A step finished: `steps` are trained now. */
  stepped(steps: number): void {
    this.stepsDone = steps;
  }

  /** A membership ended with these parameters (the optimizer's tensors are released after it). */
  finished(values: readonly Float32Array[] | null): void {
    this.resident = undefined;
    if (values) this.host = { step: this.stepsDone, values };
  }

  /**
   * A copy of the latest parameters; undefined before the first step. On resident training they are the
   * values the optimizer holds when asked: asked mid-step, part of that step may be in them.
   */
  async snapshot(): Promise<ParameterSnapshot | undefined> {
    if (this.resident) {
      const { step, tensors } = this.resident;
      // Each read copies on the GPU queue at once, in order with the optimizer's work.
      return { step, values: await Promise.all(tensors.map((t) => this.backend.read(t))) };
    }
    if (this.host) return { step: this.host.step, values: this.host.values.map((v) => v.slice()) };
    return undefined;
  }
}
