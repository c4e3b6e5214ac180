/**
 * A peer's own checkpoints of its run. Before joining it reads the newest one (what the join tells the
 * server it holds); once the run's config is known, it resumes from it only if it fits exactly. One that
 * does not fit (another run, a changed config, other tensors) is named in the log, left as it is and never
 * written over: this peer then saves nothing to that store.
 */
import {
  type Checkpoint,
  CheckpointError,
  type CheckpointStore,
  checkCompatible,
  checkpointTensors,
  configFingerprint,
} from '../checkpoint';
import type { DecentralizedAlgorithm, ParamInfo } from '../optim';
import type { RunConfig } from '../protocol';
import type { Tensor, TensorBackend } from '../tensor';
import { readState, writeState } from './state-transfer';

export interface CheckpointClaim {
  readonly step: number;
  readonly fingerprint: string;
}

export class PeerCheckpoints {
  private saved: Checkpoint | undefined;
  private writable = true;

  constructor(
    private readonly store: CheckpointStore,
    private readonly log: (line: string) => void,
  ) {}

  /** Reads the store; the claim a join of run `runId` makes, when there is a checkpoint of that run. */
  async open(runId: string): Promise<CheckpointClaim | undefined> {
    const checkpoint = await this.store.load((where, reason) =>
      this.log(`checkpoint ${where} is not usable (${reason}); left as it is`),
    );
    if (!checkpoint) return undefined;
    const { header } = checkpoint;
    if (header.runId !== runId) {
      this.refuse(`it is of run "${header.runId}", not "${runId}"`);
      return undefined;
    }
    this.saved = checkpoint;
    return header.step > 0 ? { step: header.step, fingerprint: header.fingerprint } : undefined;
  }

  /** The checkpoint to resume from, when it fits `run` and this peer's tensors exactly. */
  resumable(
    run: RunConfig,
    params: readonly ParamInfo[],
    stateNames: readonly string[],
  ): Checkpoint | undefined {
    if (!this.saved) return undefined;
    try {
      checkCompatible(this.saved.header, run, checkpointTensors(params, stateNames));
      return this.saved;
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      this.refuse(error.message);
      this.saved = undefined;
      return undefined;
    }
  }

  /** Overwrites the algorithm's state with the checkpoint's, group by group. */
  restore<T extends Tensor>(
    checkpoint: Checkpoint,
    backend: TensorBackend<T>,
    algorithm: DecentralizedAlgorithm<T>,
  ): void {
    const groups: Float32Array[][] = [];
    const perGroup = algorithm.params.length;
    for (let i = 0; i < checkpoint.values.length; i += perGroup)
      groups.push(checkpoint.values.slice(i, i + perGroup) as Float32Array[]);
    writeState(backend, algorithm, groups);
  }

  /** Saves the state after `step` steps (nothing when the store holds a checkpoint this peer must keep). */
  async save<T extends Tensor>(
    run: RunConfig,
    step: number,
    params: readonly ParamInfo[],
    backend: TensorBackend<T>,
    algorithm: DecentralizedAlgorithm<T>,
    losses: { trainLoss?: number; valLoss?: number },
  ): Promise<void> {
    if (!this.writable) return;
    const values = (await readState(backend, algorithm)).flat();
    if (!values.every((v) => v.every(Number.isFinite))) {
      this.log(`step ${step}: state not finite; no checkpoint saved`);
      return;
    }
    const header = {
      runId: run.id,
      fingerprint: configFingerprint(run),
      // ICE credentials (TURN ones a server minted for this peer, expiring) are kept in no file.
      run: { ...run, iceServers: run.iceServers.map(({ urls }) => ({ urls })) },
      step,
      ...finite(losses),
      savedAt: Date.now(),
      tensors: checkpointTensors(params, Object.keys(algorithm.state)),
    };
    await this.store.save({ header, values });
  }

  private refuse(reason: string): void {
    this.writable = false;
    this.log(
      `error: the checkpoint in ${this.store.location} cannot resume this run: ${reason}. ` +
        'It is left as it is, and this peer saves no checkpoints there.',
    );
  }
}

function finite(losses: { trainLoss?: number; valLoss?: number }) {
  return Object.fromEntries(Object.entries(losses).filter(([, v]) => Number.isFinite(v)));
}
