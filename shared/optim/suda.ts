/**
 * The SUDA primal–dual template (Alghunaim & Yuan) with a direction D^k in place of the gradient:
 *
 *   z^{k+1} = (I − C)·X^k − η_k·D^k − ŷ^k,   ŷ^{k+1} = ŷ^k + B²·z^{k+1},   X^{k+1} = A·z^{k+1}
 *
 * A, B², C are polynomials in W, so each backbone is a few combinations around one or two gossip rounds.
 * SUDA-Muon forms D by tracking the momentum and then polarising (or, to show why that order matters,
 * by polarising the local momentum directly).
 */
import type { Tensor } from '../tensor';
import { algorithm, copyTensors, type TensorSet, updateMomentum } from './algorithms';
import { type AlgorithmConfig, stepSize } from './config';
import { direction } from './direction';
import type { RoundSpec } from './types';

type SudaConfig = Extract<AlgorithmConfig, { name: 'suda' }>;

const BACKBONE_ROUNDS: Record<SudaConfig['backbone'], RoundSpec[]> = {
  ed: [{ label: 'z', tensors: 'z → W·z (W̄ = (I + W)/2)' }],
  d2: [{ label: 'z', tensors: 'z → W·z' }],
  extra: [{ label: 'z', tensors: 'z → W·z (reused as W·X next iteration)' }],
  'atc-gt': [
    { label: 'z', tensors: 'z → W·z' },
    { label: 'Wz', tensors: 'W·z → W²·z' },
  ],
  'atc-dsgd': [{ label: 'z', tensors: 'z → W·z' }],
};

export function suda<T extends Tensor>(set: TensorSet<T>, x0: readonly Float32Array[], cfg: SudaConfig) {
  const { backend, params } = set;
  const X = set.from(x0);
  const dual = set.zeros(); // ŷ
  const z = set.zeros();
  const wz = set.zeros();
  const w2z = cfg.backbone === 'atc-gt' ? set.zeros() : [];
  // EXTRA needs W·X^k; X^{k+1} = z^{k+1}, so it is the W·z of the previous round, and W·X⁰ = X⁰
  // because every node starts from the same X⁰.
  const wx = cfg.backbone === 'extra' ? set.from(x0) : [];
  const M = cfg.direction === 'gradient' ? [] : set.zeros();
  const V = cfg.direction === 'track-then-polarize' ? set.zeros() : [];
  const D = cfg.direction === 'gradient' ? [] : set.zeros();
  const theta = cfg.theta;

  const state: Record<string, readonly T[]> = { dual };
  if (M.length) state.momentum = M;
  if (V.length) state.tracker = V;
  if (wx.length) state.mixedParams = wx;
  const rounds = [
    ...(cfg.direction === 'track-then-polarize' ? [{ label: 'tracker', tensors: 'V + M^k − M^(k−1)' }] : []),
    ...BACKBONE_ROUNDS[cfg.backbone],
  ];

  return algorithm<T>(
    set,
    `suda-${cfg.backbone}`,
    X,
    state,
    rounds,
    async ({ step, totalSteps, grads, mixer }) => {
      let round = 0;
      let dir: readonly T[] = grads;
      if (cfg.direction !== 'gradient') {
        updateMomentum(backend, grads, M, V.length ? V : null, theta);
        if (V.length) await mixer.mix(V, { step, round: round++ });
        await direction(backend, params, V.length ? V : M, D, cfg);
        dir = D;
      }
      const eta = stepSize(cfg.lr, step, totalSteps);

      // z = (I − C)·X − η·D − ŷ; only EXTRA has C ≠ 0, with (I − C)·X = (X + W·X)/2.
      for (const [i, x] of X.entries()) {
        const primal: [number, T][] =
          cfg.backbone === 'extra'
            ? [
                [0.5, x],
                [0.5, wx[i]],
              ]
            : [[1, x]];
        backend.combine(z[i], [...primal, [-eta, dir[i]], [-1, dual[i]]]);
      }
      copyTensors(backend, wz, z);
      await mixer.mix(wz, { step, round: round++ });

      switch (cfg.backbone) {
        case 'ed':
        case 'd2':
          for (const [i, x] of X.entries()) {
            // W̄·z: (z + W·z)/2 for Exact Diffusion, W·z for D²
            const mixed: [number, T][] =
              cfg.backbone === 'ed'
                ? [
                    [0.5, z[i]],
                    [0.5, wz[i]],
                  ]
                : [[1, wz[i]]];
            backend.combine(dual[i], [
              [1, dual[i]],
              [1, z[i]],
              ...mixed.map(([c, t]) => [-c, t] as [number, T]),
            ]);
            backend.combine(x, mixed);
          }
          break;
        case 'extra':
          for (const [i, x] of X.entries()) {
            backend.combine(dual[i], [
              [1, dual[i]],
              [0.5, z[i]],
              [-0.5, wz[i]],
            ]);
            backend.combine(x, [[1, z[i]]]);
          }
          copyTensors(backend, wx, wz);
          break;
        case 'atc-gt':
          copyTensors(backend, w2z, wz);
          await mixer.mix(w2z, { step, round: round++ });
          for (const [i, x] of X.entries()) {
            // B² = (I − W)²: ŷ += z − 2·W·z + W²·z
            backend.combine(dual[i], [
              [1, dual[i]],
              [1, z[i]],
              [-2, wz[i]],
              [1, w2z[i]],
            ]);
            backend.combine(x, [[1, w2z[i]]]);
          }
          break;
        case 'atc-dsgd':
          copyTensors(backend, X, wz);
          break;
      }
    },
    () => {
      // Σ_i ŷ_i = 0 and Σ_i V_i = Σ_i M_i hold again from the new members' local state; EXTRA's W·X
      // becomes X, exact once the nodes agree and a small perturbation otherwise.
      for (const d of dual) backend.combine(d, [[0, d]]);
      if (V.length) copyTensors(backend, V, M);
      if (wx.length) copyTensors(backend, wx, X);
    },
  );
}
