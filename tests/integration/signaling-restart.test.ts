/**
 * A signaling server restarted mid-run, with real socket.io clients on loopback: the run's members come
 * back away, resume with their ids and the very epoch they had (no new one), keep their place on
 * heartbeats alone, and one that does not come back is evicted, giving the rest a new epoch. Also the
 * refusals around it (unknown id, id in use, signals to an away peer, a new config while peers may resume).
 * Damaged stored state and resume secrets: signaling-stored-state.test.ts, signaling-resume-secret.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AckSchema,
  type Epoch,
  EVENTS,
  type Metrics,
  MetricsPointSchema,
  RunStateSchema,
} from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { type ConnectOptions, TestClient } from '../../signaling-server/testing/test-client';
import { signalingTestEnv } from '../helpers/signaling-env';

// Short enough for a quick file, long enough for two peers to reconnect on a loaded 2-core machine.
const TIMEOUT_MS = 800;
const RUN = { id: 'r', topology: 'ring', algorithm: { name: 'demuon', lr: { eta: 0.05 } } };
const OFFER = { type: 'offer', sdp: 'v=0' } as const;

const env = signalingTestEnv('signaling-restart-');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function start(port = 0, runs: unknown[] = [RUN]): Promise<SignalingServer> {
  const server = await createSignalingServer({
    port,
    dataDir: env.dataDir,
    runs,
    heartbeatTimeoutMs: TIMEOUT_MS,
    log: silentLogger,
  });
  env.servers.push(server);
  return server;
}

async function stop(server: SignalingServer): Promise<void> {
  await server.close();
  env.servers.splice(env.servers.indexOf(server), 1);
}

async function connect(server: SignalingServer, options: ConnectOptions = {}): Promise<TestClient> {
  const client = await TestClient.connect(server.url, options);
  env.clients.push(client);
  return client;
}

function metrics(step: number, epoch: number): Metrics {
  return { step, epoch, trainLoss: 5 - step / 10, bytesSent: step, bytesReceived: step, links: [] };
}

async function runState(server: SignalingServer) {
  const body = await (await fetch(`${server.url}/api/runs/r`)).json();
  return RunStateSchema.parse(body.state);
}

async function metricsPoints(server: SignalingServer) {
  const body = await (await fetch(`${server.url}/api/runs/r/metrics.json`)).json();
  return body.points.map((p: unknown) => MetricsPointSchema.parse(p));
}

/** Three peers on the ring of run r, each having reported metrics at its own step of the last epoch. */
async function trainingRun(server: SignalingServer) {
  const peers: TestClient[] = [];
  for (const name of ['a', 'b', 'c']) {
    const peer = await connect(server);
    await peer.join('r', server.runs.get('r')!.secretToken(), { name });
    peers.push(peer);
  }
  const epochs = await Promise.all(peers.map((peer) => peer.epoch(3)));
  for (const [i, peer] of peers.entries()) {
    expect(await peer.request(EVENTS.metrics, metrics(5 + i, 3))).toEqual({ ok: true });
  }
  return { peers, epochs };
}

describe('restart mid-run', () => {
  it('lets members resume their ids and epoch, keeps them on heartbeats, and evicts one that stays away', async () => {
    const first = await start();
    const { peers, epochs } = await trainingRun(first);
    const ids = peers.map((peer) => peer.peerId);
    const secrets = peers.map((peer) => peer.secret);
    const token = first.runs.get('r')!.secretToken();
    const pointsBefore = await metricsPoints(first);
    expect(pointsBefore).toHaveLength(3);
    await stop(first);

    const second = await start(first.port);
    expect(second.url).toBe(first.url);
    const restored = await runState(second);
    expect(restored).toMatchObject({ epoch: 3, activationStep: epochs[0].activationStep });
    expect(restored.members.map((m) => [m.peer, m.name, m.away, m.step])).toEqual([
      [ids[0], 'a', true, 5],
      [ids[1], 'b', true, 6],
      [ids[2], 'c', true, 7],
    ]);
    expect(await metricsPoints(second)).toEqual(pointsBefore);

    // a and b come back (new sockets, as after a reconnect); c never does. They answer proposals with
    // the steps after the ones they reported (5 and 6): neither will start those before a commit.
    const back = [await connect(second, { barrier: 6 }), await connect(second, { barrier: 7 })];
    const stops: (() => void)[] = [];
    try {
      for (const [i, peer] of back.entries()) {
        const resume = { peerId: ids[i], secret: secrets[i] };
        const ack = await peer.join('r', token, { name: ['a', 'b'][i], resume });
        expect(ack).toMatchObject({ peerId: ids[i], heartbeatMs: TIMEOUT_MS / 4, run: { id: 'r' } });
        expect(await peer.epoch(0)).toEqual(epochs[i]);
        stops.push(peer.heartbeats(ack.heartbeatMs));
      }
      expect(second.runs.get('r')!.epochNumber).toBe(3);
      expect((await runState(second)).members.map((m) => m.away)).toEqual([false, false, true]);

      // c is a's neighbour on the ring of 3, but away: the signal has nowhere to go.
      const toAway = AckSchema.parse(await back[0].request(EVENTS.signal, { to: ids[2], data: OFFER }));
      expect(toAway).toMatchObject({ ok: false, error: { code: 'peer-away' } });
      expect(await back[0].error()).toMatchObject({ code: 'peer-away', event: EVENTS.signal });
      expect(await back[0].request(EVENTS.signal, { to: ids[1], data: OFFER })).toEqual({ ok: true });
      expect(await back[1].next(EVENTS.signal)).toEqual({ from: ids[0], data: OFFER });

      // c is evicted about TIMEOUT_MS after the start; a and b get one new epoch, activating at b's barrier.
      const pair = await Promise.all(back.map((peer) => peer.epoch(4, 3000)));
      expect(pair.map((p) => [p.epoch, p.members, p.activationStep])).toEqual([
        [4, ids.slice(0, 2), 7],
        [4, ids.slice(0, 2), 7],
      ]);
      expect(pair[0].selfWeight).toBeCloseTo(0.5, 12);

      // Heartbeats alone keep a and b for several more timeouts.
      await sleep(2 * TIMEOUT_MS);
      expect((await runState(second)).members.map((m) => m.peer)).toEqual(ids.slice(0, 2));
      for (const peer of back) expect([...peer.drain(EVENTS.epoch), ...peer.drain(EVENTS.error)]).toEqual([]);

      expect(await back[0].request(EVENTS.metrics, metrics(8, 4))).toEqual({ ok: true });
      const points = await metricsPoints(second);
      expect(points.slice(0, 3)).toEqual(pointsBefore);
      expect(points[3]).toMatchObject({ peer: ids[0], step: 8, epoch: 4 });

      // A live member's disconnect is still an immediate departure.
      back[1].close();
      expect(await back[0].epoch(5)).toMatchObject({ members: [ids[0]], selfWeight: 1 });
    } finally {
      for (const stop of stops) stop();
    }
  });

  it('gives a resumed joiner its payload with the same bootstrap source', async () => {
    const first = await start();
    const { peers, epochs } = await trainingRun(first);
    await stop(first);
    const second = await start(first.port);
    const c = await connect(second);
    const token = second.runs.get('r')!.secretToken();
    await c.join('r', token, { resume: { peerId: epochs[2].members[2], secret: peers[2].secret } });
    const again: Epoch = await c.epoch(0);
    expect(again.bootstrapFrom).toBeDefined();
    expect(again).toEqual(epochs[2]);
  });

  it('refuses to resume an unknown id or one in use, and changes nothing', async () => {
    const first = await start();
    const { peers, epochs } = await trainingRun(first);
    const ids = peers.map((peer) => peer.peerId);
    const token = first.runs.get('r')!.secretToken();
    await stop(first);
    const second = await start(first.port);

    const a = await connect(second);
    const ack = await a.join('r', token, { resume: { peerId: ids[0], secret: peers[0].secret } });
    expect(await a.epoch(0)).toEqual(epochs[0]);
    const stopBeats = a.heartbeats(ack.heartbeatMs);
    const observable = async () => {
      const { epoch, members } = await runState(second);
      return { epoch, members: members.map((m) => [m.peer, m.away, m.step]) };
    };
    const before = await observable();

    const stranger = await connect(second);
    const secretOf = (peerId: string) => peers.find((p) => p.peerId === peerId)?.secret ?? 'none';
    const join = (peerId: string, runToken = token) =>
      stranger.request(EVENTS.join, {
        runId: 'r',
        token: runToken,
        platform: 'node',
        backend: 'cpu',
        resume: { peerId, secret: secretOf(peerId) },
      });
    const refusals = [
      [await join('nobody'), 'cannot-resume', /peer nobody is not a member of run "r".*without 'resume'/],
      [await join(ids[0]), 'cannot-resume', /is connected on another socket/],
      [await join(ids[1], 'wrong-token'), 'bad-token', /wrong token/],
    ] as const;
    for (const [reply, code, message] of refusals) {
      expect(AckSchema.parse(reply)).toMatchObject({ ok: false, error: { code, message } });
      expect(await stranger.error()).toMatchObject({ code, event: EVENTS.join });
    }
    expect(await observable()).toEqual(before);
    expect(stranger.drain(EVENTS.epoch)).toEqual([]);
    expect(a.drain(EVENTS.epoch)).toEqual([]);

    // b and c never resumed: both go in one epoch, and c's id is no member any more.
    expect((await a.epoch(4, 3000)).members).toEqual([ids[0]]);
    stopBeats();
    expect(AckSchema.parse(await join(ids[2]))).toMatchObject({
      ok: false,
      error: { code: 'cannot-resume' },
    });
  });

  it('restores nobody when everyone had left, and numbers epochs on from the last one', async () => {
    const first = await start();
    const { peers } = await trainingRun(first);
    for (const peer of peers) await peer.request(EVENTS.leave);
    await stop(first);
    const second = await start(first.port);
    expect((await runState(second)).members).toEqual([]);
    const again = await connect(second);
    await again.join('r', second.runs.get('r')!.secretToken());
    expect((await again.epoch(0)).epoch).toBe(6);
  });

  it('refuses a new config while peers may resume', async () => {
    const first = await start();
    await trainingRun(first);
    await stop(first);
    const file = join(env.dataDir, 'r', 'membership.json');
    const stored = readFileSync(file, 'utf8');

    await expect(start(0, [{ ...RUN, topology: 'exp' }])).rejects.toThrow(
      /run "r": its config changed, but 3 peer\(s\) from before the restart may resume it .*membership\.json/,
    );
    expect(readFileSync(file, 'utf8')).toBe(stored);
  });
});
