/**
 * DeMuon and the baselines of the DeMuon paper, in adapt-then-combine form, exactly as ALGORITHMS.md
 * writes them. Each is a sequence of local tensor ops and gossip rounds; none touches a network.
 */
import type { Tensor, TensorBackend } from '../tensor';
import { type AlgorithmConfig, stepSize } from './config';
import { direction } from './direction';
import type { DecentralizedAlgorithm, ParamInfo } from './types';

type Config<N extends AlgorithmConfig['name']> = Extract<AlgorithmConfig, { name: N }>;

/** Tensor allocation shared by every algorithm: parameters from X⁰ and zero-initialised state. */
export class TensorSet<T extends Tensor> {
  private readonly owned: T[] = [];
  constructor(
    readonly backend: TensorBackend<T>,
    readonly params: readonly ParamInfo[],
  ) {}

  from(values: readonly Float32Array[]): T[] {
    return this.track(this.params.map((p, i) => this.backend.tensor(p.shape, values[i])));
  }

  zeros(): T[] {
    return this.track(this.params.map((p) => this.backend.tensor(p.shape)));
  }

  releaseAll(): void {
    for (const t of this.owned) this.backend.release(t);
    this.owned.length = 0;
  }

  private track(ts: T[]): T[] {
    this.owned.push(...ts);
    return ts;
  }
}

/** DeMuon: momentum, gradient tracking of the momentum, msgn of the mixed tracker. Two rounds. */
export function demuon<T extends Tensor>(
  set: TensorSet<T>,
  x0: readonly Float32Array[],
  cfg: Config<'demuon'>,
) {
  const { backend, params } = set;
  const X = set.from(x0);
  const M = set.zeros();
  const V = set.zeros();
  const D = set.zeros();
  const theta = cfg.theta;
  const groups = tensorGroups(params, cfg.overlap);
  return algorithm<T>(
    set,
    'demuon',
    X,
    { momentum: M, tracker: V },
    [
      { label: 'tracker', tensors: 'V + M^k − M^(k−1)' },
      { label: 'params', tensors: 'X − η·dir(V)' },
    ],
    async ({ step, totalSteps, grads, mixer }) => {
      updateMomentum(backend, grads, M, V, theta);
      await mixer.mix(V, { step, round: 0 });
      const eta = stepSize(cfg.lr, step, totalSteps);
      // Round 2 streams: each group's X − η·dir(V) is on its way while the next group is computed.
      const round = mixer.stream?.(X, { step, round: 1 });
      for (const [from, to] of round ? groups : [[0, X.length]]) {
        await direction(backend, params.slice(from, to), V.slice(from, to), D.slice(from, to), cfg);
        for (let i = from; i < to; i++)
          backend.combine(X[i], [
            [1, X[i]],
            [-eta, D[i]],
          ]);
        round?.send(from, to);
      }
      if (round) await round.finish();
      else await mixer.mix(X, { step, round: 1 });
    },
    () => copyTensors(backend, V, M),
  );
}

/** DSGD, optionally with the whole-node gradient clipped at τ_k = τ·(k+1)^0.4. One round. */
export function dsgd<T extends Tensor>(
  set: TensorSet<T>,
  x0: readonly Float32Array[],
  cfg: Config<'dsgd'> | Config<'dsgd-clip'>,
) {
  const { backend } = set;
  const X = set.from(x0);
  return algorithm<T>(set, cfg.name, X, {}, [{ label: 'params', tensors: 'X − η·g' }], async (input) => {
    const { step, totalSteps, grads, mixer } = input;
    let factor = 1;
    if (cfg.name === 'dsgd-clip') {
      const norm = Math.sqrt(sum(await backend.sumSquares(grads)));
      const tau = cfg.tau * (step + 1) ** 0.4;
      factor = norm > tau ? tau / norm : 1;
    }
    const eta = stepSize(cfg.lr, step, totalSteps) * factor;
    for (const [i, x] of X.entries())
      backend.combine(x, [
        [1, x],
        [-eta, grads[i]],
      ]);
    await mixer.mix(X, { step, round: 0 });
  });
}

/** GT-NSGDm: momentum, tracking, a step along Y/‖Y‖ over the whole parameter set. Two rounds. */
export function gtNsgdm<T extends Tensor>(
  set: TensorSet<T>,
  x0: readonly Float32Array[],
  cfg: Config<'gt-nsgdm'>,
) {
  const { backend } = set;
  const X = set.from(x0);
  const M = set.zeros();
  const Y = set.zeros();
  const a = 1 - cfg.beta;
  return algorithm<T>(
    set,
    'gt-nsgdm',
    X,
    { momentum: M, tracker: Y },
    [
      { label: 'tracker', tensors: 'Y + M^new − M^old' },
      { label: 'params', tensors: 'X − η·Y/‖Y‖' },
    ],
    async ({ step, totalSteps, grads, mixer }) => {
      for (const [i, g] of grads.entries()) {
        backend.combine(Y[i], [
          [1, Y[i]],
          [a, g],
          [-a, M[i]],
        ]);
        backend.combine(M[i], [
          [cfg.beta, M[i]],
          [a, g],
        ]);
      }
      await mixer.mix(Y, { step, round: 0 });
      const norm = Math.sqrt(sum(await backend.sumSquares(Y)));
      const eta = norm > 0 ? stepSize(cfg.lr, step, totalSteps) / norm : 0;
      for (const [i, x] of X.entries())
        backend.combine(x, [
          [1, x],
          [-eta, Y[i]],
        ]);
      await mixer.mix(X, { step, round: 1 });
    },
    () => copyTensors(backend, Y, M),
  );
}

/** GT-DSGD: gradient tracking with plain gradient steps. Two rounds. */
export function gtDsgd<T extends Tensor>(
  set: TensorSet<T>,
  x0: readonly Float32Array[],
  cfg: Config<'gt-dsgd'>,
) {
  const { backend } = set;
  const X = set.from(x0);
  const Y = set.zeros();
  const previous = set.zeros();
  return algorithm<T>(
    set,
    'gt-dsgd',
    X,
    { tracker: Y, previousGradient: previous },
    [
      { label: 'tracker', tensors: 'Y + g^new − g^old' },
      { label: 'params', tensors: 'X − η·Y' },
    ],
    async ({ step, totalSteps, grads, mixer }) => {
      for (const [i, g] of grads.entries()) {
        backend.combine(Y[i], [
          [1, Y[i]],
          [1, g],
          [-1, previous[i]],
        ]);
        backend.combine(previous[i], [[1, g]]);
      }
      await mixer.mix(Y, { step, round: 0 });
      const eta = stepSize(cfg.lr, step, totalSteps);
      for (const [i, x] of X.entries())
        backend.combine(x, [
          [1, x],
          [-eta, Y[i]],
        ]);
      await mixer.mix(X, { step, round: 1 });
    },
    () => copyTensors(backend, Y, previous),
  );
}

/**
 * M ← (1 − θ)·M + θ·g and, when a tracker V is given, V ← V + M^new − M^old (before V is mixed).
 * M^new − M^old = θ·(g − M^old), so V is updated first, from the old M.
 */
export function updateMomentum<T extends Tensor>(
  backend: TensorBackend<T>,
  grads: readonly T[],
  M: readonly T[],
  V: readonly T[] | null,
  theta: number,
): void {
  for (const [i, g] of grads.entries()) {
    if (V)
      backend.combine(V[i], [
        [1, V[i]],
        [theta, g],
        [-theta, M[i]],
      ]);
    backend.combine(M[i], [
      [1 - theta, M[i]],
      [theta, g],
    ]);
  }
}

export function algorithm<T extends Tensor>(
  set: TensorSet<T>,
  name: string,
  params: readonly T[],
  state: Record<string, readonly T[]>,
  rounds: DecentralizedAlgorithm<T>['rounds'],
  step: DecentralizedAlgorithm<T>['step'],
  resetTracking: () => void = () => {},
): DecentralizedAlgorithm<T> {
  return { name, rounds, params, state, step, resetTracking, release: () => set.releaseAll() };
}

/** to[i] ← from[i] for every tensor. */
export function copyTensors<T extends Tensor>(
  backend: TensorBackend<T>,
  to: readonly T[],
  from: readonly T[],
): void {
  for (const [i, t] of to.entries()) backend.combine(t, [[1, from[i]]]);
}

/**
 * Splits the tensors, in order, into at most `count` contiguous groups [from, to) of about equal
 * element counts: the units a streamed round sends while the next one is computed.
 */
export function tensorGroups(params: readonly ParamInfo[], count: number): [number, number][] {
  const sizes = params.map((p) => p.shape.reduce((a, b) => a * b, 1));
  const total = sum(sizes);
  const groups: [number, number][] = [];
  let from = 0;
  let done = 0;
  for (const [i, size] of sizes.entries()) {
    done += size;
    if (done * count >= total * (groups.length + 1) || i === sizes.length - 1) {
      groups.push([from, i + 1]);
      from = i + 1;
    }
  }
  return groups;
}

export function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
