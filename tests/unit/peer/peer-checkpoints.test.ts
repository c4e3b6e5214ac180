/**
 * A peer's own checkpoints, on a store in memory: a save and a restore give back every tensor of the
 * algorithm's state; a checkpoint of another run, of a changed config, or a store with an unreadable one
 * is named in the log, not resumed from, and never written over.
 */
import type { Checkpoint, CheckpointStore } from '@demuon/shared/checkpoint';
import { createAlgorithm } from '@demuon/shared/optim';
import { PeerCheckpoints, transferredTensors } from '@demuon/shared/peer';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { CpuBackend } from '@demuon/shared/tensor';
import { describe, expect, it } from 'vitest';

const RUN = RunConfigSchema.parse({ id: 'r', algorithm: { name: 'demuon', lr: { eta: 0.1 } }, steps: 100 });
const params = [
  { name: 'w', shape: [3, 2], kind: 'matrix' as const },
  { name: 'b', shape: [2], kind: 'vector' as const },
];
const backend = new CpuBackend();
const algorithm = () =>
  createAlgorithm(backend, params, [new Float32Array(6).fill(1), new Float32Array(2)], RUN.algorithm);

class MemoryStore implements CheckpointStore {
  readonly location = 'memory';
  saves = 0;
  constructor(
    public checkpoint?: Checkpoint,
    private readonly unreadable?: string,
  ) {}
  async load(problem: (where: string, reason: string) => void) {
    if (this.unreadable) problem('memory/latest', this.unreadable);
    return this.checkpoint;
  }
  async save(checkpoint: Checkpoint) {
    this.saves++;
    this.checkpoint = checkpoint;
  }
}

async function saved(run = RUN): Promise<Checkpoint> {
  const store = new MemoryStore();
  const source = algorithm();
  for (const [g, group] of transferredTensors(source).entries())
    for (const [i, t] of group.entries()) backend.write(t, new Float32Array(t.size).fill(g * 10 + i + 0.25));
  await new PeerCheckpoints(store, () => {}).save(run, 30, params, backend, source, {
    trainLoss: 4,
    valLoss: 5,
  });
  return store.checkpoint!;
}

describe('peer checkpoints', () => {
  it('save every tensor of the state, claim their step, and restore it exactly', async () => {
    const checkpoint = await saved();
    expect(checkpoint.header).toMatchObject({ runId: 'r', step: 30, trainLoss: 4, valLoss: 5 });
    const checkpoints = new PeerCheckpoints(new MemoryStore(checkpoint), () => {});
    expect(await checkpoints.open('r')).toEqual({ step: 30, fingerprint: checkpoint.header.fingerprint });
    const target = algorithm();
    const resumable = checkpoints.resumable(RUN, params, Object.keys(target.state));
    expect(resumable).toBe(checkpoint);
    checkpoints.restore(resumable!, backend, target);
    for (const [g, group] of transferredTensors(target).entries())
      for (const [i, t] of group.entries())
        expect(await backend.read(t)).toEqual(new Float32Array(t.size).fill(g * 10 + i + 0.25));
  });

  it('leave a checkpoint of another run or config as it is, and save nothing over it', async () => {
    const lines: string[] = [];
    const foreign = new MemoryStore(await saved(RunConfigSchema.parse({ ...RUN, id: 'other' })));
    const other = new PeerCheckpoints(foreign, (line) => lines.push(line));
    expect(await other.open('r')).toBeUndefined();
    await other.save(RUN, 40, params, backend, algorithm(), {});
    expect(foreign.saves).toBe(0);
    expect(foreign.checkpoint!.header.runId).toBe('other');
    expect(lines.at(-1)).toMatch(
      /cannot resume this run: it is of run "other", not "r"\. It is left as it is/,
    );

    const changed = RunConfigSchema.parse({ ...RUN, seed: 9 });
    const stale = new MemoryStore(await saved());
    const mine = new PeerCheckpoints(stale, (line) => lines.push(line));
    expect(await mine.open('r')).toBeDefined();
    expect(mine.resumable(changed, params, Object.keys(algorithm().state))).toBeUndefined();
    expect(lines.at(-1)).toMatch(/changed its model, data, algorithm, seed or batch/);
    await mine.save(changed, 40, params, backend, algorithm(), {});
    expect(stale.saves).toBe(0);
  });

  it('name an unreadable checkpoint and resume from none', async () => {
    const lines: string[] = [];
    const checkpoints = new PeerCheckpoints(new MemoryStore(undefined, 'damaged'), (line) =>
      lines.push(line),
    );
    expect(await checkpoints.open('r')).toBeUndefined();
    expect(lines).toEqual(['checkpoint memory/latest is not usable (damaged); left as it is']);
  });
});
