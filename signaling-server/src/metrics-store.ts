/**
 * The metrics of one run: per peer, a bounded series in memory and, on disk, every report appended to
 * `<dataDir>/<runId>/metrics.jsonl` (one JSON object a line), from which a restarted server reloads them.
 * Points hold scalars only; the per-link statistics of a report are kept in memory for the latest report.
 */
import {
  closeSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  statSync,
  type WriteStream,
} from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import {
  METRICS_COLUMNS,
  type Metrics,
  type MetricsPoint,
  MetricsPointSchema,
} from '@demuon/shared/protocol';
import { MAX_EPOCH_NUMBER } from './limits';
import type { Logger } from './log';

export type MetricsLimits = {
  /** Points kept in memory per peer (the oldest are dropped first; the file keeps them all). */
  maxPointsPerPeer: number;
  /** Peer series kept in memory per run (the least recently updated series is dropped first). */
  maxSeries: number;
};

export const DEFAULT_METRICS_LIMITS: MetricsLimits = { maxPointsPerPeer: 10_000, maxSeries: 2048 };

export class MetricsStore {
  /** Insertion order is recency order: a series is moved to the end when it gets a point. */
  private readonly series = new Map<string, MetricsPoint[]>();
  private readonly latestLinks = new Map<string, Metrics['links']>();
  private readonly out: WriteStream;
  private largestEpoch = 0;

  private constructor(
    readonly file: string,
    private readonly limits: MetricsLimits,
    private readonly log: Logger,
  ) {
    mkdirSync(dirname(file), { recursive: true });
    // A crash can leave a last line without its newline; start appending on a fresh line.
    const lastByte = existsSync(file) ? lastByteOf(file) : undefined;
    this.out = createWriteStream(file, { flags: 'a' });
    this.out.on('error', (error) => this.log.warn(`cannot append to ${file}: ${error.message}`));
    if (lastByte !== undefined && lastByte !== 0x0a) this.out.write('\n');
  }

  /** Opens the store of a run, reloading what its file holds; malformed lines are skipped and reported. */
  static async open(file: string, limits: MetricsLimits, log: Logger): Promise<MetricsStore> {
    const store = new MetricsStore(file, limits, log);
    if (existsSync(file)) await store.reload();
    return store;
  }

  /** The largest epoch number any stored point carries (epoch numbers must not repeat after a restart). */
  get maxEpoch(): number {
    return this.largestEpoch;
  }

  add(peer: string, metrics: Metrics, t: number): MetricsPoint {
    const { timing, links, ...scalars } = metrics;
    const point: MetricsPoint = { t, peer, ...scalars, ...timing };
    this.remember(point);
    this.latestLinks.set(peer, links);
    this.out.write(`${JSON.stringify(point)}\n`);
    return point;
  }

  latest(peer: string): MetricsPoint | null {
    const points = this.series.get(peer);
    return points ? points[points.length - 1] : null;
  }

  links(peer: string): Metrics['links'] {
    return this.latestLinks.get(peer) ?? [];
  }

  /** Every point in memory, oldest first. */
  points(): MetricsPoint[] {
    return [...this.series.values()].flat().sort((a, b) => a.t - b.t);
  }

  toCsv(): string {
    const rows = this.points().map((p) => METRICS_COLUMNS.map((c) => csvField(p[c])).join(','));
    return `${[METRICS_COLUMNS.join(','), ...rows].join('\n')}\n`;
  }

  /** Flushes the file. */
  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }

  private remember(point: MetricsPoint): void {
    let points = this.series.get(point.peer);
    if (points) this.series.delete(point.peer);
    else points = [];
    this.series.set(point.peer, points);
    points.push(point);
    if (points.length > this.limits.maxPointsPerPeer) points.shift();
    if (this.series.size > this.limits.maxSeries) {
      const oldest = this.series.keys().next().value!;
      this.series.delete(oldest);
      this.latestLinks.delete(oldest);
    }
    this.largestEpoch = Math.max(this.largestEpoch, point.epoch);
  }

  private async reload(): Promise<void> {
    const lines = createInterface({
      input: createReadStream(this.file),
      crlfDelay: Number.POSITIVE_INFINITY,
    });
    let lineNumber = 0;
    let skipped = 0;
    let firstProblem = '';
    for await (const line of lines) {
      lineNumber++;
      if (line.trim() === '') continue;
      const problem = this.reloadLine(line);
      if (problem) {
        skipped++;
        firstProblem ||= `line ${lineNumber}: ${problem}`;
      }
    }
    if (skipped > 0) {
      this.log.warn(`${this.file}: skipped ${skipped} malformed line(s), first at ${firstProblem}`);
    }
  }

  private reloadLine(line: string): string | null {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (error) {
      return (error as Error).message;
    }
    const parsed = MetricsPointSchema.safeParse(json);
    if (!parsed.success)
      return parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    // The largest stored epoch numbers the next epochs: a number no run reaches must not be taken.
    if (parsed.data.epoch > MAX_EPOCH_NUMBER) return `epoch ${parsed.data.epoch} is beyond any run's`;
    this.remember(parsed.data);
    return null;
  }
}

function csvField(value: string | number | null | undefined): string {
  if (value === undefined) return '';
  // A loss reported as null was not a finite number.
  if (value === null) return 'NaN';
  if (typeof value === 'number') return String(value);
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function lastByteOf(file: string): number | undefined {
  const size = statSync(file).size;
  if (size === 0) return undefined;
  const fd = openSync(file, 'r');
  try {
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, size - 1);
    return byte[0];
  } finally {
    closeSync(fd);
  }
}
