/**
 * Where a membership's state comes from and where it goes: at its first step a neighbour's state (a late
 * joiner), the peer's own checkpoint (a run resuming at the step it holds), or X⁰; passed on to the
 * joiners that take theirs from this peer; and saved as checkpoints while it trains.
 */
import type { ParamInfo } from '@demuon/shared/optim';
import {
  NeighbourMissed,
  type NodeTraining,
  type PeerCheckpoints,
  receiveState,
  type StateLink,
  type StepReport,
  sendState,
} from '@demuon/shared/peer';
import type { Epoch, RunConfig } from '@demuon/shared/protocol';
import type { Tensor, TensorBackend } from '@demuon/shared/tensor';

/** What NetworkPeer lends: its run, backend, links and checkpoints. */
export interface MembershipStateContext<T extends Tensor> {
  readonly run: RunConfig;
  readonly backend: TensorBackend<T>;
  readonly params: readonly ParamInfo[];
  readonly link: StateLink;
  readonly checkpoints: PeerCheckpoints | undefined;
  /** The link handle of `peer` when its link is open. */
  openHandle(peer: string): number | undefined;
  /** Waits until the epoch's links are open or given up on; false when the peer stopped meanwhile. */
  linksReady(epoch: Epoch, step: number): Promise<boolean>;
  bootstrapping(from: string, step: number): void;
  log(line: string): void;
}

/** Sets the state of the first step of `first`; false when the peer stopped before it had one. */
export async function takeState<T extends Tensor>(
  ctx: MembershipStateContext<T>,
  first: Epoch,
  { algorithm, loop, skipBatches }: NodeTraining<T>,
): Promise<boolean> {
  const { backend, checkpoints } = ctx;
  const start = first.activationStep;
  const checkpoint = checkpoints?.resumable(ctx.run, ctx.params, Object.keys(algorithm.state));
  if (first.bootstrapFrom && start > 0) {
    const from = first.bootstrapFrom;
    ctx.bootstrapping(from, start);
    if (!(await ctx.linksReady(first, start))) return false;
    const handle = ctx.openHandle(from);
    if (handle === undefined) throw new NeighbourMissed(from, start, 'closed');
    await receiveState(ctx.link, backend, algorithm, handle, start);
    ctx.log(`took parameters and optimizer state from ${from} for step ${start}`);
  } else if (checkpoint && checkpoint.header.step === start) {
    checkpoints!.restore(checkpoint, backend, algorithm);
    // The members around it may not be those it saved with: tracking restarts as after a graph change.
    algorithm.resetTracking();
    skipBatches(start);
    const { valLoss } = checkpoint.header;
    ctx.log(
      `resumed from the checkpoint at step ${start}: validation loss ${(await loop.validationLoss()).toFixed(6)}` +
        (valLoss === undefined ? '' : ` (saved: ${valLoss.toFixed(6)})`),
    );
  } else if (checkpoint) {
    ctx.log(`checkpoint at step ${checkpoint.header.step} not used: the run is at step ${start}`);
  }
  if (start > 0 && first.bootstrapTo?.length) {
    if (!(await ctx.linksReady(first, start))) return false;
    const to = first.bootstrapTo.flatMap((p) => ctx.openHandle(p) ?? []);
    if (!(await sendState(ctx.link, backend, algorithm, to, start)))
      ctx.log(`step ${start}: own state is not finite; not sent to joiners`);
  }
  return true;
}

/** Saves the state after `step` steps, with the losses of that point; returns `step`. */
export async function saveCheckpoint<T extends Tensor>(
  ctx: MembershipStateContext<T>,
  { algorithm, loop }: NodeTraining<T>,
  step: number,
  report: StepReport | undefined,
): Promise<number> {
  if (!ctx.checkpoints) return step;
  const valLoss = report?.valLoss ?? (await loop.validationLoss());
  await ctx.checkpoints
    .save(ctx.run, step, ctx.params, ctx.backend, algorithm, { trainLoss: report?.trainLoss, valLoss })
    .catch((error: Error) => ctx.log(`step ${step}: checkpoint not saved: ${error.message}`));
  return step;
}
