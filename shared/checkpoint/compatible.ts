/**
 * Whether a checkpoint may resume a peer of a run: the same run, the same config where it shapes the state
 * (model, data, algorithm, seed, batch), a step the run has, and exactly the tensors this peer's algorithm
 * holds. Anything else is refused with the first difference named, and nothing is loaded.
 */
import type { ParamInfo } from '../optim';
import { type RunConfig, runHash } from '../protocol';
import { CheckpointError, type CheckpointHeader } from './format';

/** The parts of a run's config a checkpoint's state depends on, hashed (FNV-1a of their JSON). */
export function configFingerprint(run: RunConfig): string {
  const { id, model, data, algorithm, seed, batch } = run;
  return runHash(JSON.stringify({ id, model, data, algorithm, seed, batch })).toString(16).padStart(8, '0');
}

/** The tensors a checkpoint of this algorithm holds: the parameters, then each optimizer state by name. */
export function checkpointTensors(
  params: readonly ParamInfo[],
  stateNames: readonly string[],
): CheckpointHeader['tensors'] {
  return ['params', ...[...stateNames].sort()].flatMap((group) =>
    params.map((p) => ({ group, name: p.name, shape: [...p.shape] })),
  );
}

/** Throws a CheckpointError naming the first reason `header` cannot resume a peer of `run`. */
export function checkCompatible(
  header: CheckpointHeader,
  run: RunConfig,
  tensors: CheckpointHeader['tensors'],
): void {
  if (header.runId !== run.id)
    throw new CheckpointError(`the checkpoint is of run "${header.runId}", not "${run.id}"`);
  if (header.fingerprint !== configFingerprint(run))
    throw new CheckpointError(
      `run "${run.id}" changed its model, data, algorithm, seed or batch since the checkpoint was saved`,
    );
  if (header.step > run.steps)
    throw new CheckpointError(`the checkpoint is at step ${header.step}; run "${run.id}" has ${run.steps}`);
  if (header.tensors.length !== tensors.length)
    throw new CheckpointError(
      `the checkpoint holds ${header.tensors.length} tensors; this peer has ${tensors.length}`,
    );
  for (const [i, t] of tensors.entries()) {
    const saved = header.tensors[i];
    if (saved.group !== t.group || saved.name !== t.name || saved.shape.join('×') !== t.shape.join('×'))
      throw new CheckpointError(
        `tensor ${i} is ${saved.group}/${saved.name} [${saved.shape.join('×')}] in the checkpoint, ` +
          `${t.group}/${t.name} [${t.shape.join('×')}] in this peer`,
      );
  }
}
