import { describe, expect, it } from 'vitest';
import { describeStatus, statusOf } from '../../../client/src/web/overview/peer-status';
import type { MemberState } from '../../../client/src/web/overview/types';

const member = (status: unknown) => ({ peer: 'p1', status }) as unknown as MemberState;

describe('overview peer status', () => {
  it('reads a member’s status defensively', () => {
    expect(statusOf(member(undefined))).toBeUndefined();
    expect(statusOf(member(null))).toBeUndefined();
    expect(statusOf(member({ step: 3, phase: 'flying', phaseMs: 1 }))).toBeUndefined();
    expect(statusOf(member({ step: 3, phase: 'gradient', phaseMs: 12 }))).toEqual({
      step: 3,
      phase: 'gradient',
      phaseMs: 12,
    });
  });

  it('brings the time in the phase up to the snapshot', () => {
    const m = { peer: 'p1', status: { step: 3, phase: 'gossip', phaseMs: 1000 }, statusAgeMs: 500 };
    expect(statusOf(m as unknown as MemberState)?.phaseMs).toBe(1500);
  });

  it('puts the phase in words, with the neighbour a gossip round waits for', () => {
    const names = (peer: string) => (peer === 'ab12' ? 'laptop' : peer);
    expect(
      describeStatus({ step: 4, phase: 'gossip', phaseMs: 4100, waitingFor: 'ab12' }, names),
    ).toMatchObject({
      text: 'gossip · waiting for laptop 4.1 s',
      phase: 'gossip',
      waiting: true,
    });
    expect(describeStatus({ step: 4, phase: 'gradient', phaseMs: 30 }).text).toBe('gradient');
    expect(describeStatus({ step: 4, phase: 'barrier', phaseMs: 2500 })).toMatchObject({
      text: 'barrier 2.5 s',
      waiting: true,
    });
    expect(describeStatus(undefined)).toMatchObject({ text: '—', phase: '', waiting: false });
  });
});
