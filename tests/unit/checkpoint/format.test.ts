import {
  CheckpointError,
  checkCompatible,
  checkpointTensors,
  configFingerprint,
  decodeCheckpoint,
  encodeCheckpoint,
} from '@demuon/shared/checkpoint';
import type { ParamInfo } from '@demuon/shared/optim';
import { RunConfigSchema } from '@demuon/shared/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const run = RunConfigSchema.parse({ id: 'ck', algorithm: { name: 'demuon', lr: { eta: 0.02 } }, steps: 100 });
const PARAMS: ParamInfo[] = [
  { name: 'w', shape: [3, 2], kind: 'matrix' },
  { name: 'b', shape: [2], kind: 'vector' },
];
const tensors = checkpointTensors(PARAMS, ['tracker', 'momentum']);
const values = tensors.map((t, i) =>
  Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, (_, j) => i + j / 10),
);
const header = {
  runId: run.id,
  fingerprint: configFingerprint(run),
  run,
  step: 40,
  trainLoss: 4.5,
  savedAt: 1,
  tensors,
};
const bytes = encodeCheckpoint({ header, values });

describe('checkpoint format', () => {
  it('reads back what it wrote, in the order of the parameters then the optimizer state by name', () => {
    expect(tensors.map((t) => `${t.group}/${t.name}`)).toEqual([
      'params/w',
      'params/b',
      'momentum/w',
      'momentum/b',
      'tracker/w',
      'tracker/b',
    ]);
    const read = decodeCheckpoint(bytes);
    expect(read.header).toEqual(header);
    expect(read.values).toEqual(values);
    expect(() => checkCompatible(read.header, run, tensors)).not.toThrow();
  });

  it('tells a damaged, truncated or foreign file apart, and never throws anything else', () => {
    const flipped = bytes.slice();
    flipped[40] ^= 1;
    expect(() => decodeCheckpoint(flipped)).toThrow(/damaged/);
    expect(() => decodeCheckpoint(bytes.subarray(0, 30))).toThrow(/damaged|truncated/);
    expect(() => decodeCheckpoint(new TextEncoder().encode('{"not":"a checkpoint"}'))).toThrow(
      /not a checkpoint/,
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(bytes.length), (junk, at) => {
        for (const candidate of [junk, Uint8Array.from([...bytes.subarray(0, at), ...junk])]) {
          try {
            decodeCheckpoint(candidate);
          } catch (error) {
            expect(error).toBeInstanceOf(CheckpointError);
          }
        }
      }),
    );
  });

  it('resumes only the run and config it came from, with the same tensors', () => {
    const other = RunConfigSchema.parse({ ...run, id: 'other' });
    expect(() => checkCompatible(header, other, tensors)).toThrow(/of run "ck", not "other"/);
    const changed = RunConfigSchema.parse({ ...run, algorithm: { name: 'dsgd', lr: { eta: 0.02 } } });
    expect(() => checkCompatible(header, changed, tensors)).toThrow(/changed its model, data, algorithm/);
    const shorter = RunConfigSchema.parse({ ...run, steps: 10 });
    expect(() => checkCompatible(header, shorter, tensors)).toThrow(/at step 40; run "ck" has 10/);
    const wider = checkpointTensors([{ ...PARAMS[0], shape: [3, 3] }, PARAMS[1]], ['tracker', 'momentum']);
    expect(() => checkCompatible(header, run, wider)).toThrow(
      /params\/w \[3×2\] in the checkpoint, params\/w \[3×3\]/,
    );
    // More steps for the same run is fine: the state does not depend on them.
    expect(() =>
      checkCompatible(header, RunConfigSchema.parse({ ...run, steps: 500 }), tensors),
    ).not.toThrow();
  });
});
