import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Checkpoint, decodeCheckpoint } from '@demuon/shared/checkpoint';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { afterAll, expect, it } from 'vitest';
import { CheckpointDir } from '../../../client/src/node/checkpoint-dir';

const dir = mkdtempSync(join(tmpdir(), 'checkpoint-dir-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const at = (step: number): Checkpoint => ({
  header: {
    runId: 'ck',
    fingerprint: '01234567',
    run: RunConfigSchema.parse({ id: 'ck', algorithm: { name: 'demuon', lr: { eta: 0.05 } } }),
    step,
    savedAt: step,
    tensors: [{ group: 'params', name: 'w', shape: [2] }],
  },
  values: [Float32Array.of(step, -step)],
});

it('keeps the latest and the previous checkpoint, and falls back to the previous when the latest is damaged', async () => {
  const store = new CheckpointDir(join(dir, 'run'));
  expect(await store.load()).toBeUndefined();
  await store.save(at(10));
  await store.save(at(20));
  expect((await store.load())?.header.step).toBe(20);

  const latest = join(dir, 'run', 'latest.ckpt');
  const damaged = readFileSync(latest);
  damaged[damaged.length - 8] ^= 0xff;
  writeFileSync(latest, damaged);
  const problems: string[] = [];
  const loaded = await store.load((file, reason) => problems.push(`${file}: ${reason}`));
  expect(loaded?.header.step).toBe(10);
  expect([...loaded!.values[0]]).toEqual([10, -10]);
  expect(problems).toEqual([`${latest}: the checkpoint is damaged (its checksum does not match)`]);
  // The damaged file is left for the user to look at, not overwritten by the read.
  expect(readFileSync(latest)).toEqual(damaged);

  // Nor by the next save: the damaged file moves aside and the good previous one stays.
  await store.save(at(30));
  const files = readdirSync(join(dir, 'run')).sort();
  expect(files).toHaveLength(3);
  expect(files[0]).toBe('latest.ckpt');
  expect(files[1]).toMatch(/^latest\.ckpt\.\d+\.unreadable$/);
  expect(readFileSync(join(dir, 'run', files[1]))).toEqual(damaged);
  expect((await store.load())?.header.step).toBe(30);
  expect(decodeCheckpoint(readFileSync(join(dir, 'run', 'previous.ckpt'))).header.step).toBe(10);
});
