/**
 * What this peer is doing, on the join page: the worker's latest PeerActivity in words in `#state`
 * (data-kind set to its kind, which the page's style sheet colours), and the Pause/Resume and Leave
 * buttons that fit it. While the peer waits for a neighbour the seconds count up on the page, so a
 * stalled round is visible as one without a message from the worker every tick.
 */
import { describeActivity, type PeerActivity } from '@demuon/shared/peer';

/** The activity `elapsedMs` after it was reported: only a wait for a neighbour changes with time. */
export function activityAt(activity: PeerActivity, elapsedMs: number): PeerActivity {
  if (activity.kind !== 'waiting-for-neighbour') return activity;
  return { ...activity, sinceMs: activity.sinceMs + Math.max(0, elapsedMs) };
}

export type Controls = {
  /** What the pause button says: Resume once paused. */
  pauseLabel: 'Pause' | 'Resume';
  pauseEnabled: boolean;
  leaveEnabled: boolean;
};

/**
 * The buttons for an activity. Nothing can be paused before the peer has joined; a peer that is done or
 * has left has nothing to pause or leave; a rejoining peer can still be paused (it stays out).
 */
export function controlsFor(kind: PeerActivity['kind'], joined: boolean): Controls {
  const over = kind === 'done' || kind === 'left';
  return {
    pauseLabel: kind === 'paused' ? 'Resume' : 'Pause',
    pauseEnabled: joined && !over,
    leaveEnabled: joined && !over,
  };
}

/** How often the seconds of a wait for a neighbour are redrawn (they show tenths). */
const TICK_MS = 100;

export class ActivityView {
  private activity: PeerActivity = { kind: 'starting' };
  private reportedAt = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly element: HTMLElement,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get kind(): PeerActivity['kind'] {
    return this.activity.kind;
  }

  /** Replaces the activity shown (the worker reports each change). */
  show(activity: PeerActivity): void {
    this.activity = activity;
    this.reportedAt = this.now();
    this.element.dataset.kind = activity.kind;
    clearInterval(this.timer);
    this.timer =
      activity.kind === 'waiting-for-neighbour' ? setInterval(() => this.draw(), TICK_MS) : undefined;
    this.draw();
  }

  private draw(): void {
    const words = describeActivity(activityAt(this.activity, this.now() - this.reportedAt));
    if (this.element.textContent !== words) this.element.textContent = words;
  }
}
