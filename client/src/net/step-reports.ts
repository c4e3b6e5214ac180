/**
 * What a training peer tells the server after each step: its progress every step, its metrics (losses,
 * traffic, timing, links) on eval steps, on the last step and at most once a second otherwise, and a state
 * that turned non-finite, whose NaN loss the dashboards show as such.
 */
import type { StepReport } from '@demuon/shared/peer';
import { type Epoch, EVENTS } from '@demuon/shared/protocol';
import type { LinkReport } from './link-report';
import type { SignalingSession } from './signaling-session';

/** Metrics go out at most this often, besides eval steps and the last step: live, yet light on the server. */
const METRICS_EVERY_MS = 1000;

export class StepReports {
  private lastMetricsAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly session: Pick<SignalingSession, 'report'>,
    private readonly links: LinkReport,
    private readonly totalSteps: number,
    private readonly now: () => number,
  ) {}

  /** Step `step` (0-based) of `epoch` is done. */
  async stepDone(
    step: number,
    epoch: Epoch,
    neighbours: readonly string[],
    report: StepReport,
  ): Promise<void> {
    this.session.report(EVENTS.progress, { step: step + 1 });
    const now = this.now();
    const last = step + 1 === this.totalSteps;
    if (report.valLoss === undefined && !last && now - this.lastMetricsAt < METRICS_EVERY_MS) return;
    this.lastMetricsAt = now;
    this.session.report(EVENTS.metrics, {
      step: step + 1,
      epoch: epoch.epoch,
      trainLoss: report.trainLoss,
      ...(report.valLoss !== undefined ? { valLoss: report.valLoss } : {}),
      ...(report.disagreement !== undefined ? { disagreement: report.disagreement } : {}),
      ...this.links.traffic(),
      timing: report.timing,
      links: await this.links.links(neighbours),
    });
  }

  /** The state turned non-finite in step `step`: its loss (NaN on the wire as null) is reported as it is. */
  stateLost(step: number, epoch: Epoch, report: StepReport): void {
    this.session.report(EVENTS.metrics, {
      step,
      epoch: epoch.epoch,
      trainLoss: report.trainLoss,
      ...this.links.traffic(),
      links: [],
    });
  }
}
