/**
 * The signaling server with real socket.io clients on loopback: joining, topology epochs, neighbour-only
 * relay, departures and heartbeat timeouts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckSchema, type Epoch, EVENTS, RelayedSignalSchema } from '@demuon/shared/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import type { Member, MemberChannel } from '../../signaling-server/src/member';
import { Membership } from '../../signaling-server/src/membership';
import { TestClient } from '../../signaling-server/testing/test-client';
import { CANDIDATE, MARKER, OFFER } from '../helpers/signals';

const demuon = { name: 'demuon', lr: { eta: 0.05 } };
const RUNS = [
  { id: 'ring', topology: 'ring', algorithm: demuon },
  { id: 'pair', topology: 'ring', algorithm: demuon, maxPeers: 2 },
  { id: 'one-peer', topology: 'one-peer-exp', algorithm: demuon },
  { id: 'torus', topology: 'torus:2x2', algorithm: demuon },
];

const GRACE_MS = 150;
let dataDir: string;
let server: SignalingServer;
let clients: TestClient[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'signaling-membership-'));
  // Neighbours of superseded epochs may signal for GRACE_MS (tests wait that out where it matters).
  server = await createSignalingServer({
    port: 0,
    dataDir,
    runs: RUNS,
    signalGraceMs: GRACE_MS,
    log: silentLogger,
  });
});

afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  // The next test starts from empty runs: wait until the server has seen every disconnect.
  const deadline = Date.now() + 5000;
  while (server.runs.list().some((run) => run.memberCount > 0)) {
    if (Date.now() > deadline) throw new Error('peers still members 5 s after disconnecting');
    await sleep(10);
  }
});

afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const token = (runId: string) => server.runs.get(runId)!.secretToken();

async function connect(): Promise<TestClient> {
  const client = await TestClient.connect(server.url);
  clients.push(client);
  return client;
}

/** n peers joined one after the other; each returned with the epoch that made it a member. */
async function joinPeers(runId: string, n: number): Promise<{ peer: TestClient; first: Epoch }[]> {
  const joined = [];
  for (let i = 0; i < n; i++) {
    const peer = await connect();
    await peer.join(runId, token(runId), { name: `peer ${i}` });
    joined.push({ peer, first: await peer.epoch(0) });
  }
  return joined;
}

/** Every peer's payload of the epoch that made the last of them a member. */
function latestEpochs(peers: { peer: TestClient; first: Epoch }[]): Promise<Epoch[]> {
  const last = peers[peers.length - 1];
  return Promise.all(peers.map((p) => (p === last ? p.first : p.peer.epoch(last.first.epoch))));
}

/** The mixing matrix assembled from every member's payload (row = receive). */
function matrixFrom(payloads: Epoch[]): number[][] {
  const members = payloads[0].members;
  const w = members.map(() => members.map(() => 0));
  for (const p of payloads) {
    w[p.index][p.index] = p.selfWeight;
    for (const { peer, weight } of p.inNeighbours) w[p.index][members.indexOf(peer)] = weight;
  }
  return w;
}

function expectConsistent(payloads: Epoch[], weight: number): void {
  const { epoch, members, activationStep } = payloads[0];
  for (const p of payloads) {
    expect(p.epoch).toBe(epoch);
    expect(p.members).toEqual(members);
    expect(p.activationStep).toBe(activationStep);
    expect(p.selfWeight).toBeCloseTo(weight, 12);
    for (const { weight: w } of p.inNeighbours) expect(w).toBeCloseTo(weight, 12);
    // i receives from j exactly when j sends to i.
    for (const { peer } of p.inNeighbours) {
      expect(payloads.find((q) => q.members[q.index] === peer)!.outNeighbours).toContain(members[p.index]);
    }
  }
  const w = matrixFrom(payloads);
  for (let i = 0; i < w.length; i++) {
    expect(w[i].reduce((a, b) => a + b)).toBeCloseTo(1, 12);
    expect(w.reduce((sum, row) => sum + row[i], 0)).toBeCloseTo(1, 12);
  }
}

describe('join', () => {
  it('acknowledges a join with the right token and refuses wrong or missing tokens and unknown runs', async () => {
    const peer = await connect();
    const base = { runId: 'ring', platform: 'node', backend: 'cpu' };
    const refusals = [
      [{ ...base, token: 'wrong-token' }, 'bad-token'],
      [base, 'bad-token'],
      [{ ...base, token: '' }, 'bad-token'],
      [{ ...base, runId: 'no-such-run', token: token('ring') }, 'unknown-run'],
    ] as const;
    for (const [payload, code] of refusals) {
      const ack = AckSchema.parse(await peer.request(EVENTS.join, payload));
      expect(ack).toMatchObject({ ok: false, error: { code } });
      expect(await peer.error()).toMatchObject({ code, event: EVENTS.join });
    }
    expect(server.runs.get('ring')!.memberCount).toBe(0);

    const ack = await peer.join('ring', token('ring'));
    expect(ack.run.id).toBe('ring');
    expect(JSON.stringify(ack)).not.toContain(token('ring'));
    const epoch = await peer.epoch(0);
    expect(epoch).toMatchObject({ members: [ack.peerId], index: 0, selfWeight: 1, activationStep: 0 });
    expect(epoch.bootstrapFrom).toBeUndefined();
    expect(AckSchema.parse(await peer.request(EVENTS.join, { ...base, token: token('ring') }))).toMatchObject(
      {
        ok: false,
        error: { code: 'already-joined' },
      },
    );
  });

  it('refuses a peer beyond maxPeers and changes nothing', async () => {
    const [a, b] = await joinPeers('pair', 2);
    const third = await connect();
    const ack = AckSchema.parse(
      await third.request(EVENTS.join, {
        runId: 'pair',
        token: token('pair'),
        platform: 'node',
        backend: 'cpu',
      }),
    );
    expect(ack).toMatchObject({ ok: false, error: { code: 'run-full' } });
    await a.peer.request(EVENTS.progress, { step: 1 });
    expect(server.runs.get('pair')!.memberCount).toBe(2);
    expect(a.peer.drain(EVENTS.epoch).length + b.peer.drain(EVENTS.epoch).length).toBe(1); // a's epoch for b
  });
});

describe('epochs', () => {
  it('gives 4 peers on a ring consistent, doubly stochastic epochs with weights 1/3', async () => {
    const peers = await joinPeers('ring', 4);
    const lastEpoch = peers[3].first.epoch;
    const payloads = await latestEpochs(peers);
    expect(payloads.map((p) => p.epoch)).toEqual([lastEpoch, lastEpoch, lastEpoch, lastEpoch]);
    expect(payloads[0].members).toEqual(peers.map(({ peer }) => peer.peerId));
    payloads.forEach((p, i) => {
      expect(p.index).toBe(i);
      expect(p.inNeighbours).toHaveLength(2);
    });
    expectConsistent(payloads, 1 / 3);
    expect(peers.map(({ first }) => first.epoch)).toEqual([1, 2, 3, 4].map((k) => lastEpoch - 4 + k));
  });

  it('relays signals to neighbours only', async () => {
    const peers = (await joinPeers('ring', 4)).map(({ peer }) => peer);
    const [p0, p1, p2] = peers;
    expect(await p0.request(EVENTS.signal, { to: p1.peerId, data: { type: 'offer', sdp: 'v=0' } })).toEqual({
      ok: true,
    });
    expect(RelayedSignalSchema.parse(await p1.next(EVENTS.signal))).toEqual({
      from: p0.peerId,
      data: { type: 'offer', sdp: 'v=0' },
    });

    // 0 and 2 are opposite on a ring of 4 (they were neighbours on the ring of 3 before the grace period).
    await sleep(GRACE_MS + 50);
    const refused = AckSchema.parse(await p0.request(EVENTS.signal, { to: p2.peerId, data: OFFER }));
    expect(refused).toMatchObject({ ok: false, error: { code: 'not-neighbour' } });
    expect(await p0.error()).toMatchObject({ code: 'not-neighbour', event: EVENTS.signal });
    await p1.request(EVENTS.signal, { to: p2.peerId, data: MARKER });
    expect(await p2.next(EVENTS.signal)).toEqual({ from: p1.peerId, data: MARKER });

    const unknown = AckSchema.parse(await p0.request(EVENTS.signal, { to: 'nobody', data: OFFER }));
    expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown-peer' } });
  });

  it('closes the ring into a triangle when a peer disconnects, and tells a late joiner where to bootstrap', async () => {
    const peers = await joinPeers('ring', 4);
    const before = peers[3].first.epoch;
    await Promise.all(peers.slice(0, 3).map(({ peer }) => peer.epoch(before)));
    // From now on 0 and 1 answer proposals with barriers 42 and 43 (the steps after the ones they are at).
    peers[0].peer.barrier = 42;
    peers[1].peer.barrier = 43;

    peers[3].peer.close();
    const triangle = await Promise.all(peers.slice(0, 3).map(({ peer }) => peer.epoch(before + 1)));
    expect(triangle.map((p) => p.epoch)).toEqual([before + 1, before + 1, before + 1]);
    expect(triangle[0].members).toEqual(peers.slice(0, 3).map(({ peer }) => peer.peerId));
    expect(triangle[0].activationStep).toBe(43);
    expectConsistent(triangle, 1 / 3);
    for (const p of triangle) expect(p.bootstrapFrom).toBeUndefined();

    // The late joiner promises barrier 0, the others 42 and 43 again: an epoch never activates earlier.
    peers[1].peer.barrier = 0;
    const [late] = await joinPeers('ring', 1);
    expect(late.first.epoch).toBe(before + 2);
    expect(late.first.index).toBe(3);
    expect(late.first.activationStep).toBe(43);
    expect(late.first.bootstrapFrom).toBe(peers[0].peer.peerId);
    const others = await Promise.all(peers.slice(0, 3).map(({ peer }) => peer.epoch(before + 2)));
    expectConsistent([...others, late.first], 1 / 3);
  });

  it('starts a new epoch when a peer leaves, and lets the socket join again', async () => {
    const peers = await joinPeers('ring', 3);
    const before = peers[2].first.epoch;
    expect(await peers[2].peer.request(EVENTS.leave)).toEqual({ ok: true });
    const [a] = await Promise.all(peers.slice(0, 2).map(({ peer }) => peer.epoch(before + 1)));
    expect(a.members).toHaveLength(2);
    expect(a.selfWeight).toBeCloseTo(0.5, 12);
    expect(AckSchema.parse(await peers[2].peer.request(EVENTS.progress, { step: 1 }))).toMatchObject({
      ok: false,
      error: { code: 'not-joined' },
    });
    const again = await peers[2].peer.join('ring', token('ring'));
    expect(again.peerId).not.toBe(peers[2].first.members[2]);
  });

  it('sends time-varying topologies with their period and one neighbourhood per step', async () => {
    const peers = await joinPeers('one-peer', 4);
    const payloads = await latestEpochs(peers);
    for (const p of payloads) {
      expect(p.period).toBe(2);
      expect(p.schedule).toHaveLength(2);
      for (const step of p.schedule!) {
        expect(step.selfWeight).toBeCloseTo(0.5, 12);
        expect(step.inNeighbours).toHaveLength(1);
        expect(step.outNeighbours).toHaveLength(1);
      }
      expect(p.inNeighbours).toEqual(p.schedule![p.activationStep % 2].inNeighbours);
    }
    // Peers linked at step 1 only (offset 2) may signal too, also once the grace period is over.
    await sleep(GRACE_MS + 50);
    const offsetTwo = payloads[0].schedule![1].outNeighbours[0];
    const target = peers.find(({ peer }) => peer.peerId === offsetTwo)!.peer;
    expect(await peers[0].peer.request(EVENTS.signal, { to: offsetTwo, data: CANDIDATE })).toEqual({
      ok: true,
    });
    expect(await target.next(EVENTS.signal)).toEqual({ from: peers[0].peer.peerId, data: CANDIDATE });
  });

  it('uses a ring while a fixed-size spec does not fit the member count, and the spec once it does', async () => {
    const peers = await joinPeers('torus', 4);
    const state = server.runs.get('torus')!.state(Date.now());
    expect(state.topology).toBe('torus:2x2');
    expect(state.topologyFallback).toBeUndefined();
    expect(peers[2].first.members).toHaveLength(3);
    peers[3].peer.close();
    await peers[0].peer.epoch(peers[3].first.epoch + 1);
    const fallback = server.runs.get('torus')!.state(Date.now());
    expect(fallback.topology).toBe('ring');
    expect(fallback.topologyFallback).toMatch(/2x2 torus has 4 nodes, not 3/);
  });
});

describe('heartbeat', () => {
  it('removes a peer that sends neither progress nor metrics, and logs whom and why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signaling-heartbeat-'));
    const lines: string[] = [];
    const quick = await createSignalingServer({
      port: 0,
      dataDir: dir,
      heartbeatTimeoutMs: 600,
      log: { info: (line) => lines.push(line), warn: (line) => lines.push(line) },
    });
    const live = await TestClient.connect(quick.url);
    const silent = await TestClient.connect(quick.url);
    const runToken = quick.runs.get('default')!.secretToken();
    try {
      await live.join('default', runToken);
      const beat = setInterval(() => live.socket.emit(EVENTS.progress, { step: 1 }), 100);
      try {
        await silent.join('default', runToken, { name: 'quiet "one"' });
        const pair = await live.epoch(2);
        expect(pair.members).toEqual([live.peerId, silent.peerId]);
        const alone = await live.epoch(3, 3000);
        expect(alone.members).toEqual([live.peerId]);
        expect(alone.selfWeight).toBe(1);
        const reason = await silent.evicted();
        expect(reason).toMatch(/no heartbeat or any other event from peer .* for over 600 ms/);
        // The name is the peer's own word: quoted, so that it cannot pass for the server's.
        const told = reason.replace(/; join again to continue$/, '');
        expect(lines).toContain(`run "default": evicted ${silent.peerId} "quiet \\"one\\"": ${told}`);
      } finally {
        clearInterval(beat);
      }
    } finally {
      live.close();
      silent.close();
      await quick.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('heartbeat event', () => {
  it('keeps a peer that sends only heartbeats past the timeout, evicts a silent one, and refuses bad beats', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signaling-beats-'));
    const quick = await createSignalingServer({
      port: 0,
      dataDir: dir,
      heartbeatTimeoutMs: 500,
      log: silentLogger,
    });
    const beating = await TestClient.connect(quick.url);
    const silent = await TestClient.connect(quick.url);
    const runToken = quick.runs.get('default')!.secretToken();
    try {
      expect(AckSchema.parse(await beating.request(EVENTS.heartbeat, {}))).toMatchObject({
        ok: false,
        error: { code: 'not-joined' },
      });
      const ack = await beating.join('default', runToken);
      expect(ack.heartbeatMs).toBe(125);
      const stop = beating.heartbeats(ack.heartbeatMs);
      try {
        expect(await beating.request(EVENTS.heartbeat, {})).toEqual({ ok: true });
        expect(await beating.request(EVENTS.heartbeat)).toEqual({ ok: true });
        const bad = AckSchema.parse(await beating.request(EVENTS.heartbeat, { step: 3 }));
        expect(bad).toMatchObject({ ok: false, error: { code: 'bad-event' } });
        await silent.join('default', runToken);
        const pair = await beating.epoch(2);
        const alone = await beating.epoch(pair.epoch + 1, 3000);
        expect(alone.members).toEqual([beating.peerId]);
        expect(await silent.evicted()).toMatch(/no heartbeat or any other event/);
        expect(silent.drain(EVENTS.error)).toEqual([]);
        // Three more timeouts on heartbeats alone: still a member, no epoch, no eviction.
        await sleep(1200);
        expect(
          quick.runs
            .get('default')!
            .state(Date.now())
            .members.map((m) => m.peer),
        ).toEqual([beating.peerId]);
        expect(beating.drain(EVENTS.epoch)).toEqual([]);
        expect(beating.drain(EVENTS.error).map((e) => (e as { code: string }).code)).toEqual([
          'not-joined',
          'bad-event',
        ]);
      } finally {
        stop();
      }
    } finally {
      beating.close();
      silent.close();
      await quick.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('signal grace period', () => {
  it('lets neighbours of a superseded epoch signal for graceMs after it ended, then refuses them', () => {
    const membership = new Membership({
      spec: { kind: 'ring' },
      seed: 0,
      lastEpoch: 0,
      graceMs: 1000,
      proposalTimeoutMs: 60_000,
      suspicionMs: 60_000,
    });
    const members: Member[] = [];
    const channel: MemberChannel = { propose() {}, epoch() {}, signal() {}, evicted() {}, collect() {} };
    // Every member answers the proposal at once, so each join commits its epoch.
    const add = (at: number) => {
      const member = membership.add({ platform: 'node', backend: 'cpu' }, channel, at);
      members.push(member);
      for (const m of members) expect(membership.ready(m, membership.epochNumber, 0, at)).toBe(true);
      return member.id;
    };
    const [a, , c] = [add(0), add(0), add(0)];
    expect(membership.committedNumber).toBe(3);
    const d = add(100); // the ring of 3 (everyone linked) becomes a ring of 4: a and c are opposite
    expect(membership.committedNumber).toBe(4);
    expect(membership.canRelay(a, c, 600)).toBe('ok');
    expect(membership.canRelay(a, c, 1101)).toBe('not-neighbour');
    expect(membership.canRelay(a, d, 1101)).toBe('ok');
    expect(membership.canRelay(a, 'gone', 1101)).toBe('unknown-peer');
    membership.dispose();
  });
});

describe('epoch batching', () => {
  it('gives joins within epochBatchMs one epoch, and every joiner an established member to bootstrap from', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signaling-batch-'));
    const batched = await createSignalingServer({
      port: 0,
      dataDir: dir,
      epochBatchMs: 250,
      log: silentLogger,
    });
    const runToken = batched.runs.get('default')!.secretToken();
    const peers = await Promise.all([0, 1, 2, 3].map(() => TestClient.connect(batched.url)));
    try {
      const [first, ...rest] = peers;
      await first.join('default', runToken);
      const alone = await first.epoch(0);
      expect(alone.bootstrapFrom).toBeUndefined();
      await Promise.all(rest.map((peer) => peer.join('default', runToken)));
      const payloads = await Promise.all(peers.map((peer) => peer.epoch(alone.epoch + 1)));
      expect(payloads.map((p) => p.epoch)).toEqual([1, 1, 1, 1].map(() => alone.epoch + 1));
      expect(payloads[0].members).toHaveLength(4);
      expectConsistent(payloads, 1 / 3);
      const id = (i: number) => payloads[0].members[i];
      // Ring 0-1-2-3-0: 1 and 3 receive from 0, the established member; 2 receives from joiners only.
      expect(payloads.map((p) => [p.index, p.bootstrapFrom])).toEqual(
        expect.arrayContaining([
          [0, undefined],
          [1, id(0)],
          [2, id(1)],
          [3, id(0)],
        ]),
      );
      expect(peers.flatMap((peer) => peer.drain(EVENTS.epoch))).toEqual([]);
    } finally {
      for (const peer of peers) peer.close();
      await batched.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
