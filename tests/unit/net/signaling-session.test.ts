/**
 * The peer's side of a signaling outage, on a scripted socket: while the connection is down or the resume
 * is unanswered, nothing of the membership goes out (no heartbeat, no report), and a refusal of a beat
 * that left before the resume does not end the membership; the resume's answer decides.
 */
import { EVENTS, RunConfigSchema } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import { SignalingSession } from '../../../client/src/net/signaling-session';
import type { SignalingSocket } from '../../../client/src/net/signaling-socket';

const RUN = RunConfigSchema.parse({
  id: 'r',
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05 } },
});
const ack = (heartbeatMs: number) => ({
  ok: true,
  peerId: 'p1',
  secret: 'a'.repeat(36),
  run: RUN,
  heartbeatMs,
});

/** A socket whose server the test plays: requests wait until answered, everything sent is recorded. */
class ScriptedSocket implements SignalingSocket {
  connected = true;
  readonly sent: [string, unknown][] = [];
  readonly beats: (number | null)[] = [];
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();
  private readonly pending: ((reply: unknown) => void)[] = [];

  on(event: string, listener: (payload: unknown) => void): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(listener);
  }
  off(event: string, listener: (payload: unknown) => void): void {
    this.listeners.get(event)?.delete(listener);
  }
  emit(event: string, payload: unknown): void {
    this.sent.push([event, payload]);
  }
  request(event: string, payload: unknown): Promise<unknown> {
    this.sent.push([event, payload]);
    return new Promise((resolve) => this.pending.push(resolve));
  }
  reconnect(): void {}
  heartbeat(intervalMs: number | null): void {
    this.beats.push(intervalMs);
  }
  setStatus(): void {}

  /** The server's side: an event to the peer, or the answer to the oldest request. */
  receive(event: string, payload?: unknown): void {
    for (const listener of this.listeners.get(event) ?? []) listener(payload);
  }
  answer(reply: unknown): Promise<void> {
    this.pending.shift()!(reply);
    return new Promise((resolve) => setTimeout(resolve, 0));
  }
}

async function joined() {
  const socket = new ScriptedSocket();
  const evictions: string[] = [];
  const handlers = {
    epoch() {},
    proposal() {},
    signal() {},
    evicted: (reason: string) => evictions.push(reason),
    collect() {},
    log() {},
  };
  const joining = SignalingSession.join(
    socket,
    { runId: 'r', token: 't', platform: 'node', backend: 'cpu' },
    handlers,
  );
  await socket.answer(ack(2000));
  return { socket, evictions, session: await joining };
}

describe('a signaling outage, seen by the peer', () => {
  it('stops heartbeats while away, holds reports, and takes its place back before beating again', async () => {
    const { socket, evictions, session } = await joined();
    expect(socket.beats).toEqual([2000]);

    socket.receive('disconnect', 'io server disconnect');
    expect(socket.beats).toEqual([2000, null]);
    session.report(EVENTS.progress, { step: 3 });
    socket.receive('connect');
    // The server restarted and refuses a beat that left before the resume: the membership goes on.
    socket.receive(EVENTS.error, { code: 'not-joined', message: 'join first', event: EVENTS.heartbeat });
    expect(evictions).toEqual([]);
    expect(socket.sent.at(-1)?.[0]).toBe(EVENTS.join);
    expect(socket.sent.filter(([e]) => e === EVENTS.progress)).toEqual([]);

    await socket.answer(ack(1500));
    expect(evictions).toEqual([]);
    expect(socket.beats).toEqual([2000, null, 1500]);
    expect(socket.sent.at(-1)).toEqual([EVENTS.progress, { step: 3 }]);
    expect(session.member).toBe(true);
  });

  it('ends the membership on a refusal while attached, or when the resume is refused', async () => {
    const attached = await joined();
    attached.socket.receive(EVENTS.error, {
      code: 'not-joined',
      message: 'join first',
      event: EVENTS.progress,
    });
    expect(attached.evictions).toEqual(['the server no longer counts this peer as a member']);

    const away = await joined();
    away.socket.receive('disconnect', 'transport close');
    away.socket.receive('connect');
    await away.socket.answer({ ok: false, error: { code: 'bad-secret', message: 'not yours' } });
    expect(away.evictions).toEqual(['could not take back place p1: not yours']);
    expect(away.session.member).toBe(false);
  });
});
