/**
 * What members tell the server about each other, on a real signaling server with socket.io clients on
 * loopback: `neighbour-missed` reports (removal by a majority of neighbours, by silence, the later joiner
 * of two that reported each other; refusals and stale reports), `neighbour-status` answers, and the
 * status a heartbeat carries as dashboards see it.
 */
import { AckSchema, EVENTS, NeighbourStatusReplySchema, type PeerStatus } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import type { TestClient } from '../../signaling-server/testing/test-client';
import { memberIds, run, runState, signalingMembers, until } from '../helpers/signaling-members';

const { start, join, members } = signalingMembers('signaling-reports-');

/** Long enough that nobody is silent unless a test makes it so (beats every 1 s, suspicion 3 s). */
const QUIET = { heartbeatTimeoutMs: 60_000 };
/** Beats every 1 s, suspicion bound 3 s, eviction after 4 s: a second between the two. */
const TIMED = { heartbeatTimeoutMs: 4000 };
const SUSPICION_MS = 3000;
/** Beats every 500 ms, suspicion bound 1.5 s, eviction after 2 s, swept every 500 ms. */
const QUICK = { heartbeatTimeoutMs: 2000 };
const QUICK_SUSPICION_MS = 1500;

function missed(reporter: TestClient, peer: TestClient, epoch: number, reason = 'closed', step = 7) {
  return reporter.request(EVENTS.neighbourMissed, { peer: peer.peerId, epoch, step, reason });
}

function lastSeenMs(server: Parameters<typeof runState>[0], peer: TestClient): number {
  const member = runState(server).members.find((m) => m.peer === peer.peerId)!;
  return Date.now() - member.lastSeenAt;
}

describe('neighbour-missed', () => {
  it('removes a member once a strict majority of its neighbours reported it', async () => {
    const server = await start(QUIET);
    const { peers, epochs } = await members(server, 3);
    const [a, b, c] = peers;
    const { epoch } = epochs[0];
    expect(await missed(a, c, epoch, 'closed')).toEqual({ ok: true });
    // One of c's two neighbours is no majority.
    expect(memberIds(server)).toEqual(peers.map((p) => p.peerId));
    expect(runState(server).failedLinks).toEqual([{ from: a.peerId, to: c.peerId, reason: 'closed' }]);

    expect(await missed(b, c, epoch, 'no-connection')).toEqual({ ok: true });
    expect(memberIds(server)).toEqual([a.peerId, b.peerId]);
    expect(await c.evicted()).toMatch(
      new RegExp(
        `peer ${c.peerId} was reported missing by ${a.peerId} \\(closed\\), ${b.peerId} \\(no-connection\\); ` +
          '2 of its 2 neighbours reported it',
      ),
    );
    const next = await a.epoch(epoch + 1);
    expect(next.members).toEqual([a.peerId, b.peerId]);
    expect(runState(server).failedLinks).toEqual([]);
    const after = AckSchema.parse(await c.request(EVENTS.heartbeat, {}));
    expect(after).toMatchObject({ ok: false, error: { code: 'not-joined' } });
  });

  it('removes a reported member the periodic sweep finds silent past the suspicion bound', async () => {
    const server = await start(QUICK);
    const { peers, epochs } = await members(server, 3);
    const [a, b, c] = peers;
    const stops = [a.heartbeats(250), b.heartbeats(250)];
    try {
      expect(await missed(a, c, epochs[0].epoch, 'stuck')).toEqual({ ok: true });
      expect(memberIds(server)).toContain(c.peerId);
      // c sends nothing from now on: the sweep removes it with its reporter named, before the heartbeat timeout.
      const reason = await c.evicted(QUICK.heartbeatTimeoutMs + 2000);
      expect(reason).toMatch(
        new RegExp(
          `peer ${c.peerId} was reported missing by ${a.peerId} \\(stuck\\); nothing heard from it for \\d+ ms, ` +
            `over its ${QUICK_SUSPICION_MS} ms suspicion bound`,
        ),
      );
      expect((await a.epoch(epochs[0].epoch + 1)).members).toEqual([a.peerId, b.peerId]);
    } finally {
      for (const stop of stops) stop();
    }
  });

  it('removes a member reported after it went silent at once, with the report', async () => {
    const server = await start(TIMED);
    const { peers, epochs } = await members(server, 3);
    const [a, b, c] = peers;
    const stops = [a.heartbeats(500), b.heartbeats(500)];
    try {
      await until('c silent past the suspicion bound', () => lastSeenMs(server, c) > SUSPICION_MS, 6000);
      expect(memberIds(server)).toContain(c.peerId); // unreported: only the heartbeat timeout would remove it
      expect(await missed(a, c, epochs[0].epoch, 'silent')).toEqual({ ok: true });
      // Removed while the report was handled, not at a later sweep.
      expect(memberIds(server)).toEqual([a.peerId, b.peerId]);
      expect(await c.evicted()).toMatch(/reported missing by .* \(silent\); nothing heard from it/);
    } finally {
      for (const stop of stops) stop();
    }
  });

  it('removes only the later joiner of two members that reported each other and both qualify', async () => {
    const server = await start(QUIET);
    const { peers, epochs } = await members(server, 3);
    const [a, b, c] = peers;
    const { epoch } = epochs[0];
    expect(await missed(a, b, epoch, 'no-connection')).toEqual({ ok: true });
    expect(await missed(b, a, epoch, 'no-connection')).toEqual({ ok: true });
    expect(memberIds(server)).toEqual(peers.map((p) => p.peerId));

    // A sweep long after the last word from either: both are silent past the bound, both qualify.
    run(server).sweepReports(Date.now() + 10 * SUSPICION_MS);
    expect(await b.evicted()).toMatch(new RegExp(`peer ${b.peerId} was reported missing by ${a.peerId}`));
    expect(memberIds(server)).toEqual([a.peerId, c.peerId]);
    expect((await a.epoch(epoch + 1)).members).toEqual([a.peerId, c.peerId]);
    // b's report of a no longer counts: a stays through later sweeps.
    run(server).sweepReports(Date.now() + 10 * SUSPICION_MS);
    expect(memberIds(server)).toEqual([a.peerId, c.peerId]);
    expect(a.drain(EVENTS.evicted)).toEqual([]);
  });

  it('refuses a report about a peer that is not a neighbour in that epoch, and changes nothing', async () => {
    const server = await start(QUIET);
    const { peers, epochs } = await members(server, 4);
    const [a, , c] = peers;
    const { epoch } = epochs[0];
    for (const peer of [c.peerId, a.peerId, 'nobody']) {
      const ack = AckSchema.parse(
        await a.request(EVENTS.neighbourMissed, { peer, epoch, step: 1, reason: 'closed' }),
      );
      expect(ack).toMatchObject({ ok: false, error: { code: 'not-neighbour' } });
      expect(await a.error()).toMatchObject({ code: 'not-neighbour', event: EVENTS.neighbourMissed });
    }
    expect(runState(server).failedLinks).toEqual([]);
    expect(memberIds(server)).toEqual(peers.map((p) => p.peerId));
  });

  it('ignores a report about an epoch other than the current one', async () => {
    const server = await start(QUIET);
    const { peers, epochs } = await members(server, 2);
    const [a, b] = peers;
    const { epoch } = epochs[0];
    // In a pair one report is a majority: had these counted, b would be gone.
    expect(await missed(a, b, epoch - 1)).toEqual({ ok: true });
    expect(await missed(a, b, epoch + 5)).toEqual({ ok: true });
    expect(memberIds(server)).toEqual([a.peerId, b.peerId]);
    expect(runState(server).failedLinks).toEqual([]);

    expect(await missed(a, b, epoch)).toEqual({ ok: true });
    expect(memberIds(server)).toEqual([a.peerId]);
    expect(await b.evicted()).toMatch(/1 of its 1 neighbours reported it/);
  });
});

describe('neighbour-status', () => {
  it('answers for neighbours of the current and the pending epoch only: alive, last seen, status', async () => {
    const server = await start(TIMED);
    const { peers } = await members(server, 4);
    const [a, b, c, d] = peers;
    const status: PeerStatus = { step: 12, phase: 'gossip', phaseMs: 3100, waitingFor: c.peerId };
    const stops = [a.heartbeats(500), b.heartbeats(500, { status }), c.heartbeats(500)];
    try {
      await until('b sent its status', () => runState(server).members[1].status !== null);
      const ofB = NeighbourStatusReplySchema.parse(
        await a.request(EVENTS.neighbourStatus, { peer: b.peerId }),
      );
      expect(ofB).toMatchObject({ ok: true, alive: true, status });
      expect(ofB.lastSeenMs).toBeLessThan(SUSPICION_MS);

      // a and c are opposite on the ring of 4.
      const refused = AckSchema.parse(await a.request(EVENTS.neighbourStatus, { peer: c.peerId }));
      expect(refused).toMatchObject({ ok: false, error: { code: 'not-neighbour' } });
      expect(await a.error()).toMatchObject({ code: 'not-neighbour', event: EVENTS.neighbourStatus });

      // d sends nothing: once past the suspicion bound it is no longer alive (it has no status either).
      await until('d silent past the suspicion bound', () => lastSeenMs(server, d) > SUSPICION_MS, 6000);
      const ofD = NeighbourStatusReplySchema.parse(
        await a.request(EVENTS.neighbourStatus, { peer: d.peerId }),
      );
      expect(ofD).toMatchObject({ ok: true, alive: false });
      expect(ofD.lastSeenMs).toBeGreaterThan(SUSPICION_MS);
      expect(ofD.status).toBeUndefined();

      // e joins and does not answer: a neighbour of a in the pending ring a-b-c-d-e only.
      const e = await join(server, { barrier: false });
      await e.proposed(0);
      const ofE = NeighbourStatusReplySchema.parse(
        await a.request(EVENTS.neighbourStatus, { peer: e.peerId }),
      );
      expect(ofE).toMatchObject({ ok: true, alive: true });
      const fromC = AckSchema.parse(await c.request(EVENTS.neighbourStatus, { peer: e.peerId }));
      expect(fromC).toMatchObject({ ok: false, error: { code: 'not-neighbour' } });
    } finally {
      for (const stop of stops) stop();
    }
  });
});

describe('heartbeat status', () => {
  it('shows the latest status in run-state, keeps it over beats without one, and refuses a malformed one', async () => {
    const server = await start(QUIET);
    const { peers } = await members(server, 1);
    const [a] = peers;
    expect(runState(server).members[0]).toMatchObject({ status: null, statusAgeMs: null });
    const status: PeerStatus = { step: 40, phase: 'barrier', phaseMs: 250, stepMs: 180 };
    expect(await a.request(EVENTS.heartbeat, { status })).toEqual({ ok: true });
    const shown = runState(server).members[0];
    expect(shown.status).toEqual(status);
    expect(shown.statusAgeMs).toBeGreaterThanOrEqual(0);

    expect(await a.request(EVENTS.heartbeat, {})).toEqual({ ok: true });
    expect(runState(server).members[0].status).toEqual(status);

    const body = await (await fetch(`${server.url}/api/runs/r`)).json();
    expect(body.state.members[0].status).toEqual(status);

    const bad = AckSchema.parse(
      await a.request(EVENTS.heartbeat, { status: { step: 41, phase: 'napping', phaseMs: 0 } }),
    );
    expect(bad).toMatchObject({ ok: false, error: { code: 'bad-event', message: /status\.phase/ } });
    expect(runState(server).members[0].status).toEqual(status);
  });
});
