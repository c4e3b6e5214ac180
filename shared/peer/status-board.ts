/**
 * What one peer says about itself: its status for the neighbours' round deadlines (step, phase, since
 * when, its typical step time; sent with every heartbeat) and its activity for the person watching.
 */
import type { PeerPhase, PeerStatus } from '../protocol';
import type { PeerActivity } from './activity';

/** A status as last set: `phaseMs` is counted from `since` (ms since 1970) when it is sent. */
export type TimedStatus = Omit<PeerStatus, 'phaseMs'> & { readonly since: number };

/** Step times kept for the typical (median) step time. */
const STEP_WINDOW = 9;

export class StatusBoard {
  private readonly stepTimes: number[] = [];
  status: TimedStatus | undefined;
  activity: PeerActivity = { kind: 'starting' };

  constructor(
    private readonly publishStatus: (status: TimedStatus) => void,
    private readonly publishActivity: (activity: PeerActivity) => void,
  ) {}

  /** The median of the recent step times, once there is one. */
  typicalStepMs(): number | undefined {
    if (this.stepTimes.length === 0) return undefined;
    const sorted = [...this.stepTimes].sort((a, b) => a - b);
    return sorted[sorted.length >> 1];
  }

  stepTook(ms: number): void {
    this.stepTimes.push(ms);
    if (this.stepTimes.length > STEP_WINDOW) this.stepTimes.shift();
  }

  phase(phase: PeerPhase, step: number, waitingFor?: string): void {
    const stepMs = this.typicalStepMs();
    this.status = {
      step,
      phase,
      since: Date.now(),
      ...(stepMs !== undefined ? { stepMs } : {}),
      ...(waitingFor !== undefined ? { waitingFor } : {}),
    };
    this.publishStatus(this.status);
  }

  show(activity: PeerActivity): void {
    this.activity = activity;
    this.publishActivity(activity);
  }

  /** Shows 'training' unless it already does (a step after a wait, an epoch change, a bootstrap). */
  training(step: number): void {
    if (this.activity.kind !== 'training') this.show({ kind: 'training', step });
  }
}
