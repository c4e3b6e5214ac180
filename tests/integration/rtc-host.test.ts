/**
 * The page's side of a tab's connections (RtcHost), driven through its `rtc-*` commands as the worker
 * drives it, over real WebRTC on loopback (simple-peer's browser build on @roamhq/wrtc; one page with a
 * browser's strict RTCIceCandidate): a relayed signal a connection throws on or cannot take costs that
 * connection, never the page; a backed-up channel is waited for with one 'drain' listener.
 */
import type { SignalData } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import type SimplePeer from 'simple-peer';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { PageToWorker, WorkerToPage } from '../../client/src/web/messages';
import { RtcHost } from '../../client/src/web/rtc-host';
import { strictWrtc } from '../helpers/strict-wrtc';

type RtcEvent = Extract<PageToWorker, { type: 'rtc-event' }>;

/** A page: its RtcHost, and every event it posted to the worker. */
class Page {
  readonly events: RtcEvent[] = [];
  readonly host: RtcHost;
  private readonly listeners = new Set<(e: RtcEvent) => void>();

  constructor(readonly rtc: unknown) {
    this.host = new RtcHost((message) => {
      if (message.type !== 'rtc-event') return;
      this.events.push(message);
      for (const listener of [...this.listeners]) listener(message);
    });
  }

  /** Makes connection `id` (in Node, the connection needs wrtc: browsers have it built in). */
  create(id: number, initiator: boolean): void {
    this.command({
      type: 'rtc-create',
      id,
      options: { initiator, wrtc: this.rtc } as { initiator: boolean },
    });
  }

  command(message: WorkerToPage): void {
    this.host.handle(message);
  }

  listen(listener: (e: RtcEvent) => void): void {
    this.listeners.add(listener);
  }

  /** Resolves once `condition` holds: now, or after some event the page posts. */
  until(condition: () => boolean): Promise<void> {
    if (condition()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (!condition()) return;
        this.listeners.delete(check);
        resolve();
      };
      this.listen(check);
    });
  }

  of(id: number, kind: RtcEvent['event']): RtcEvent[] {
    return this.events.filter((e) => e.id === id && e.event === kind);
  }
}

const pages: Page[] = [];

/** Two pages with connection `id` open between them, signals relayed as the worker and server would. */
async function connectedPair(id: number, rtc: { a: unknown; b: unknown } = { a: wrtc, b: wrtc }) {
  const a = new Page(rtc.a);
  const b = new Page(rtc.b);
  pages.push(a, b);
  const relay = (to: Page) => (e: RtcEvent) => {
    if (e.event === 'signal' && e.id === id) to.command({ type: 'rtc-signal', id, data: e.data });
  };
  a.listen(relay(b));
  b.listen(relay(a));
  a.create(id, true);
  b.create(id, false);
  await Promise.all([a, b].map((p) => p.until(() => p.of(id, 'connect').length > 0)));
  return { a, b };
}

afterAll(() => {
  for (const page of pages)
    for (const id of new Set(page.events.map((e) => e.id))) page.command({ type: 'rtc-destroy', id });
});

describe('the page side of a tab connection', () => {
  it('a relayed signal the connection throws on or cannot take costs that connection, not the page', async () => {
    const { b } = await connectedPair(1, { a: wrtc, b: strictWrtc });
    // Built inside simple-peer's signal() now that there is a remote description: the browser throws.
    const junk: SignalData = { type: 'candidate', candidate: { candidate: 'candidate:garbage' } };
    const badCandidate = junk as SimplePeer.SignalData;
    expect(() => b.command({ type: 'rtc-signal', id: 1, data: badCandidate })).not.toThrow();
    await b.until(() => b.of(1, 'close').length > 0);
    expect(b.of(1, 'error')).toEqual([
      expect.objectContaining({ message: expect.stringContaining('refused a signal: ') }),
    ]);
    // Signals for the connection it closed are dropped.
    expect(() => b.command({ type: 'rtc-signal', id: 1, data: badCandidate })).not.toThrow();
    expect(b.of(1, 'close')).toHaveLength(1);

    // Junk SDP, and an answer to a connection that never offered, fail later: an error, then a close.
    b.create(2, false);
    b.command({ type: 'rtc-signal', id: 2, data: { type: 'offer', sdp: 'this is not SDP' } });
    b.create(3, false);
    b.command({ type: 'rtc-signal', id: 3, data: { type: 'answer', sdp: 'v=0\r\n' } });
    await b.until(() => b.of(2, 'close').length + b.of(3, 'close').length === 2);
    expect([b.of(2, 'error').length, b.of(3, 'error').length]).toEqual([1, 1]);
  });

  it('a backed-up channel is waited for with one drain listener; every frame is acknowledged', async () => {
    const { a, b } = await connectedPair(4);
    // simple-peer's browser build warns of a listener leak on the console, as a page does.
    const warn = vi.spyOn(console, 'warn');
    const frames = 64;
    const frame = 64 * 1024;
    // Far more than simple-peer buffers: writes wait for 'drain', as in a busy gossip round.
    for (let i = 0; i < frames; i++) a.command({ type: 'rtc-write', id: 4, bytes: new Uint8Array(frame) });
    const acknowledged = () => a.of(4, 'written').reduce((n, e) => n + (e as { bytes: number }).bytes, 0);
    await a.until(() => acknowledged() === frames * frame);
    await b.until(() => b.of(4, 'data').length === frames);
    expect(warn.mock.calls.filter((args) => String(args[0]).includes('MaxListenersExceeded'))).toEqual([]);
    warn.mockRestore();
    // The channel did back up: frames written while it drained were acknowledged together.
    expect(a.of(4, 'written').length).toBeLessThan(frames);
  });
});
