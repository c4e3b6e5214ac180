import type { Tensor, TensorBackend } from '../tensor';
import { demuon, dsgd, gtDsgd, gtNsgdm, TensorSet } from './algorithms';
import { averageThenPolarize, centralAdamW, centralMuon } from './central';
import type { AlgorithmConfig } from './config';
import { suda } from './suda';
import type { DecentralizedAlgorithm, ParamInfo } from './types';

export { AdamW, type AdamWOptions } from './adamw';
export { tensorGroups } from './algorithms';
export {
  ALGORITHM_NAMES,
  type AlgorithmConfig,
  AlgorithmConfigSchema,
  type AlgorithmName,
  algorithmConfig,
  type StepSize,
  StepSizeSchema,
  stepSize,
} from './config';
export { direction, directionRule, type Routing, type UpdateScale, updateScale } from './direction';
export type {
  DecentralizedAlgorithm,
  Mixer,
  MixStream,
  ParamInfo,
  RoundKey,
  RoundSpec,
  StepInput,
} from './types';

/** One node's instance of an algorithm, starting from the shared initial parameters X⁰. */
export function createAlgorithm<T extends Tensor>(
  backend: TensorBackend<T>,
  params: readonly ParamInfo[],
  x0: readonly Float32Array[],
  config: AlgorithmConfig,
): DecentralizedAlgorithm<T> {
  if (x0.length !== params.length)
    throw new Error(`expected ${params.length} initial tensors, got ${x0.length}`);
  const set = new TensorSet(backend, params);
  switch (config.name) {
    case 'demuon':
      return demuon(set, x0, config);
    case 'dsgd':
    case 'dsgd-clip':
      return dsgd(set, x0, config);
    case 'gt-nsgdm':
      return gtNsgdm(set, x0, config);
    case 'gt-dsgd':
      return gtDsgd(set, x0, config);
    case 'suda':
      return suda(set, x0, config);
    case 'avg-polarize':
      return averageThenPolarize(set, x0, config);
    case 'central-muon':
      return centralMuon(set, x0, config);
    case 'central-adamw':
      return centralAdamW(set, x0, config);
  }
}
export { averageParams, consensusError, stackedSpectralNorm } from './metrics';
export {
  buildNewtonSchulzGraph,
  type NewtonSchulzGraphSpec,
  NS_INPUT,
  NS_OUTPUT,
} from './newton-schulz-graph';
