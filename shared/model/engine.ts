/**
 * What the training loop needs from a runtime that evaluates the compiled graphs. Implementations live at
 * the edges (onnxruntime-node on devices, onnxruntime-web in tabs) and are injected into the core.
 */
import type { ParamSpec } from './gpt';

/** One batch of token windows, row-major [batch][context]; targets are the tokens shifted by one. */
export interface TokenBatch {
  readonly tokens: Int32Array;
  readonly targets: Int32Array;
}

export interface LossAndGrads {
  readonly loss: number;
  /** One gradient per parameter, in the order of `GradientEngine.params`. */
  readonly grads: Float32Array[];
}

export interface GradientEngine {
  readonly params: readonly ParamSpec[];
  readonly batchSize: number;
  readonly context: number;
  /** Mean training loss of the batch and its gradient with respect to every parameter. */
  lossAndGrads(params: readonly Float32Array[], batch: TokenBatch): Promise<LossAndGrads>;
  /** Mean loss only (forward pass): validation. */
  loss(params: readonly Float32Array[], batch: TokenBatch): Promise<number>;
  dispose(): Promise<void>;
}

/**
 * An engine that reads parameters from, and writes gradients into, the optimizer backend's own tensors
 * (GPU buffers on one device): only the loss comes back to the host. The caller owns every tensor.
 */
export interface ResidentGradientEngine<T> {
  /** Mean training loss of the batch; `grads[i]` receives the gradient of `params[i]`. */
  lossAndGradsInto(params: readonly T[], batch: TokenBatch, grads: readonly T[]): Promise<number>;
  /** Mean loss only (forward pass): validation. */
  lossOn(params: readonly T[], batch: TokenBatch): Promise<number>;
}
