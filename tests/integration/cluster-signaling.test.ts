/**
 * Three signaling server processes on one real Redis serve one run: members joined through different
 * processes get one epoch sequence, signal each other across processes, are shown with the process
 * they are connected to, and keep their places when a process drains.
 */
import { EVENTS, RunStateSchema } from '@demuon/shared/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { TestClient } from '../../signaling-server/testing/test-client';
import { type RedisInstance, startRedis } from '../helpers/redis-server';
import { until } from '../helpers/signaling-members';

const RUN = { id: 'r', topology: 'ring', algorithm: { name: 'demuon', lr: { eta: 0.05 } } };

let redis: RedisInstance;
const servers: SignalingServer[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await flushRedis();
});

async function flushRedis(): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url);
  await client.flushall();
  await client.quit();
}

async function startProcesses(n: number): Promise<SignalingServer[]> {
  for (let i = 0; i < n; i++) {
    servers.push(
      await createSignalingServer({
        port: 0,
        dataDir: '/nonexistent',
        runs: [RUN],
        log: silentLogger,
        redis: redis.url,
        processName: `p${i}`,
        heartbeatTimeoutMs: 4000,
      }),
    );
  }
  return servers;
}

/** The run's token, as a host gets it: from the run list it creates (here: a run made through the API). */
async function runToken(server: SignalingServer, id = 'shared'): Promise<string> {
  const reply = await fetch(`${server.url}/api/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...RUN, id }),
  });
  expect(reply.status).toBe(201);
  return ((await reply.json()) as { token: string }).token;
}

async function connect(server: SignalingServer): Promise<TestClient> {
  const client = await TestClient.connect(server.url);
  clients.push(client);
  return client;
}

/** New sockets to `server` that resume the places of `previous` (whose sockets are gone): each gets its id back. */
async function resumeThrough(
  server: SignalingServer,
  previous: TestClient[],
  token: string,
): Promise<TestClient[]> {
  const back = await Promise.all(previous.map(() => connect(server)));
  const acks = await Promise.all(
    back.map((client, i) =>
      client.join('shared', token, { resume: { peerId: previous[i].peerId, secret: previous[i].secret } }),
    ),
  );
  expect(acks.map((a) => a.peerId)).toEqual(previous.map((p) => p.peerId));
  return back;
}

/** Polls `read` until `done` holds for what it returns; fails after 10 s naming `what`. */
async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`not within 10 s: ${what}; last: ${JSON.stringify(value).slice(0, 300)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function stateFrom(server: SignalingServer, id: string) {
  const reply = await fetch(`${server.url}/api/runs/${id}`);
  return RunStateSchema.parse(((await reply.json()) as { state: unknown }).state);
}

describe('a run served by three processes on one Redis', () => {
  it('gives members joined through different processes one epoch sequence, and relays between them', async () => {
    const [p0, p1, p2] = await startProcesses(3);
    const token = await runToken(p0);
    const through = [p0, p1, p2, p0, p1, p2];
    const peers = await Promise.all(through.map(connect));
    // Simultaneous joins on every process: one owner decides, so one sequence of epochs.
    await Promise.all(peers.map((peer, i) => peer.join('shared', token, { name: `peer ${i}` })));
    const ids = peers.map((p) => p.peerId);
    expect(new Set(ids).size).toBe(6);
    await until(
      'every member holds an epoch of all six',
      () => peers.every((p) => p.current?.members.length === 6),
      10_000,
    );
    const final = Math.max(...peers.map((p) => p.current!.epoch));
    const epochs = await Promise.all(
      peers.map((p) => (p.current!.epoch === final ? p.current! : p.epoch(final))),
    );
    for (const epoch of epochs) expect(epoch.members).toEqual(epochs[0].members);
    // Every process answers the same state; each member is shown with the process it is connected to.
    const state = await eventually(
      `a state of epoch ${final} with six members`,
      () => stateFrom(p2, 'shared'),
      (s) => s.members.length === 6 && s.epoch === final,
    );
    const serverOf = new Map(state.members.map((m) => [m.peer, m.server]));
    for (const i of through.keys()) expect(serverOf.get(ids[i])).toBe(`p${i % 3}`);

    // A signal from a member on p0 to its neighbour on another process arrives.
    const sender = peers[0];
    const neighbour = epochs[0].outNeighbours.find((id) => ids.indexOf(id) % 3 !== 0)!;
    expect(neighbour).toBeDefined();
    const receiver = peers[ids.indexOf(neighbour)];
    const data = { type: 'offer', sdp: 'v=0\r\n' };
    sender.socket.emit(EVENTS.signal, { to: neighbour, data });
    expect(await receiver.next(EVENTS.signal)).toEqual({ from: sender.peerId, data });
  });

  it('takes WebSocket connections only: no HTTP long-polling session a load balancer would have to pin', async () => {
    const [p0] = await startProcesses(1);
    const polling = await fetch(`${p0.url}/socket.io/?EIO=4&transport=polling`);
    expect(polling.status).toBe(400);
    expect(await polling.json()).toMatchObject({ message: 'Transport unknown' });
    const client = await connect(p0);
    expect(client.socket.connected).toBe(true);
  });

  it('never hands out two epochs under one number, whichever process took the joins', async () => {
    const processes = await startProcesses(3);
    const token = await runToken(processes[0]);
    const seen = new Map<number, string>();
    const clash: string[] = [];
    const peers = await Promise.all([0, 1, 2, 0, 1, 2, 0, 1].map((i) => connect(processes[i])));
    for (const peer of peers) {
      peer.socket.on(EVENTS.epoch, (epoch: { epoch: number; members: string[] }) => {
        const members = epoch.members.join(',');
        if ((seen.get(epoch.epoch) ?? members) !== members) clash.push(`epoch ${epoch.epoch}`);
        seen.set(epoch.epoch, members);
      });
    }
    // Two waves of simultaneous joins, and leaves in between, on all three processes.
    await Promise.all(peers.slice(0, 4).map((peer) => peer.join('shared', token)));
    await Promise.all([
      ...peers.slice(4).map((peer) => peer.join('shared', token)),
      peers[1].request(EVENTS.leave),
      peers[2].request(EVENTS.leave),
    ]);
    const stay = peers.filter((_, i) => i !== 1 && i !== 2);
    await until(
      'every member holds an epoch of the six that stayed',
      () => stay.every((p) => p.current?.members.length === 6),
      10_000,
    );
    expect(clash).toEqual([]);
    const numbers = [...seen.keys()].sort((a, b) => a - b);
    expect(new Set(stay.map((p) => p.current!.epoch)).size).toBe(1);
    expect(stay[0].current!.epoch).toBe(numbers[numbers.length - 1]);
  });

  it("keeps the places of a draining process's members for their peers to resume through another", async () => {
    const [p0, p1] = await startProcesses(2);
    const token = await runToken(p0);
    const peers = await Promise.all([p0, p1, p1, p0].map(connect));
    for (const peer of peers) await peer.join('shared', token);
    await until(
      'four members in one epoch',
      () => peers.every((p) => p.current?.members.length === 4),
      10_000,
    );
    const epoch = peers[0].current!.epoch;
    // p1 goes away for an upgrade: its sockets close, its members stay (away).
    await p1.close();
    servers.splice(servers.indexOf(p1), 1);
    const moved = [peers[1], peers[2]];
    const back = await resumeThrough(p0, moved, token);
    // Each got the epoch it had back, and nobody got a new one.
    const again = await Promise.all(back.map((client) => client.epoch(epoch)));
    for (const e of again) expect(e.epoch).toBe(epoch);
    const state = await eventually(
      'the resumed members shown on p0',
      () => stateFrom(p0, 'shared'),
      (s) => s.members.filter((m) => m.server === 'p0').length === 4,
    );
    expect(state.epoch).toBe(epoch);
    expect(state.members.every((m) => !m.away)).toBe(true);
  });

  it('moves a run whose owner drains to another process, every member keeping its place', async () => {
    const [p0, p1] = await startProcesses(2);
    const token = await runToken(p0);
    const first = await connect(p0);
    await first.join('shared', token); // p0 takes the run: it is the first to need it
    const peers = [first, ...(await Promise.all([p1, p0, p1].map(connect)))];
    for (const peer of peers.slice(1)) await peer.join('shared', token);
    await until(
      'four members in one epoch',
      () => peers.every((p) => p.current?.members.length === 4),
      10_000,
    );
    const epoch = peers[0].current!.epoch;
    await p0.close();
    servers.splice(servers.indexOf(p0), 1);
    // p0's peers come back through p1, which takes the run over from what p0 stored.
    const moved = [peers[0], peers[2]];
    await resumeThrough(p1, moved, token);
    // p1's own peers learn that the run's new owner has no session for them: they are made to reconnect.
    const stayed = [peers[1], peers[3]];
    await Promise.all(
      stayed.map((peer) => {
        const gone = new Promise((resolve) => peer.socket.once('disconnect', resolve));
        peer.socket.emit(EVENTS.heartbeat, {});
        return gone;
      }),
    );
    await resumeThrough(p1, stayed, token);
    const state = await eventually(
      'all four back on p1 in the same epoch',
      () => stateFrom(p1, 'shared'),
      (s) => s.members.length === 4 && s.members.every((m) => !m.away && m.server === 'p1'),
    );
    expect(state.epoch).toBe(epoch);
  });
});
