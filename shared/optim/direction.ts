/**
 * dir(·): the update direction of each tensor, routed by rank and kind as the DeMuon authors' code does
 * (`demuon`) or as centralized Muon does (`muon`), then scaled by one of the usual conventions.
 */
import type { NewtonSchulzOptions, Tensor, TensorBackend } from '../tensor';
import type { ParamInfo } from './types';

export type Routing = 'demuon' | 'muon';
export type UpdateScale = 'none' | 'muon' | 'moonlight';

export interface DirectionOptions {
  readonly routing: Routing;
  readonly ns: NewtonSchulzOptions;
  readonly scale: UpdateScale;
}

type Rule = 'msgn' | 'normalize' | 'sign';

/**
 * - demuon: msgn for every 2-D tensor, v/‖v‖₂ for 1-D tensors, sign for scalars;
 * - muon: msgn for hidden matrices only, the L2-normalised tensor for embeddings, head and 1-D tensors.
 */
export function directionRule(p: ParamInfo, routing: Routing): Rule {
  if (p.shape.length === 0) return 'sign';
  if (p.shape.length === 2 && (routing === 'demuon' || p.kind === 'matrix')) return 'msgn';
  return 'normalize';
}

/**
 * Update scale of a msgn direction. Weights are stored [fanIn, fanOut] (y = x·W), so Muon's
 * √max(1, rows/cols) of a [out, in] weight is √max(1, fanOut/fanIn) here.
 */
export function updateScale(shape: readonly number[], scale: UpdateScale): number {
  const [fanIn, fanOut] = shape;
  switch (scale) {
    case 'none':
      return 1;
    case 'muon':
      return Math.sqrt(Math.max(1, fanOut / fanIn));
    case 'moonlight':
      return 0.2 * Math.sqrt(Math.max(fanIn, fanOut));
  }
}

/** out[i] ← dir(v[i]) for every tensor. */
export async function direction<T extends Tensor>(
  backend: TensorBackend<T>,
  params: readonly ParamInfo[],
  v: readonly T[],
  out: readonly T[],
  options: DirectionOptions,
): Promise<void> {
  const rules = params.map((p) => directionRule(p, options.routing));
  const pick = (rule: Rule) => params.flatMap((_, i) => (rules[i] === rule ? [i] : []));

  const polar = pick('msgn');
  if (polar.length > 0) {
    await backend.msgn(
      polar.map((i) => v[i]),
      polar.map((i) => out[i]),
      options.ns,
    );
    for (const i of polar) {
      const s = updateScale(params[i].shape, options.scale);
      if (s !== 1) backend.combine(out[i], [[s, out[i]]]);
    }
  }

  const normalized = pick('normalize');
  const squares = await backend.sumSquares(normalized.map((i) => v[i]));
  for (const [k, i] of normalized.entries()) {
    const norm = Math.sqrt(squares[k]);
    backend.combine(out[i], [[norm > 0 ? 1 / norm : 0, v[i]]]);
  }

  for (const i of pick('sign')) {
    const [x] = await backend.read(v[i]);
    backend.write(out[i], Float32Array.of(Math.sign(x)));
  }
}
