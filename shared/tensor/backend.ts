/**
 * The few tensor operations the optimizers need, behind one interface so that an algorithm is written
 * once and runs on the CPU (Float32Array) or on the GPU (WGSL kernels). Operations that produce tensors
 * are enqueued and return at once; only reads and reductions are asynchronous, so a GPU implementation
 * can batch a whole optimizer step into few submissions and read back only what the host must see.
 */

/** A tensor owned by a backend. Its storage is the backend's business. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly size: number;
}

/** Newton–Schulz coefficient schedules (see ALGORITHMS.md). */
export type NewtonSchulzSchedule = 'ns5' | 'polar5';

export interface NewtonSchulzOptions {
  readonly schedule: NewtonSchulzSchedule;
  /** Iterations; for `polar5` at most the schedule's 5 triples, for `ns5` any number (default 5). */
  readonly steps?: number;
}

/** Hyperparameters of one fused AdamW update; `step` is 1-based (bias correction). */
export interface AdamWStep {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly step: number;
}

export interface TensorBackend<T extends Tensor = Tensor> {
  readonly name: string;

  /** A new tensor: zeros, or a copy of `data` (whose length must match the shape). */
  tensor(shape: readonly number[], data?: Float32Array): T;
  /** Overwrites a tensor's values from the host. */
  write(t: T, data: Float32Array): void;
  /** The tensor's values on the host (a fresh array). */
  read(t: T): Promise<Float32Array>;
  /** Frees the tensor's storage; it must not be used afterwards. */
  release(t: T): void;

  /**
   * out ← Σ_k c_k · t_k, elementwise, all of one shape. `out` may also appear among the terms (its old
   * value is used). This one fused op covers axpby, scaling, copies and the weighted sum of received
   * tensors; terms are added in the order given, so results are reproducible across backends up to
   * float rounding of the same sum.
   */
  combine(out: T, terms: ReadonlyArray<readonly [number, T]>): void;

  /** Σ x² of each tensor, in one round trip. */
  sumSquares(ts: readonly T[]): Promise<number[]>;

  /**
   * outs[i] ← msgn(ins[i]) ≈ U·Vᵀ of the reduced SVD, by Newton–Schulz on 2-D tensors (ALGORITHMS.md):
   * the Gram matrix is formed on the smaller side, X is pre-scaled by its Frobenius norm, and same-shape
   * inputs may be batched. `outs[i]` may be `ins[i]`.
   */
  msgn(ins: readonly T[], outs: readonly T[], options: NewtonSchulzOptions): Promise<void>;

  /** Fused AdamW: m, v and x updated in place from the gradient g. */
  adamw(x: T, m: T, v: T, g: T, hp: AdamWStep): void;
}

/** Coefficient triples (a, b, c) per iteration, plus the pre-scaling (s, ε) of X ← G / (‖G‖·s + ε). */
export const NS_SCHEDULES: Record<
  NewtonSchulzSchedule,
  {
    readonly triples: readonly (readonly [number, number, number])[];
    readonly s: number;
    readonly eps: number;
  }
> = {
  ns5: { triples: [[3.4445, -4.775, 2.0315]], s: 1, eps: 1e-7 },
  polar5: {
    triples: [
      [8.156554524902461, -22.48329292557795, 15.878769915207462],
      [4.042929935166739, -2.808917465908714, 0.5000178451051316],
      [3.8916678022926607, -2.772484153217685, 0.5060648178503393],
      [3.285753657755655, -2.3681294933425376, 0.46449024233003106],
      [2.3465413258596377, -1.7097828382687081, 0.42323551169305323],
    ],
    s: 1.02,
    eps: 1e-6,
  },
};

/** The (a, b, c) triple of each iteration for a schedule and a number of steps. */
export function newtonSchulzTriples(options: NewtonSchulzOptions): (readonly [number, number, number])[] {
  const { triples } = NS_SCHEDULES[options.schedule];
  const steps = options.steps ?? 5;
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`Newton–Schulz steps must be ≥ 1, got ${steps}`);
  if (options.schedule === 'polar5') {
    if (steps > triples.length)
      throw new Error(`the polar5 schedule has ${triples.length} steps, asked for ${steps}`);
    return triples.slice(0, steps);
  }
  return Array.from({ length: steps }, () => triples[0]);
}
