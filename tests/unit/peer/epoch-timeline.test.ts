import { EpochTimeline, neighbourhoodAt, neighboursOf, PROPOSAL_LOOKAHEAD } from '@demuon/shared/peer';
import type { Epoch, EpochProposal } from '@demuon/shared/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** A ring epoch of `members` seen from `self`. */
function ringEpoch(number: number, activationStep: number, members: string[], self: string): Epoch {
  const index = members.indexOf(self);
  const n = members.length;
  const others = n === 1 ? [] : [...new Set([members[(index + n - 1) % n], members[(index + 1) % n]])];
  const weight = 1 / 3;
  return {
    epoch: number,
    activationStep,
    members,
    index,
    selfWeight: 1 - weight * others.length,
    inNeighbours: others.map((peer) => ({ peer, weight })),
    outNeighbours: others,
  };
}

const proposal = (e: Epoch): EpochProposal => {
  const { activationStep: _, ...rest } = e;
  return rest;
};

describe('EpochTimeline', () => {
  it('puts each step under the latest epoch activated at or before it', () => {
    const t = new EpochTimeline();
    t.commit(ringEpoch(1, 0, ['a', 'b'], 'a'));
    t.commit(ringEpoch(3, 10, ['a', 'b', 'c', 'd'], 'a'));
    t.commit(ringEpoch(2, 5, ['a', 'b', 'c'], 'a'));
    expect(t.at(0)?.epoch).toBe(1);
    expect(t.at(4)?.epoch).toBe(1);
    expect(t.at(5)?.epoch).toBe(2);
    expect(t.at(9)?.epoch).toBe(2);
    expect(t.at(100)?.epoch).toBe(3);
    expect(t.latest?.epoch).toBe(3);
    expect(t.firstWith(3)?.epoch).toBe(2);
  });

  it('takes a repeated epoch once (the server repeats it when a peer resumes)', () => {
    const t = new EpochTimeline();
    expect(t.commit(ringEpoch(1, 0, ['a', 'b'], 'a'))).toBe(true);
    expect(t.commit(ringEpoch(1, 0, ['a', 'b'], 'a'))).toBe(false);
  });

  it('a training peer answers a proposal with a barrier a few steps ahead and holds there until the commit', () => {
    const t = new EpochTimeline();
    t.commit(ringEpoch(1, 0, ['a', 'b'], 'a'));
    const next = ringEpoch(2, 0, ['a', 'b', 'c'], 'a');
    const barrier = t.propose(proposal(next), 7, true);
    expect(barrier).toBe(7 + PROPOSAL_LOOKAHEAD);
    expect(t.mayStart(barrier - 1)).toBe(true);
    expect(t.mayStart(barrier)).toBe(false);
    expect(t.peersNeeded(7)).toEqual(new Set(['b', 'c']));
    t.commit({ ...next, activationStep: barrier });
    expect(t.mayStart(barrier)).toBe(true);
    expect(t.pending).toBeUndefined();
    expect(t.at(barrier)?.epoch).toBe(2);
  });

  it('a peer that has not started holds before its first step', () => {
    const t = new EpochTimeline();
    expect(t.propose(proposal(ringEpoch(1, 0, ['a'], 'a')), 0, false)).toBe(0);
    expect(t.mayStart(0)).toBe(false);
    t.dropProposal();
    expect(t.mayStart(0)).toBe(true);
  });

  it('a later proposal replaces an earlier one, an older one changes nothing', () => {
    const t = new EpochTimeline();
    t.propose(proposal(ringEpoch(5, 0, ['a', 'b'], 'a')), 3, true);
    expect(t.propose(proposal(ringEpoch(6, 0, ['a', 'c'], 'a')), 4, true)).toBe(4 + PROPOSAL_LOOKAHEAD);
    expect(t.propose(proposal(ringEpoch(4, 0, ['a', 'd'], 'a')), 9, true)).toBe(4 + PROPOSAL_LOOKAHEAD);
    expect(t.pending?.epoch).toBe(6);
  });

  it('for any answers, committing at the largest barrier never asks a member to go back', () => {
    // Members at any steps answer; the server commits at the largest barrier: every member is still
    // before it, so all switch at the same step.
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1000), fc.boolean()), { minLength: 1, maxLength: 16 }),
        (peers) => {
          const timelines = peers.map(() => new EpochTimeline());
          const e = ringEpoch(1, 0, ['a'], 'a');
          const barriers = peers.map(([next, started], i) =>
            timelines[i].propose(proposal(e), next, started),
          );
          const activation = Math.max(...barriers);
          for (const [i, [next]] of peers.entries()) {
            // A member never started a step at or after its barrier before the commit.
            expect(barriers[i]).toBeGreaterThanOrEqual(next);
            expect(timelines[i].mayStart(barriers[i])).toBe(false);
            timelines[i].commit({ ...e, activationStep: activation });
            expect(timelines[i].mayStart(barriers[i])).toBe(true);
            expect(barriers[i]).toBeLessThanOrEqual(activation);
          }
        },
      ),
    );
  });

  it('reads a time-varying schedule by step', () => {
    const a = ringEpoch(1, 0, ['a', 'b', 'c'], 'a');
    const epoch: Epoch = {
      ...a,
      period: 2,
      schedule: [
        { selfWeight: 0.5, inNeighbours: [{ peer: 'b', weight: 0.5 }], outNeighbours: ['b'] },
        { selfWeight: 0.5, inNeighbours: [{ peer: 'c', weight: 0.5 }], outNeighbours: ['c'] },
      ],
    };
    expect(neighboursOf(epoch).sort()).toEqual(['b', 'c']);
    const handles: Record<string, number> = { b: 1, c: 2 };
    expect(neighbourhoodAt(epoch, 3, (p) => handles[p]).inNeighbours).toEqual([{ from: 2, weight: 0.5 }]);
    expect(neighbourhoodAt(epoch, 4, (p) => handles[p]).outNeighbours).toEqual([1]);
  });
});
