/** A fixed mixing matrix as a MixingSchedule, for tests that need no topology module. */
import type { MixingSchedule } from '@demuon/shared/gossip';

export function fixedMixing(rows: number[][]): MixingSchedule {
  const n = rows.length;
  const weights = Float64Array.from(rows.flat());
  return { at: () => ({ n, weights }) };
}

/** Ring with Metropolis weights 1/3 (n ≥ 3). */
export function ringRows(n: number): number[][] {
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (j === i || j === (i + 1) % n || j === (i + n - 1) % n ? 1 / 3 : 0)),
  );
}
