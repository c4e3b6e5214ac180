import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Checkpoint } from '@demuon/shared/checkpoint';
import { afterAll, expect, it } from 'vitest';
import { CheckpointDir } from '../../../client/src/node/checkpoint-dir';

const dir = mkdtempSync(join(tmpdir(), 'checkpoint-dir-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const at = (step: number): Checkpoint => ({
  header: {
    runId: 'ck',
    fingerprint: '01234567',
    step,
    savedAt: step,
    tensors: [{ group: 'params', name: 'w', shape: [2] }],
  },
  values: [Float32Array.of(step, -step)],
});

it('keeps the latest and the previous checkpoint, and falls back to the previous when the latest is damaged', () => {
  const store = new CheckpointDir(join(dir, 'run'));
  expect(store.load()).toBeUndefined();
  store.save(at(10));
  store.save(at(20));
  expect(store.load()?.header.step).toBe(20);

  const latest = join(dir, 'run', 'latest.ckpt');
  const damaged = readFileSync(latest);
  damaged[damaged.length - 8] ^= 0xff;
  writeFileSync(latest, damaged);
  const problems: string[] = [];
  const loaded = store.load((file, reason) => problems.push(`${file}: ${reason}`));
  expect(loaded?.header.step).toBe(10);
  expect([...loaded!.values[0]]).toEqual([10, -10]);
  expect(problems).toEqual([`${latest}: the checkpoint is damaged (its checksum does not match)`]);
  // The damaged file is left for the user to look at, not overwritten by the read.
  expect(readFileSync(latest)).toEqual(damaged);
});
