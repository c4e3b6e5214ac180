/**
 * A socket.io client for tests and the load benchmark: queues every event it receives, so a test can
 * await "the next `epoch`" without racing the server, and offers typed join/emit helpers. By default it
 * answers every `epoch-propose` at once with `epoch-ready` and its `barrier` (0 unless set), so a test that
 * only cares about committed epochs awaits `epoch` as before; `{ barrier: false }` leaves answering to the
 * test.
 */
import {
  type Epoch,
  type EpochProposal,
  EpochProposalSchema,
  EpochSchema,
  ErrorReplySchema,
  EVENTS,
  EvictedSchema,
  type JoinAck,
  JoinAckSchema,
} from '@demuon/shared/protocol';
import { io, type Socket } from 'socket.io-client';
import type { z } from 'zod';

type ErrorReply = z.infer<typeof ErrorReplySchema>;
type Waiter = { event: string; resolve: (payload: unknown) => void };

export type JoinOptions = {
  name?: string;
  platform?: 'browser' | 'node';
  backend?: 'webgpu' | 'wasm' | 'cpu';
  /** Come back as this peer (after a server restart), with its secret; the ack then carries the same id. */
  resume?: { peerId: string; secret: string };
};

export type ConnectOptions = {
  /** The barrier of the automatic answer to every proposal (default 0); false: the test answers. */
  barrier?: number | false;
};

export class TestClient {
  peerId = '';
  /** The secret of the last join acknowledgement: what resuming `peerId` takes. */
  secret = '';
  /** The latest epoch received (consumed by the test or not). */
  current: Epoch | undefined;
  /** The latest proposal received. */
  proposal: EpochProposal | undefined;
  /** The barrier of automatic answers; null when the test answers proposals itself. */
  barrier: number | null;
  /** Automatic answers the server refused as stale (their proposal was replaced meanwhile). */
  staleAnswers = 0;
  private readonly queues = new Map<string, unknown[]>();
  private readonly waiters: Waiter[] = [];

  private constructor(
    readonly socket: Socket,
    options: ConnectOptions,
  ) {
    this.barrier = options.barrier === false ? null : (options.barrier ?? 0);
    socket.onAny((event: string, payload: unknown) => {
      if (event === EVENTS.epoch) this.current = EpochSchema.parse(payload);
      if (event === EVENTS.epochPropose) {
        this.proposal = EpochProposalSchema.parse(payload);
        if (this.barrier !== null) this.answer(this.proposal.epoch, this.barrier);
      }
      if (event === EVENTS.error && this.isStaleAutoAnswer(payload)) return;
      const waiter = this.waiters.findIndex((w) => w.event === event);
      if (waiter >= 0) this.waiters.splice(waiter, 1)[0].resolve(payload);
      else this.queue(event).push(payload);
    });
  }

  static async connect(url: string, options: ConnectOptions = {}): Promise<TestClient> {
    const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    return new TestClient(socket, options);
  }

  /** Emits and waits for the acknowledgement. */
  request(event: string, ...args: unknown[]): Promise<unknown> {
    return this.socket.timeout(5000).emitWithAck(event, ...args);
  }

  /** Joins and returns the acknowledgement; the first proposal, then its epoch, follow as events. */
  async join(runId: string, token: string, options: JoinOptions = {}): Promise<JoinAck> {
    const { resume, ...info } = options;
    const reply = await this.request(EVENTS.join, {
      runId,
      token,
      platform: 'node',
      backend: 'cpu',
      ...info,
      ...(resume ? { resume } : {}),
    });
    const ack = JoinAckSchema.parse(reply);
    this.peerId = ack.peerId;
    this.secret = ack.secret;
    return ack;
  }

  /** Answers proposal `epoch`: this peer will not start step `barrier` before the commit. */
  answer(epoch: number, barrier: number): void {
    this.socket.emit(EVENTS.epochReady, { epoch, barrier });
  }

  /** Sends `heartbeat` every `everyMs` until the returned function is called (or the socket closes). */
  heartbeats(everyMs: number, payload: Record<string, unknown> = {}): () => void {
    const timer = setInterval(() => this.socket.emit(EVENTS.heartbeat, payload), everyMs);
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

  /** Skips proposals until the one numbered `number` (or later) arrives. */
  async proposed(number: number, timeoutMs = 5000): Promise<EpochProposal> {
    for (;;) {
      const proposal = EpochProposalSchema.parse(await this.next(EVENTS.epochPropose, timeoutMs));
      if (proposal.epoch >= number) return proposal;
    }
  }

  async error(timeoutMs = 5000): Promise<ErrorReply> {
    return ErrorReplySchema.parse(await this.next(EVENTS.error, timeoutMs));
  }

  /** The reason of the `evicted` event. */
  async evicted(timeoutMs = 5000): Promise<string> {
    return EvictedSchema.parse(await this.next(EVENTS.evicted, timeoutMs)).reason;
  }

  /** Takes every queued event of that name. */
  drain(event: string): unknown[] {
    return this.queue(event).splice(0);
  }

  close(): void {
    this.socket.disconnect();
  }

  /**
   * An automatic answer can cross a newer proposal on the wire; its refusal is expected and would only
   * get in the way of tests that await other errors.
   */
  private isStaleAutoAnswer(payload: unknown): boolean {
    const reply = ErrorReplySchema.safeParse(payload);
    const stale =
      this.barrier !== null &&
      reply.success &&
      reply.data.code === 'stale-epoch' &&
      reply.data.event === EVENTS.epochReady;
    if (stale) this.staleAnswers++;
    return stale;
  }

  private queue(event: string): unknown[] {
    const queue = this.queues.get(event) ?? [];
    this.queues.set(event, queue);
    return queue;
  }
}
