/**
 * Bad input to the signaling server: malformed, unknown, premature, oversized and too frequent events get
 * their error codes and change nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckSchema, EVENTS } from '@demuon/shared/protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { TestClient } from '../../signaling-server/testing/test-client';
import { MARKER } from '../helpers/signals';

const BURST = 40;
let dataDir: string;
let server: SignalingServer;
let clients: TestClient[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'signaling-limits-'));
  server = await createSignalingServer({
    port: 0,
    dataDir,
    log: silentLogger,
    limits: { eventsPerSecond: 2, eventBurst: BURST },
  });
});

afterEach(async () => {
  for (const client of clients) client.close();
  clients = [];
  while (server.runs.get('default')!.memberCount > 0) await new Promise((resolve) => setTimeout(resolve, 10));
});

afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function peer(joinRun = true): Promise<TestClient> {
  const client = await TestClient.connect(server.url);
  clients.push(client);
  if (joinRun) {
    await client.join('default', server.runs.get('default')!.secretToken());
    await client.epoch(0);
  }
  return client;
}

/** What bad events must not change: members, their steps, the epoch, the stored metrics. */
async function observable() {
  const body = await (await fetch(`${server.url}/api/runs/default`)).json();
  const points = server.runs.get('default')!.metrics.points().length;
  return {
    epoch: body.state.epoch,
    members: body.state.members.map((m: { peer: string; step: number | null }) => [m.peer, m.step]),
    points,
  };
}

async function expectRefused(client: TestClient, code: string, event: string, ...args: unknown[]) {
  const ack = AckSchema.parse(await client.request(event, ...args));
  expect(ack, `${event} ${JSON.stringify(args)}`).toMatchObject({ ok: false, error: { code } });
  const reply = await client.error();
  expect(reply.code).toBe(code);
  expect(reply.event).toBe(event);
  return reply.message;
}

/** B receives a marker signal from A: nothing relayed before it reached B. */
async function expectNoSignalBefore(a: TestClient, b: TestClient) {
  await a.request(EVENTS.signal, { to: b.peerId, data: MARKER });
  expect(await b.next(EVENTS.signal)).toEqual({ from: a.peerId, data: MARKER });
}

describe('malformed events', () => {
  it('get bad-event with a message naming the problem, and change nothing', async () => {
    const a = await peer();
    const b = await peer();
    await a.epoch(0); // the one that added b
    const before = await observable();
    const cases: [string, unknown, RegExp][] = [
      [EVENTS.progress, 'hello', /invalid 'progress' event: payload/],
      [EVENTS.progress, { step: -1 }, /step: .*>=\s?0/],
      [EVENTS.progress, { step: 1, extra: true }, /extra/],
      [EVENTS.signal, { data: {} }, /to: /],
      [EVENTS.signal, { to: b.peerId, data: 'offer' }, /data: /],
      [EVENTS.metrics, { step: 1, epoch: 2 }, /bytesSent/],
      [EVENTS.metrics, { step: 1, epoch: 2, bytesSent: 1, bytesReceived: 1, trainLoss: 'low' }, /trainLoss/],
      [EVENTS.watch, { runId: 5 }, /runId/],
      ['hack', {}, /unknown event 'hack'/],
    ];
    for (const [event, payload, problem] of cases) {
      expect(await expectRefused(a, 'bad-event', event, payload)).toMatch(problem);
    }
    const stranger = await peer(false);
    const badJoin = { runId: 'not an id', token: 'x', platform: 'node', backend: 'cpu' };
    expect(await expectRefused(stranger, 'bad-event', EVENTS.join, badJoin)).toMatch(/runId/);
    expect(
      await expectRefused(stranger, 'bad-event', EVENTS.join, { ...badJoin, runId: 'default', os: 'x' }),
    ).toMatch(/os/);
    expect(await observable()).toEqual(before);
    expect(a.drain(EVENTS.epoch)).toEqual([]);
    await expectNoSignalBefore(a, b);
  });

  it('before join, everything but join and watch gets not-joined', async () => {
    const stranger = await peer(false);
    for (const event of [EVENTS.progress, EVENTS.signal, EVENTS.metrics, EVENTS.leave]) {
      await expectRefused(stranger, 'not-joined', event, { step: 1 });
    }
    expect(await stranger.request(EVENTS.watch, { runId: 'default' })).toEqual({ ok: true });
    expect(await observable()).toMatchObject({ members: [] });
  });
});

describe('oversized events', () => {
  it('refuse signals over 16 KiB with too-large, relaying nothing', async () => {
    const a = await peer();
    const b = await peer();
    const message = await expectRefused(a, 'too-large', EVENTS.signal, {
      to: b.peerId,
      // Within the SDP's length, but its line breaks are escaped in JSON: over 16 KiB serialized.
      data: { type: 'offer', sdp: 'a=x\r\n'.repeat(2400) },
    });
    expect(message).toMatch(/at most 16384/);
    await expectNoSignalBefore(a, b);
  });

  it('close a connection whose message exceeds maxHttpBufferSize; the peer leaves the run', async () => {
    const a = await peer();
    const b = await peer();
    const { epoch } = b.current!;
    const disconnected = new Promise((resolve) => a.socket.once('disconnect', resolve));
    a.socket.emit(EVENTS.progress, { step: 1, padding: 'x'.repeat(1_100_000) });
    await disconnected;
    const alone = await b.epoch(epoch + 1);
    expect(alone.members).toEqual([b.peerId]);
  });
});

describe('rate limit', () => {
  it('refuses events beyond the burst with rate-limited; refused events change nothing', async () => {
    const a = await peer();
    const b = await peer();
    const acks = await Promise.all(
      Array.from({ length: BURST + 20 }, (_, i) => a.request(EVENTS.progress, { step: i + 1 })),
    );
    const accepted = acks.flatMap((ack, i) => ((ack as { ok: boolean }).ok ? [i + 1] : []));
    // The join and the answers to two proposals took tokens, and time refills a few.
    expect(accepted.length).toBeGreaterThan(BURST - 5);
    expect(accepted.length).toBeLessThan(BURST + 3);
    const refused = a.drain(EVENTS.error);
    expect(refused).toHaveLength(BURST + 20 - accepted.length);
    for (const reply of refused)
      expect(reply).toMatchObject({ code: 'rate-limited', event: EVENTS.progress });

    // Only the accepted reports count, and the other socket is not slowed down.
    expect(await b.request(EVENTS.progress, { step: 5 })).toEqual({ ok: true });
    const state = await observable();
    expect(state.members).toEqual([
      [a.peerId, Math.max(...accepted)],
      [b.peerId, 5],
    ]);
  });
});
