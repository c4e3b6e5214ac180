/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, the centralized single-node reference.
 * Weight decay applies only to tensors the caller marks (matrices, embeddings, head; not gains and biases).
 */
export interface AdamWOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export class AdamW {
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private t = 0;

  constructor(
    private readonly params: Float32Array[],
    private readonly decays: readonly boolean[],
    options: AdamWOptions,
  ) {
    if (decays.length !== params.length)
      throw new Error('AdamW: one decay flag per parameter tensor is needed');
    if (!(options.lr > 0)) throw new Error(`AdamW: lr must be positive, got ${options.lr}`);
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.95;
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
    this.m = params.map((p) => new Float32Array(p.length));
    this.v = params.map((p) => new Float32Array(p.length));
  }

  /** Learning rate of the next step (schedules set it before each step). */
  lr: number;

  get steps(): number {
    return this.t;
  }

  step(grads: readonly Float32Array[]): void {
    this.t++;
    const { beta1, beta2, eps, lr } = this;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (const [i, p] of this.params.entries()) {
      const g = grads[i];
      const m = this.m[i];
      const v = this.v[i];
      const shrink = this.decays[i] ? 1 - lr * this.weightDecay : 1;
      for (let k = 0; k < p.length; k++) {
        m[k] = beta1 * m[k] + (1 - beta1) * g[k];
        v[k] = beta2 * v[k] + (1 - beta2) * g[k] * g[k];
        p[k] = p[k] * shrink - (lr * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + eps);
      }
    }
  }
}
