/**
 * Reference methods that a fully decentralized run cannot match: every node applies the same update to
 * the exact network average, as a central server would. Only the simulator offers that average.
 */
import type { AdamWStep, Tensor } from '../tensor';
import { algorithm, type TensorSet } from './algorithms';
import { type AlgorithmConfig, stepSize } from './config';
import { direction } from './direction';
import type { Mixer, RoundKey } from './types';

type Config<N extends AlgorithmConfig['name']> = Extract<AlgorithmConfig, { name: N }>;

const ROUNDS = [{ label: 'average', tensors: 'g → mean over all nodes (central all-reduce)' }];

async function averaged<T extends Tensor>(
  mixer: Mixer<T>,
  tensors: readonly T[],
  key: RoundKey,
): Promise<void> {
  if (!mixer.average)
    throw new Error('this algorithm needs the exact network average, which only the simulator has');
  await mixer.average(tensors, key);
}

/**
 * Average-then-polarize: the momentum of the averaged gradient, polarised; what a federated Muon does.
 * X stays identical on every node, so it needs no mixing.
 */
export function averageThenPolarize<T extends Tensor>(
  set: TensorSet<T>,
  x0: readonly Float32Array[],
  cfg: Config<'avg-polarize'>,
) {
  const { backend, params } = set;
  const X = set.from(x0);
  const G = set.zeros();
  const M = set.zeros();
  const D = set.zeros();
  return algorithm<T>(
    set,
    'avg-polarize',
    X,
    { momentum: M },
    ROUNDS,
    async ({ step, totalSteps, grads, mixer }) => {
      for (const [i, g] of grads.entries()) backend.combine(G[i], [[1, g]]);
      await averaged(mixer, G, { step, round: 0 });
      for (const [i, m] of M.entries())
        backend.combine(m, [
          [1 - cfg.theta, m],
          [cfg.theta, G[i]],
        ]);
      await direction(backend, params, M, D, cfg);
      const eta = stepSize(cfg.lr, step, totalSteps);
      for (const [i, x] of X.entries())
        backend.combine(x, [
          [1, x],
          [-eta, D[i]],
        ]);
    },
  );
}

/** Centralized Muon on the averaged gradient: buf ← β·buf + (1−β)·g, Nesterov lerp(g, buf, β), msgn. */
export function centralMuon<T extends Tensor>(
  set: TensorSet<T>,
  x0: readonly Float32Array[],
  cfg: Config<'central-muon'>,
) {
  const { backend, params } = set;
  const X = set.from(x0);
  const G = set.zeros();
  const buf = set.zeros();
  const U = set.zeros();
  const b = cfg.beta;
  return algorithm<T>(
    set,
    'central-muon',
    X,
    { momentum: buf },
    ROUNDS,
    async ({ step, totalSteps, grads, mixer }) => {
      for (const [i, g] of grads.entries()) backend.combine(G[i], [[1, g]]);
      await averaged(mixer, G, { step, round: 0 });
      for (const [i, m] of buf.entries()) {
        backend.combine(m, [
          [b, m],
          [1 - b, G[i]],
        ]);
        backend.combine(
          U[i],
          cfg.nesterov
            ? [
                [1 - b, G[i]],
                [b, m],
              ]
            : [[1, m]],
        );
      }
      await direction(backend, params, U, U, cfg);
      const eta = stepSize(cfg.lr, step, totalSteps);
      for (const [i, x] of X.entries())
        backend.combine(x, [
          [1, x],
          [-eta, U[i]],
        ]);
    },
  );
}

/** Centralized AdamW on the averaged gradient; decay only for tensors that are not gains or biases. */
export function centralAdamW<T extends Tensor>(
  set: TensorSet<T>,
  x0: readonly Float32Array[],
  cfg: Config<'central-adamw'>,
) {
  const { backend, params } = set;
  const X = set.from(x0);
  const G = set.zeros();
  const m = set.zeros();
  const v = set.zeros();
  return algorithm<T>(set, 'central-adamw', X, { firstMoment: m, secondMoment: v }, ROUNDS, async (input) => {
    const { step, totalSteps, grads, mixer } = input;
    for (const [i, g] of grads.entries()) backend.combine(G[i], [[1, g]]);
    await averaged(mixer, G, { step, round: 0 });
    const lr = stepSize(cfg.lr, step, totalSteps);
    for (const [i, x] of X.entries()) {
      const hp: AdamWStep = {
        lr,
        beta1: cfg.beta1,
        beta2: cfg.beta2,
        eps: cfg.eps,
        weightDecay: params[i].kind === 'vector' ? 0 : cfg.weightDecay,
        step: step + 1,
      };
      backend.adamw(x, m[i], v[i], G[i], hp);
    }
  });
}
