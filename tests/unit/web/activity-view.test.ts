import type { PeerActivity } from '@demuon/shared/peer';
import { describe, expect, it } from 'vitest';
import { activityAt, controlsFor } from '../../../client/src/web/join/activity-view';

describe('join page activity', () => {
  it('counts a wait for a neighbour up from the reported time', () => {
    const waiting: PeerActivity = { kind: 'waiting-for-neighbour', peer: 'ab12', step: 40, sinceMs: 3200 };
    expect(activityAt(waiting, 1500)).toEqual({ ...waiting, sinceMs: 4700 });
    expect(activityAt(waiting, -10)).toEqual(waiting);
  });

  it('leaves every other activity as reported', () => {
    const training: PeerActivity = { kind: 'training', step: 7 };
    expect(activityAt(training, 5000)).toBe(training);
  });

  it('fits the buttons to the activity', () => {
    expect(controlsFor('training', true)).toEqual({
      pauseLabel: 'Pause',
      pauseEnabled: true,
      leaveEnabled: true,
    });
    expect(controlsFor('paused', true)).toEqual({
      pauseLabel: 'Resume',
      pauseEnabled: true,
      leaveEnabled: true,
    });
    expect(controlsFor('rejoining', true).pauseEnabled).toBe(true);
    for (const kind of ['done', 'left'] as const)
      expect(controlsFor(kind, true)).toMatchObject({ pauseEnabled: false, leaveEnabled: false });
    expect(controlsFor('starting', false)).toMatchObject({ pauseEnabled: false, leaveEnabled: false });
  });
});
