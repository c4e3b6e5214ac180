/**
 * The server's Membership under random sequences of joins, departures, answers (current and stale),
 * neighbour reports and time passing (fake timers: proposal timeouts fire as the clock moves). After every
 * step the membership must be consistent with what its members were told: one pending proposal over
 * exactly the present members or a committed epoch over them, commits in increasing order at activation
 * steps that respect every answer's barrier and never go back (until the run empties and starts afresh), each member holding the payload of the
 * epoch in force, the persisted snapshot equal to it, and evicted peers gone and told once.
 */
import type { Epoch, EpochProposal, MissReason } from '@demuon/shared/protocol';
import fc from 'fast-check';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import type { Member } from '../../signaling-server/src/member';
import { Membership } from '../../signaling-server/src/membership';
import type { MembershipSnapshot } from '../../signaling-server/src/membership-store';

const PROPOSAL_TIMEOUT_MS = 1000;
const SUSPICION_MS = 3000;
const OPTIONS = {
  spec: { kind: 'ring' },
  seed: 0,
  lastEpoch: 0,
  graceMs: 500,
  proposalTimeoutMs: PROPOSAL_TIMEOUT_MS,
  suspicionMs: SUSPICION_MS,
} as const;

type Op =
  | { kind: 'join' }
  | { kind: 'leave'; who: number }
  | { kind: 'answer'; who: number; stale: boolean; barrier: number }
  | { kind: 'report'; who: number; about: number; current: boolean; reason: MissReason }
  | { kind: 'wait'; ms: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant<Op>({ kind: 'join' }), weight: 3 },
  fc.record({ kind: fc.constant('leave' as const), who: fc.nat(9) }),
  {
    arbitrary: fc.record({
      kind: fc.constant('answer' as const),
      who: fc.nat(9),
      stale: fc.boolean(),
      barrier: fc.nat(50),
    }),
    weight: 5,
  },
  fc.record({
    kind: fc.constant('report' as const),
    who: fc.nat(9),
    about: fc.nat(9),
    current: fc.boolean(),
    reason: fc.constantFrom<MissReason>('silent', 'stuck', 'no-connection', 'closed'),
  }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(10, 400, 1200, 3500) }),
);

/** What each peer was told, through its channel. */
type Peer = { member: Member; proposals: EpochProposal[]; epochs: Epoch[]; evictions: string[] };

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

it('stays consistent with what its members were told under random joins, leaves, answers, reports and time', () => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
      let persisted: MembershipSnapshot | undefined;
      const membership = new Membership({
        ...OPTIONS,
        persist: (snapshot) => {
          persisted = structuredClone(snapshot);
        },
      });
      const peers: Peer[] = [];
      /** Per proposal number, the barriers its members answered with. */
      const barriers = new Map<number, number[]>();
      /** Committed epochs in order; null where the run was empty (a new run of joiners starts afresh). */
      const commits: (Epoch | null)[] = [];
      const present = () => peers.filter((p) => membership.get(p.member.id) === p.member);
      const pick = (i: number) => {
        const live = present();
        return live.length === 0 ? undefined : live[i % live.length];
      };

      for (const step of ops) {
        const now = Date.now();
        if (step.kind === 'join') {
          const peer = { proposals: [], epochs: [], evictions: [] } as unknown as Peer;
          peer.member = membership.add(
            { platform: 'node', backend: 'cpu' },
            {
              propose: (p) => peer.proposals.push(p),
              epoch: (e) => {
                peer.epochs.push(e);
                if (!commits.some((c) => c?.epoch === e.epoch)) commits.push(e);
              },
              signal() {},
              evicted: (reason) => peer.evictions.push(reason),
              collect() {},
            },
            now,
          );
          peers.push(peer);
        } else if (step.kind === 'leave') {
          const peer = pick(step.who);
          if (peer) expect(membership.remove(peer.member.id, now)).toBe(true);
        } else if (step.kind === 'answer') {
          const peer = pick(step.who);
          const proposal = membership.proposal;
          if (!peer) continue;
          if (step.stale || !proposal || !proposal.members.includes(peer.member.id)) {
            const wrong = (proposal?.epoch ?? membership.epochNumber) + 1 + step.barrier;
            expect(membership.ready(peer.member, wrong, step.barrier, now)).toBe(false);
          } else {
            const list = barriers.get(proposal.epoch) ?? [];
            list.push(step.barrier);
            barriers.set(proposal.epoch, list);
            expect(membership.ready(peer.member, proposal.epoch, step.barrier, now)).toBe(true);
          }
        } else if (step.kind === 'report') {
          const reporter = pick(step.who);
          const about = pick(step.about);
          const current = membership.epoch;
          if (!reporter || !about || !current) continue;
          const epoch = step.current ? current.number : current.number - 1;
          const linked = current.linked(reporter.member.id, about.member.id);
          const outcome = membership.reportMissed(
            reporter.member,
            { peer: about.member.id, epoch, step: 1, reason: step.reason },
            now,
          );
          expect(outcome).toBe(!step.current ? 'other-epoch' : linked ? 'recorded' : 'not-neighbour');
        } else {
          vi.advanceTimersByTime(step.ms);
          membership.sweepReports(Date.now());
        }
        if (membership.size === 0 && commits.at(-1) !== null) commits.push(null);
        checkConsistent(membership, peers, commits, barriers, persisted);
      }
      membership.dispose();
    }),
    { numRuns: 1000 },
  );
});

function checkConsistent(
  membership: Membership,
  peers: Peer[],
  commits: (Epoch | null)[],
  barriers: Map<number, number[]>,
  persisted: MembershipSnapshot | undefined,
): void {
  const ids = membership.list().map((m) => m.id);
  expect(new Set(ids).size).toBe(ids.length);
  const pending = membership.proposal;
  const current = membership.epoch;
  if (pending) {
    // A proposal is over the members in join order; those who joined since it was made wait for its
    // commit, at the end of the order.
    expect(ids.slice(0, pending.members.length)).toEqual(pending.members);
    expect(pending.epoch).toBe(membership.epochNumber);
    for (const id of pending.waitingFor) expect(ids).toContain(id);
  } else if (ids.length > 0) {
    expect(current?.members).toEqual(ids);
  } else {
    expect(current).toBeNull();
  }

  // Commits come in increasing order, never activate earlier than the one before, and respect every barrier.
  const committed = commits.filter((c): c is Epoch => c !== null);
  for (let i = 1; i < committed.length; i++)
    expect(committed[i].epoch).toBeGreaterThan(committed[i - 1].epoch);
  for (let i = 1; i < commits.length; i++) {
    const [before, after] = [commits[i - 1], commits[i]];
    if (before && after) expect(after.activationStep).toBeGreaterThanOrEqual(before.activationStep);
  }
  for (const commit of committed) {
    for (const barrier of barriers.get(commit.epoch) ?? [])
      expect(commit.activationStep).toBeGreaterThanOrEqual(barrier);
  }

  // Each present member holds the payload of the epoch in force, if that epoch names it.
  for (const peer of peers) {
    const id = peer.member.id;
    const isMember = membership.get(id) === peer.member;
    if (isMember && current?.members.includes(id))
      expect(peer.epochs.at(-1)).toEqual(membership.payloadOf(id));
    if (isMember) expect(peer.evictions).toEqual([]);
    else expect(peer.evictions.length).toBeLessThanOrEqual(1);
    // Whatever it was told last was proposed (and, once committed, the same payload plus an activation step).
    for (const epoch of peer.epochs) {
      const proposal = peer.proposals.find((p) => p.epoch === epoch.epoch);
      expect(proposal).toBeDefined();
      const { activationStep: _, ...rest } = epoch;
      if (!epoch.period) expect(rest).toEqual(proposal);
    }
  }

  // What a restarted server would take back is what the members hold.
  if (current) {
    expect(persisted?.epoch).toBe(current.number);
    expect(persisted?.activationStep).toBe(current.activationStep);
    expect(persisted?.members.map((m) => m.id)).toEqual([...current.members]);
  }
}

/** Restores epoch 3, a ring of a, b and c as the membership file stores it, every member away. */
function restoreRing(membership: Membership, now: number): void {
  const stored = (id: string) => ({
    id,
    secret: `${id}-secret`,
    platform: 'node' as const,
    backend: 'cpu' as const,
    joinedAt: 0,
    step: 4,
  });
  membership.restore({ epoch: 3, activationStep: 2, members: ['a', 'b', 'c'].map(stored), joiners: [] }, now);
}

it('counts a member restored away as alive until its heartbeat clock, restarted then, passes the suspicion bound', () => {
  const membership = new Membership(OPTIONS);
  const restoredAt = Date.now();
  restoreRing(membership, restoredAt);
  const a = membership.get('a')!;
  expect(membership.get('b')?.away).toBe(true);
  // Its peer may well be gossiping on: nothing says it stopped until the bound passes without a beat.
  expect(membership.neighbourStatus(a, 'b', restoredAt + 100)).toMatchObject({
    alive: true,
    lastSeenMs: 100,
  });
  expect(membership.neighbourStatus(a, 'b', restoredAt + SUSPICION_MS + 1)).toMatchObject({ alive: false });
  membership.dispose();
});

it("stretches a member's suspicion bound to twice the longest it went unheard while alive, up to three bounds", () => {
  const membership = new Membership(OPTIONS);
  const evictions: string[] = [];
  const channel = (id: string) => ({
    propose() {},
    epoch() {},
    signal() {},
    collect() {},
    evicted: (reason: string) => evictions.push(`${id}: ${reason}`),
  });
  let now = Date.now();
  restoreRing(membership, now);
  const [a, b, c] = ['a', 'b', 'c'].map((id) => membership.get(id)!);
  for (const m of [a, b, c]) m.reconnect({ platform: 'node', backend: 'cpu' }, channel(m.id), now);
  // b beats 2 s apart (a busy page); a and c every second.
  for (let t = 1; t <= 6; t++) {
    now += 1000;
    for (const m of t % 2 === 0 ? [a, b, c] : [a, c]) m.heard(now);
  }
  expect(b.longestGapMs).toBe(2000);
  const lastBeat = now;
  expect(membership.neighbourStatus(a, 'b', lastBeat + SUSPICION_MS + 500)).toMatchObject({ alive: true });
  expect(membership.neighbourStatus(a, 'b', lastBeat + 4001)).toMatchObject({ alive: false });
  // c's beats came on time: its bound is the plain one.
  expect(membership.neighbourStatus(a, 'c', lastBeat + SUSPICION_MS + 1)).toMatchObject({ alive: false });

  // Reported, b stays while within its own bound, and goes once past it.
  expect(
    membership.reportMissed(a, { peer: 'b', epoch: 3, step: 5, reason: 'silent' }, lastBeat + 3500),
  ).toBe('recorded');
  expect(membership.get('b')).toBe(b);
  expect(membership.sweepReports(lastBeat + 4001)).toEqual([b]);
  expect(evictions).toEqual([
    expect.stringMatching(/^b: .*nothing heard from it for 4001 ms, over its 4000 ms/),
  ]);

  // However late its beats came, a member is taken for gone after three bounds of silence.
  c.heard(lastBeat + 60_000);
  c.heard(lastBeat + 61_000);
  expect(membership.neighbourStatus(a, 'c', lastBeat + 61_000 + 3 * SUSPICION_MS)).toMatchObject({
    alive: true,
  });
  expect(membership.neighbourStatus(a, 'c', lastBeat + 61_001 + 3 * SUSPICION_MS)).toMatchObject({
    alive: false,
  });
  membership.dispose();
});
