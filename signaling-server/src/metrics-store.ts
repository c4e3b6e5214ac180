/**
 * The metrics of one run: per peer, a bounded series in memory and, in its log, every report appended as
 * one JSON line: `<dataDir>/<runId>/metrics.jsonl` (MetricsFile), or a Redis list when the server is
 * scaled out, from which a restarted server (or the process taking the run over) reloads them. Points
 * hold scalars only; the per-link statistics of a report are kept in memory for the latest report.
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

/** Where a run's metrics lines are kept for good: appended one at a time, read back in order. */
export interface MetricsLog {
  /** Named in warnings. */
  readonly name: string;
  append(line: string): void;
  lines(): AsyncIterable<string>;
  close(): Promise<void>;
}

export class MetricsStore {
  /** Insertion order is recency order: a series is moved to the end when it gets a point. */
  private readonly series = new Map<string, MetricsPoint[]>();
  private readonly latestLinks = new Map<string, Metrics['links']>();
  private largestEpoch = 0;

  private constructor(
    private readonly out: MetricsLog,
    private readonly limits: MetricsLimits,
    private readonly log: Logger,
  ) {}

  /** Opens the store of a run, reloading what its log holds; malformed lines are skipped and reported. */
  static async open(out: MetricsLog | string, limits: MetricsLimits, log: Logger): Promise<MetricsStore> {
    const store = new MetricsStore(typeof out === 'string' ? new MetricsFile(out, log) : out, limits, log);
    await store.reload();
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
    this.out.append(JSON.stringify(point));
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
    return metricsCsv(this.points());
  }

  /** Flushes the log. */
  close(): Promise<void> {
    return this.out.close();
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
    let lineNumber = 0;
    let skipped = 0;
    let firstProblem = '';
    for await (const line of this.out.lines()) {
      lineNumber++;
      if (line.trim() === '') continue;
      const problem = this.reloadLine(line);
      if (problem) {
        skipped++;
        firstProblem ||= `line ${lineNumber}: ${problem}`;
      }
    }
    if (skipped > 0) {
      this.log.warn(`${this.out.name}: skipped ${skipped} malformed line(s), first at ${firstProblem}`);
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

/** `<dataDir>/<runId>/metrics.jsonl`, appended to; a crash loses at most the lines being written. */
export class MetricsFile implements MetricsLog {
  private readonly out: WriteStream;

  constructor(
    readonly name: string,
    log: Logger,
  ) {
    mkdirSync(dirname(name), { recursive: true });
    // A crash can leave a last line without its newline; start appending on a fresh line.
    const lastByte = existsSync(name) ? lastByteOf(name) : undefined;
    this.out = createWriteStream(name, { flags: 'a' });
    this.out.on('error', (error) => log.warn(`cannot append to ${name}: ${error.message}`));
    if (lastByte !== undefined && lastByte !== 0x0a) this.out.write('\n');
  }

  append(line: string): void {
    this.out.write(`${line}\n`);
  }

  async *lines(): AsyncIterable<string> {
    if (!existsSync(this.name)) return;
    yield* createInterface({ input: createReadStream(this.name), crlfDelay: Number.POSITIVE_INFINITY });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.out.end(resolve));
  }
}

/** Points as CSV with a header row. */
export function metricsCsv(points: readonly MetricsPoint[]): string {
  const rows = points.map((p) => METRICS_COLUMNS.map((c) => csvField(p[c])).join(','));
  return `${[METRICS_COLUMNS.join(','), ...rows].join('\n')}\n`;
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
