/**
 * A socket.io client for tests and the load benchmark: queues every event it receives, so a test can
 * await "the next `epoch`" without racing the server, and offers typed join/emit helpers.
 */
import { type Epoch, EpochSchema, ErrorReplySchema, EVENTS } from '@demuon/shared/protocol';
import { io, type Socket } from 'socket.io-client';
import type { z } from 'zod';
import { JoinAckSchema } from '../src/wire-schemas';

type ErrorReply = z.infer<typeof ErrorReplySchema>;
type Waiter = { event: string; resolve: (payload: unknown) => void };

export type JoinOptions = {
  name?: string;
  platform?: 'browser' | 'node';
  backend?: 'webgpu' | 'wasm' | 'cpu';
  /** Come back as this peer (after a server restart); the ack then carries the same id. */
  resume?: string;
};

export class TestClient {
  peerId = '';
  /** The latest epoch received (consumed by the test or not). */
  current: Epoch | undefined;
  private readonly queues = new Map<string, unknown[]>();
  private readonly waiters: Waiter[] = [];

  private constructor(readonly socket: Socket) {
    socket.onAny((event: string, payload: unknown) => {
      if (event === EVENTS.epoch) this.current = EpochSchema.parse(payload);
      const waiter = this.waiters.findIndex((w) => w.event === event);
      if (waiter >= 0) this.waiters.splice(waiter, 1)[0].resolve(payload);
      else this.queue(event).push(payload);
    });
  }

  static async connect(url: string): Promise<TestClient> {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return new TestClient(socket);
  }

  /** Emits and waits for the acknowledgement. */
  request(event: string, ...args: unknown[]): Promise<unknown> {
    return this.socket.timeout(5000).emitWithAck(event, ...args);
  }

  /** Joins and returns the acknowledgement; the first epoch follows as an `epoch` event. */
  async join(
    runId: string,
    token: string,
    options: JoinOptions = {},
  ): Promise<z.infer<typeof JoinAckSchema>> {
    const { resume, ...info } = options;
    const reply = await this.request(EVENTS.join, {
      runId,
      token,
      platform: 'node',
      backend: 'cpu',
      ...info,
      ...(resume ? { resume: { peerId: resume } } : {}),
    });
    const ack = JoinAckSchema.parse(reply);
    this.peerId = ack.peerId;
    return ack;
  }

  /** Sends `heartbeat` every `everyMs` until the returned function is called (or the socket closes). */
  heartbeats(everyMs: number): () => void {
    const timer = setInterval(() => this.socket.emit(EVENTS.heartbeat, {}), everyMs);
    this.socket.once('disconnect', () => clearInterval(timer));
    return () => clearInterval(timer);
  }

  /** The next received event of that name (queued ones first). */
  next(event: string, timeoutMs = 5000): Promise<unknown> {
    const queued = this.queue(event);
    if (queued.length > 0) return Promise.resolve(queued.shift());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        event,
        resolve: (payload) => {
          clearTimeout(timer);
          resolve(payload);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no '${event}' within ${timeoutMs} ms (peer ${this.peerId || 'not joined'})`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Skips epochs until the one numbered `number` (or later) arrives. */
  async epoch(number: number, timeoutMs = 5000): Promise<Epoch> {
    for (;;) {
      const epoch = EpochSchema.parse(await this.next(EVENTS.epoch, timeoutMs));
      if (epoch.epoch >= number) return epoch;
    }
  }

  async error(timeoutMs = 5000): Promise<ErrorReply> {
    return ErrorReplySchema.parse(await this.next(EVENTS.error, timeoutMs));
  }

  /** Takes every queued event of that name. */
  drain(event: string): unknown[] {
    return this.queue(event).splice(0);
  }

  close(): void {
    this.socket.disconnect();
  }

  private queue(event: string): unknown[] {
    const queue = this.queues.get(event) ?? [];
    this.queues.set(event, queue);
    return queue;
  }
}
