/**
 * Floods and payloads built to hurt, over real socket.io on loopback: payloads nested deeper than the
 * server reads are refused ('too-deep') before any schema walks them, a hundred thousand levels included;
 * a socket that sends refused events and never reads its replies is disconnected once its unread replies
 * pass the budget, while honest members keep their places; a socket that keeps flooding past the rate
 * limit stops getting replies, then is disconnected.
 */
import { AckSchema, CLIENT_EVENTS, EVENTS } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../signaling-server/src';
import { RawSocketIo } from '../helpers/raw-socket-io';
import { memberIds, run, signalingMembers } from '../helpers/signaling-members';
import { MARKER } from '../helpers/signals';

const { start, connect, members } = signalingMembers('signaling-flood-');

const EVERY_EVENT = CLIENT_EVENTS;

/** `levels` arrays inside each other, around `inner`. */
function nested(levels: number, inner: unknown = 1): unknown {
  let value = inner;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

function recorder() {
  const warnings: string[] = [];
  const log: Logger = { info() {}, warn: (line) => warnings.push(line) };
  return { warnings, log };
}

describe('nesting depth', () => {
  it('refuses every event nested deeper than 32 levels with too-deep, and changes nothing', async () => {
    const server = await start();
    const { peers } = await members(server, 2);
    const [a, b] = peers;
    const before = memberIds(server);
    for (const event of EVERY_EVENT) {
      for (const payload of [nested(33), { to: b.peerId, data: nested(40) }, { deep: nested(500) }]) {
        const reply = AckSchema.parse(await a.request(event, payload));
        expect(reply, event).toMatchObject({ ok: false, error: { code: 'too-deep' } });
        expect(await a.error()).toMatchObject({ code: 'too-deep', event });
      }
      // 32 levels are read: what is wrong with the payload then is its shape (leave reads none: it would go).
      if (event === EVENTS.leave) continue;
      const reply = AckSchema.parse(await a.request(event, nested(31, {})));
      expect(reply.ok === false && reply.error.code, event).not.toBe('too-deep');
      a.drain(EVENTS.error);
    }
    expect(memberIds(server)).toEqual(before);
    await a.request(EVENTS.signal, { to: b.peerId, data: MARKER });
    expect(await b.next(EVENTS.signal)).toEqual({ from: a.peerId, data: MARKER });
  });

  it('refuses a signal nested 100 000 levels deep (it once overflowed the stack when relayed)', async () => {
    const { warnings, log } = recorder();
    const server = await start({ log });
    const { peers } = await members(server, 1);
    const raw = await RawSocketIo.connect(server.url);
    const token = run(server).secretToken();
    raw.sendEvent(JSON.stringify(['join', { runId: 'r', token, platform: 'node', backend: 'cpu' }]), 1);
    expect(await raw.ack(1)).toMatchObject({ ok: true });
    // It answers its proposal, as a peer that has not started: the epoch with both is committed.
    await raw.until('a proposal', () => raw.events().some(([name]) => name === EVENTS.epochPropose));
    const [, proposal] = raw.events().find(([name]) => name === EVENTS.epochPropose)!;
    const { epoch } = proposal as { epoch: number };
    raw.sendEvent(JSON.stringify([EVENTS.epochReady, { epoch, barrier: 0 }]));
    await peers[0].epoch(epoch);

    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    raw.sendEvent(`["signal",{"to":"${peers[0].peerId}","data":${deep}}]`, 2);
    expect(await raw.ack(2)).toMatchObject({ ok: false, error: { code: 'too-deep' } });
    // As a binary event, socket.io's decoder walks the payload itself: the connection is dropped.
    raw.sendRaw(`451-["progress",${deep},{"_placeholder":true,"num":0}]`);
    raw.sendRaw(Buffer.from([1, 2, 3]));
    await raw.whenClosed();

    // Nothing was relayed, the member that stayed is served, and nothing failed inside the server.
    await peers[0].epoch(epoch + 1);
    expect(memberIds(server)).toEqual([peers[0].peerId]);
    expect(peers[0].drain(EVENTS.signal)).toEqual([]);
    expect(await peers[0].request(EVENTS.progress, { step: 1 })).toEqual({ ok: true });
    expect(warnings.filter((w) => /failed/.test(w))).toEqual([]);
  });
});

describe('a client that does not read', () => {
  it('is disconnected past its budget of unread replies; honest members keep their places', async () => {
    const { warnings, log } = recorder();
    const budget = 256 * 1024;
    const server = await start({
      log,
      heartbeatTimeoutMs: 3000,
      limits: { eventsPerSecond: 1e9, eventBurst: 1e9, maxUnreadBytes: budget },
    });
    const { peers } = await members(server, 2);
    const stops = peers.map((peer) => peer.heartbeats(100));
    const ids = memberIds(server);

    const flooder = await RawSocketIo.connect(server.url);
    flooder.pauseReading();
    // A refused join, acknowledged: two replies of about 500 bytes (the refusal quotes the unknown key).
    const join = JSON.stringify([
      'join',
      { runId: 'r', token: 'x', platform: 'node', backend: 'cpu', ['k'.repeat(600)]: 1 },
    ]);
    const unread = () => warnings.some((w) => /unread/.test(w));
    let sent = 0;
    // Until the kernel's buffers are full and the server's pass the budget; bounded, should it never be.
    while (!unread() && sent < 100_000) {
      for (let i = 0; i < 500; i++) flooder.sendEvent(join, sent++);
      await flooder.flushed();
    }
    expect(warnings.find(unread)).toMatch(
      new RegExp(
        `socket \\S+ \\(.*\\): \\d+ bytes sent to it are unread, over the budget of ${budget}; disconnected`,
      ),
    );
    // Reading again, it gets what was queued, then the close.
    flooder.resumeReading();
    await flooder.whenClosed();

    for (const stop of stops) stop();
    expect(memberIds(server)).toEqual(ids);
    for (const peer of peers) expect(peer.drain(EVENTS.evicted)).toEqual([]);
    expect(await peers[0].request(EVENTS.progress, { step: 3 })).toEqual({ ok: true });
  });
});

describe('a socket that keeps flooding past the rate limit', () => {
  it('gets answeredRateLimits refusals, then none, and is disconnected past maxRateLimited', async () => {
    const { warnings, log } = recorder();
    // No token comes back within the test: every event after the burst is rate-limited.
    const limits = { eventsPerSecond: 0.001, eventBurst: 5, answeredRateLimits: 10, maxRateLimited: 30 };
    const server = await start({ log, limits });
    const flooder = await connect(server);
    const disconnected = new Promise((resolve) => flooder.socket.once('disconnect', resolve));
    for (let i = 0; i < 5 + 40; i++) flooder.socket.emit(EVENTS.progress, { step: i });
    await disconnected;

    const codes = flooder.drain(EVENTS.error).map((reply) => (reply as { code: string }).code);
    expect(codes).toEqual([...Array(5).fill('not-joined'), ...Array(10).fill('rate-limited')]);
    expect(warnings).toEqual([
      expect.stringMatching(/over 10 events rate-limited in one flood; no more replies/),
      expect.stringMatching(/over 30 events rate-limited in one flood; disconnected/),
    ]);
  });
});
