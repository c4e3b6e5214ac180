/**
 * The worker's stand-in for the signaling socket, which lives on the page (socket-host.ts): the page's
 * event loop is never blocked by a training step, so its heartbeats go out on time however long a step
 * computes here. Events the page's socket receives come in as `socket-event`; what the worker sends goes
 * out as `socket` commands.
 */
import type { TimedStatus } from '@demuon/shared/peer';
import type { SignalingSocket } from '../net/signaling-socket';
import type { PageToWorker, WorkerToPage } from './messages';

type Listener = (payload: unknown) => void;
type SocketReply = Extract<PageToWorker, { type: 'socket-reply' }>;

export class RemoteSignaling implements SignalingSocket {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly pending = new Map<number, { resolve(reply: unknown): void; reject(e: Error): void }>();
  private nextRequest = 0;
  connected = false;

  constructor(private readonly post: (message: WorkerToPage) => void) {}

  /** Takes a `socket-*` message from the page; false when the message is not one. */
  receive(message: PageToWorker): boolean {
    if (message.type === 'socket-event') {
      if (message.event === 'connect') this.connected = true;
      if (message.event === 'disconnect') this.connected = false;
      for (const listener of [...(this.listeners.get(message.event) ?? [])]) listener(message.payload);
      return true;
    }
    if (message.type === 'socket-reply') {
      this.settle(message);
      return true;
    }
    return false;
  }

  on(event: string, listener: Listener): void {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    set.add(listener);
  }

  off(event: string, listener: Listener): void {
    this.listeners.get(event)?.delete(listener);
  }

  emit(event: string, payload: unknown): void {
    this.post({ type: 'socket', op: 'emit', event, payload });
  }

  request(event: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    const id = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.post({ type: 'socket', op: 'request', id, event, payload, timeoutMs });
    });
  }

  reconnect(): void {
    this.post({ type: 'socket', op: 'reconnect' });
  }

  heartbeat(intervalMs: number | null): void {
    this.post({ type: 'socket', op: 'heartbeat', intervalMs });
  }

  setStatus(status: TimedStatus | undefined): void {
    this.post({ type: 'socket', op: 'status', status });
  }

  private settle(message: SocketReply): void {
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.error !== undefined) waiter.reject(new Error(message.error));
    else waiter.resolve(message.reply);
  }
}
