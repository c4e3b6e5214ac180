/**
 * Every metrics point seen (the history from metrics.json, then each member's latest point from
 * `run-state`), aggregated across nodes per step: mean, min, max and standard deviation of the validation
 * and training losses, and of a consensus error when the reports carry one.
 */
import type { MetricsPoint } from './types';

export type StepStats = { step: number; n: number; mean: number; min: number; max: number; std: number };

/** A peer's most recent losses, with the step each was reported at. */
export type LatestLoss = { val?: { step: number; value: number }; train?: { step: number; value: number } };

type Values = { train?: number; val?: number; consensus?: number };
export type Quantity = keyof Values;

/**
 * The disagreement each peer reports, ‖x_i − Σ_j w_ij·x_j‖ at its gossip of parameters: the local part of
 * the consensus error, which no peer can compute whole (it would need every node's parameters).
 */
const CONSENSUS_FIELDS = ['disagreement'] as const;

export class MetricsHistory {
  /** step → peer → values reported at that step. */
  private readonly steps = new Map<number, Map<string, Values>>();
  private readonly cache = new Map<Quantity, StepStats[]>();
  private readonly last = new Map<string, LatestLoss>();
  private points = 0;
  /** True once a report carried a consensus error. */
  hasConsensus = false;

  get size(): number {
    return this.points;
  }

  /** Forgets everything and takes these points (oldest first). */
  reset(points: readonly MetricsPoint[]): void {
    this.steps.clear();
    this.cache.clear();
    this.last.clear();
    this.points = 0;
    this.hasConsensus = false;
    for (const point of points) this.add(point);
  }

  /** Adds (or replaces) the point of `point.peer` at `point.step`; false when nothing changed. */
  add(point: MetricsPoint): boolean {
    const values: Values = {};
    // A loss reported as null was not a finite number: kept as NaN (shown, never averaged).
    if (point.trainLoss !== undefined) values.train = point.trainLoss ?? Number.NaN;
    if (point.valLoss !== undefined) values.val = point.valLoss ?? Number.NaN;
    const record = point as unknown as Record<string, unknown>;
    for (const field of CONSENSUS_FIELDS) {
      const v = record[field];
      if (finite(v)) {
        values.consensus = v;
        this.hasConsensus = true;
        break;
      }
    }
    if (values.train === undefined && values.val === undefined && values.consensus === undefined)
      return false;
    let peers = this.steps.get(point.step);
    if (!peers) {
      peers = new Map();
      this.steps.set(point.step, peers);
    }
    const before = peers.get(point.peer);
    if (
      before &&
      Object.is(before.train, values.train) &&
      Object.is(before.val, values.val) &&
      before.consensus === values.consensus
    )
      return false;
    if (!before) this.points++;
    peers.set(point.peer, values);
    const last = this.last.get(point.peer) ?? {};
    if (values.val !== undefined && (last.val === undefined || point.step >= last.val.step))
      last.val = { step: point.step, value: values.val };
    if (values.train !== undefined && (last.train === undefined || point.step >= last.train.step))
      last.train = { step: point.step, value: values.train };
    this.last.set(point.peer, last);
    this.cache.clear();
    return true;
  }

  /** The peer's latest validation and training losses (the latest report often has no validation loss). */
  latest(peer: string): LatestLoss {
    return this.last.get(peer) ?? {};
  }

  /** The statistics across nodes of one quantity, at every step where at least one node reported it. */
  stats(quantity: Quantity): StepStats[] {
    const cached = this.cache.get(quantity);
    if (cached) return cached;
    const out: StepStats[] = [];
    for (const step of [...this.steps.keys()].sort((a, b) => a - b)) {
      const values: number[] = [];
      for (const v of this.steps.get(step)!.values()) {
        const x = v[quantity];
        if (x !== undefined && Number.isFinite(x)) values.push(x);
      }
      if (values.length > 0) out.push(summarize(step, values));
    }
    this.cache.set(quantity, out);
    return out;
  }
}

export function summarize(step: number, values: readonly number[]): StepStats {
  const n = values.length;
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  let sq = 0;
  for (const v of values) sq += (v - mean) ** 2;
  return { step, n, mean, min, max, std: Math.sqrt(sq / n) };
}

function finite(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
