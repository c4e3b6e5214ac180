/**
 * The model a simulation leaves behind: the averaged parameters X̄ of its last evaluation as a model
 * folder, whose card carries that evaluation's validation loss and the spec that measures it again.
 */
import { formatTopologySpec, topologySpec } from '@demuon/shared/graph';
import { brownValidationSpec, type ModelCard } from '@demuon/shared/model';
import { writeModelDir } from './model-dir';
import type { SimulationResult } from './simulation';

/** Writes X̄ of `result` (run with `keepAverage`) into the new folder `dir`; returns its card. */
export function exportSimulationModel(dir: string, result: SimulationResult, runId: string): ModelCard {
  const { config, average } = result;
  if (!average) throw new Error('the simulation kept no averaged parameters (run it with keepAverage)');
  if (!Number.isFinite(average.valLoss))
    throw new Error(`not exporting: the averaged parameters' validation loss is ${average.valLoss}`);
  return writeModelDir(dir, {
    config: average.model,
    params: average.params,
    tokenizer: average.tokenizer,
    card: {
      run: { id: runId },
      algorithm: config.algorithm,
      topology: formatTopologySpec(topologySpec(config.topology)),
      step: average.step,
      source: { kind: 'average', peers: config.nodes },
      peers: Array.from({ length: config.nodes }, (_, i) => `node-${i}`),
      validation: {
        loss: average.valLoss,
        spec: brownValidationSpec({
          vocab: average.vocab,
          seed: config.seed,
          batch: config.batch,
          evalBatches: config.evalBatches,
        }),
      },
    },
  });
}
