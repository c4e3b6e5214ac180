import { describe, expect, it } from 'vitest';
import { formatBytes, formatBytesPerSecond, formatLoss } from '../../../client/src/web/overview/format';
import { MetricsHistory } from '../../../client/src/web/overview/history';

describe('throughput', () => {
  it('is bytes per second with decimal prefixes and three significant digits', () => {
    expect(formatBytesPerSecond(0)).toBe('0 B/s');
    expect(formatBytesPerSecond(512)).toBe('512 B/s');
    expect(formatBytesPerSecond(45_600)).toBe('45.6 kB/s');
    expect(formatBytesPerSecond(456_000)).toBe('456 kB/s');
    expect(formatBytesPerSecond(1_234_000)).toBe('1.23 MB/s');
    expect(formatBytesPerSecond(2e9)).toBe('2.00 GB/s');
  });

  it('carries into the next prefix instead of showing 1000', () => {
    expect(formatBytesPerSecond(999_700)).toBe('1.00 MB/s');
  });

  it('shows a dash without a figure', () => {
    expect(formatBytesPerSecond(undefined)).toBe('—');
    expect(formatBytesPerSecond(Number.NaN)).toBe('—');
  });

  it('uses the same decimal scale for byte totals', () => {
    expect(formatBytes(121_050_000)).toBe('121 MB');
    expect(formatBytes(3_600_000)).toBe('3.60 MB');
    expect(formatBytes(800)).toBe('800 B');
  });
});

describe('losses', () => {
  it('show a lost state as NaN and a missing figure as a dash', () => {
    expect(formatLoss(Number.NaN)).toBe('NaN');
    expect(formatLoss(undefined)).toBe('—');
    expect(formatLoss(4.25)).toBe('4.250');
  });

  it("keep a NaN loss as the peer's latest, out of the averages", () => {
    const history = new MetricsHistory();
    const point = (peer: string, trainLoss: number | null) =>
      ({ t: 0, peer, step: 3, epoch: 1, trainLoss, bytesSent: 0, bytesReceived: 0 }) as const;
    expect(history.add(point('a', 4.5))).toBe(true);
    // A peer whose state turned non-finite reports null (JSON has no NaN): kept, not dropped.
    expect(history.add(point('b', null))).toBe(true);
    expect(history.latest('b').train?.value).toBeNaN();
    expect(history.stats('train')).toEqual([expect.objectContaining({ step: 3, n: 1, mean: 4.5 })]);
  });
});
