/** Number formatting and the loss colour scale shared by the graph, the table and the legend. */

export function formatLoss(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  // A loss that is not a finite number was reported as such (the peer's state was lost): say so.
  if (!Number.isFinite(value)) return 'NaN';
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(3);
}

/**
 * Bytes with decimal prefixes and three significant digits ("121 MB", "3.60 MB"), the same scale as
 * throughput, so totals and rates read alike on the join page and the overview.
 */
export function formatBytes(value: number | null | undefined): string {
  return decimal(value, ['B', 'kB', 'MB', 'GB', 'TB']);
}

/**
 * A link's throughput in bytes per second ("456 kB/s", "1.23 MB/s"): the one unit every dashboard uses
 * for throughput.
 */
export function formatBytesPerSecond(bytesPerSecond: number | null | undefined): string {
  return decimal(bytesPerSecond, ['B/s', 'kB/s', 'MB/s', 'GB/s']);
}

/** `value` scaled by powers of 1000 into `units`, to three significant digits (whole numbers of the first). */
function decimal(value: number | null | undefined, units: readonly string[]): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  let v = value;
  let unit = 0;
  // The thresholds sit where rounding to three digits would carry (999.7 kB/s shows as 1.00 MB/s).
  while (Math.abs(v) >= 999.5 && unit < units.length - 1) {
    v /= 1000;
    unit++;
  }
  const digits = unit === 0 || Math.abs(v) >= 99.95 ? 0 : Math.abs(v) >= 9.995 ? 1 : 2;
  return `${v.toFixed(digits)} ${units[unit]}`;
}

export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

const VIRIDIS: readonly [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

/** Viridis at t ∈ [0, 1] (dark purple to yellow), as an rgb() string. */
export function viridis(t: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [VIRIDIS[i], VIRIDIS[i + 1]];
  const c = a.map((v, k) => Math.round(v + (b[k] - v) * f));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
}

/** The gradient of the legend: low loss (bright) on the left, high loss (dark) on the right. */
export function viridisGradient(): string {
  const stops = Array.from({ length: 9 }, (_, k) => `${viridis(1 - k / 8)} ${(k / 8) * 100}%`);
  return `linear-gradient(to right, ${stops.join(', ')})`;
}

/** Colours losses within the current [min, max]: the lowest loss bright yellow, the highest dark purple. */
export class LossScale {
  constructor(
    readonly min: number,
    readonly max: number,
  ) {}

  static of(values: readonly (number | null | undefined)[]): LossScale | undefined {
    const finite = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
    if (finite.length === 0) return undefined;
    return new LossScale(Math.min(...finite), Math.max(...finite));
  }

  color(value: number | null | undefined): string | undefined {
    if (value === null || value === undefined || !Number.isFinite(value)) return undefined;
    const t = this.max > this.min ? (value - this.min) / (this.max - this.min) : 0.5;
    return viridis(1 - t);
  }

  /** Dark text on the bright end of the scale, white on the dark end. */
  textColor(value: number | null | undefined): string {
    if (value === null || value === undefined || !Number.isFinite(value)) return '#1d2430';
    const t = this.max > this.min ? (value - this.min) / (this.max - this.min) : 0.5;
    return t < 0.45 ? '#1d2430' : '#ffffff';
  }
}

/** What a link's route means, for a tooltip (see LinkRoute in shared/protocol). */
export function describeRoute(route: string | undefined): string {
  switch (route) {
    case 'host':
      return 'direct: between addresses of the two devices';
    case 'srflx':
    case 'prflx':
      return 'through a NAT: an address the NAT mapped (reflexive candidate)';
    case 'relay':
      return 'relayed: every byte crosses a TURN server';
    default:
      return 'not reported yet';
  }
}
