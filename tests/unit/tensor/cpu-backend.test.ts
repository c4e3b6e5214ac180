/** The shared backend suite on the CPU reference, plus the test helper's SVD on known matrices. */
import { CpuBackend } from '@demuon/shared/tensor';
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, registerBackendSuite, svd } from '../../helpers/backend-suite';

// The CPU backend is the reference itself: its msgn must agree with `newtonSchulz` exactly.
registerBackendSuite('cpu', () => new CpuBackend(), { msgnTolerance: 1e-7 });

describe('svd (test helper)', () => {
  it('finds the singular values and polar factor of a matrix built from them', () => {
    // [[3, 0], [0, -2], [0, 0]]: singular values 3 and 2, polar factor [[1, 0], [0, -1], [0, 0]].
    const { values, polar } = svd([3, 0, 0, -2, 0, 0], 3, 2);
    expect(values.map((v) => Math.round(v * 1e9) / 1e9).sort()).toEqual([2, 3]);
    expect(maxAbsDiff(polar, [1, 0, 0, -1, 0, 0])).toBeLessThan(1e-12);
    // A rotation scaled by 5, as a wide 2×3 with a zero column: singular values 5, 5; polar = the rotation.
    const [c, s] = [Math.cos(0.3), Math.sin(0.3)];
    const wide = svd([5 * c, -5 * s, 0, 5 * s, 5 * c, 0], 2, 3);
    expect(maxAbsDiff(wide.values, [5, 5])).toBeLessThan(1e-12);
    expect(maxAbsDiff(wide.polar, [c, -s, 0, s, c, 0])).toBeLessThan(1e-12);
  });
});
