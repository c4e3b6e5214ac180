import { judge, type NeighbourMissed, RoundWatchdog } from '@demuon/shared/peer';
import type { NeighbourStatusReply, PeerStatus } from '@demuon/shared/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const status = (s: Partial<PeerStatus> = {}): PeerStatus => ({
  step: 5,
  phase: 'gradient',
  phaseMs: 100,
  ...s,
});
const reply = (s: Partial<NeighbourStatusReply> = {}): NeighbourStatusReply => ({
  ok: true,
  alive: true,
  lastSeenMs: 100,
  status: status(),
  ...s,
});

describe('judge', () => {
  it('gives up on a neighbour the server has not heard from', () => {
    expect(judge(reply({ alive: false }), undefined, 1000, 'me')).toBe('silent');
  });

  it('waits while the neighbour moves, or while it is in its phase for less than the bound', () => {
    expect(judge(reply(), undefined, 1000, 'me')).toBe('wait');
    expect(judge(reply({ status: status({ phaseMs: 5000 }) }), status({ step: 4 }), 1000, 'me')).toBe('wait');
    expect(judge(reply({ status: status({ phaseMs: 900 }) }), status(), 1000, 'me')).toBe('wait');
  });

  it('gives up on a neighbour stuck in one step and phase past the bound', () => {
    expect(judge(reply({ status: status({ phaseMs: 1500 }) }), status(), 1000, 'me')).toBe('stuck');
  });

  it('waits for a neighbour that itself waits for someone else, or for an epoch commit', () => {
    const waitingForOther = status({ phase: 'gossip', waitingFor: 'x', phaseMs: 60_000 });
    expect(judge(reply({ status: waitingForOther }), waitingForOther, 1000, 'me')).toBe('wait');
    const waitingForMe = status({ phase: 'gossip', waitingFor: 'me', phaseMs: 60_000 });
    expect(judge(reply({ status: waitingForMe }), waitingForMe, 1000, 'me')).toBe('stuck');
    const held = status({ phase: 'barrier', phaseMs: 60_000 });
    expect(judge(reply({ status: held }), held, 1000, 'me')).toBe('wait');
  });

  it('keeps waiting when the server cannot be asked (gossip does not need it)', () => {
    expect(judge(undefined, status(), 1000, 'me')).toBe('wait');
  });

  it('never gives up on a live neighbour whose status moved since the last look', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(1000), fc.nat(10 ** 7), fc.nat(10 ** 7), (s1, s2, phaseMs, bound) => {
        fc.pre(s1 !== s2);
        const now = status({ step: s2, phaseMs });
        expect(judge(reply({ status: now }), status({ step: s1 }), bound, 'me')).toBe('wait');
      }),
    );
  });
});

/** A watchdog on a manual clock: timers run when the test advances time. */
function manualWatchdog(answers: (peer: string) => NeighbourStatusReply | undefined, ownStepMs?: number) {
  let now = 0;
  let timers: { at: number; fn: () => void }[] = [];
  const reports: [string, number, string][] = [];
  const waits: number[] = [];
  const dog = new RoundWatchdog({
    self: 'me',
    status: async (peer) => answers(peer),
    report: (peer, step, reason) => reports.push([peer, step, reason]),
    ownStepMs: () => ownStepMs,
    now: () => now,
    after: (ms, fn) => {
      const timer = { at: now + ms, fn };
      timers.push(timer);
      return () => {
        timers = timers.filter((t) => t !== timer);
      };
    },
    startupMs: 30_000,
    waiting: (_peer, _step, sinceMs) => waits.push(sinceMs),
  });
  const advance = async (ms: number) => {
    const until = now + ms;
    for (;;) {
      const due = timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      timers = timers.filter((t) => t !== due);
      now = due.at;
      due.fn();
      await new Promise((resolve) => setImmediate(resolve));
    }
    now = until;
  };
  return { dog, reports, waits, advance };
}

describe('RoundWatchdog', () => {
  it('gives up on a silent neighbour at its first look, reports it once, and does not wait for it again', async () => {
    const { dog, reports, advance } = manualWatchdog(() => reply({ alive: false }));
    const missed: NeighbourMissed[] = [];
    dog.watch('b', 3, (m) => missed.push(m));
    await advance(999);
    expect(missed).toHaveLength(0);
    await advance(1);
    expect(missed.map((m) => [m.peer, m.step, m.reason])).toEqual([['b', 3, 'silent']]);
    expect(reports).toEqual([['b', 3, 'silent']]);
    // The next round gives up on it at once, with no second report.
    dog.watch('b', 4, (m) => missed.push(m));
    await advance(0);
    expect(missed.map((m) => m.step)).toEqual([3, 4]);
    expect(reports).toHaveLength(1);
    expect(dog.misses).toEqual({ silent: 1 });
  });

  it('waits as long as a slow neighbour keeps moving, and tells how long it has waited', async () => {
    let step = 0;
    const { dog, reports, waits, advance } = manualWatchdog(
      () => reply({ status: status({ step: step++ }) }),
      500,
    );
    const missed: NeighbourMissed[] = [];
    const done = dog.watch('b', 0, (m) => missed.push(m));
    // Its step time is unknown, so the bound comes from ours (500 ms) and the 10 s floor: three bounds.
    await advance(29_000);
    expect(missed).toHaveLength(0);
    expect(reports).toHaveLength(0);
    expect(waits.length).toBeGreaterThan(10);
    done();
    expect(dog.longestWait()).toBeUndefined();
  });

  it('does not take a neighbour at its word past the bounds: a fresh phase that never ends, an endless wait', async () => {
    const liars: Record<string, () => NeighbourStatusReply> = {
      // Claims to have just entered its phase, at every look.
      'fresh-phase': () => reply({ status: status({ phaseMs: 50 }) }),
      // Claims to wait for someone else, forever.
      'waits-for-other': () => reply({ status: status({ phase: 'gossip', waitingFor: 'other' }) }),
      // Beats without a status.
      'no-status': () => reply({ status: undefined }),
      // Claims a step time of a day.
      'slow-claim': () => reply({ status: status({ phaseMs: 50, stepMs: 86_400_000 }) }),
    };
    const { dog, advance } = manualWatchdog((peer) => liars[peer](), 500);
    const missedAt = new Map<string, number>();
    let t = 0;
    for (const peer of Object.keys(liars)) dog.watch(peer, 0, (m) => missedAt.set(m.peer, t));
    for (; t < 210_000; t += 1000) await advance(1000);
    // Seen in one phase by the waiting peer itself for over one bound (10 s)…
    expect(missedAt.get('fresh-phase')).toBeLessThanOrEqual(12_000);
    // …and whatever it says, given up after three (30 s)…
    expect(missedAt.get('waits-for-other')).toBeLessThanOrEqual(32_000);
    expect(missedAt.get('waits-for-other')).toBeGreaterThanOrEqual(29_000);
    // One that beats without a status (every peer of the run sends one) is given up on after one bound.
    expect(missedAt.get('no-status')).toBeLessThanOrEqual(12_000);
    // …and a claimed step time counts as 50 of ours at most: 8 × 25 s.
    expect(missedAt.get('slow-claim')).toBeLessThanOrEqual(202_000);
  });

  it('gives up on a neighbour stuck for longer than several of its step times (and the floor)', async () => {
    let phaseMs = 0;
    const { dog, reports, advance } = manualWatchdog(() => {
      phaseMs += 1000;
      return reply({ status: status({ phaseMs, stepMs: 400 }) });
    }, 400);
    const missed: NeighbourMissed[] = [];
    dog.watch('b', 0, (m) => missed.push(m));
    // 8 step times are 3.2 s: under the 10 s floor, so it is still waited for at 9 s…
    await advance(9_000);
    expect(missed).toHaveLength(0);
    // …and given up once its phase has lasted past the floor.
    await advance(3_000);
    expect(missed.map((m) => m.reason)).toEqual(['stuck']);
    expect(reports).toHaveLength(1);
  });

  it('waits for a neighbour again once something came from it, and after a new epoch', async () => {
    const { dog, advance } = manualWatchdog(() => reply({ alive: false }));
    dog.miss('b', 1, 'closed');
    expect(dog.isAbsent('b')).toBe(true);
    dog.heard('b');
    expect(dog.isAbsent('b')).toBe(false);
    dog.miss('b', 2, 'closed');
    dog.newEpoch();
    const missed: NeighbourMissed[] = [];
    dog.watch('b', 3, (m) => missed.push(m));
    await advance(0);
    expect(missed).toHaveLength(0);
    dog.close();
  });
});
