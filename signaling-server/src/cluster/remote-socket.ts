/**
 * The owner's stand-in for a socket held by another process (or by itself, through the same bus): a
 * PeerSession runs over it exactly as over a socket.io socket. Events arrive as bus messages and pass
 * the middlewares and listeners the session registered; what the session emits goes back through
 * `send`, to be delivered to the real socket in order.
 */

import type { SessionSocket } from '../sockets';
import type { BusMessage } from './process-bus';

type Middleware = (packet: unknown[], next: (error?: Error) => void) => void;
type Listener = (...args: unknown[]) => void;

export class RemoteSocket implements SessionSocket {
  private readonly middlewares: Middleware[] = [];
  private readonly listeners = new Map<string, Listener[]>();

  constructor(
    /** The real socket's id. */
    readonly id: string,
    /** The process that holds the real socket. */
    readonly gateway: string,
    private readonly send: (message: BusMessage) => void,
  ) {}

  get serverProcess(): string {
    return this.gateway.split('#')[0];
  }

  use(middleware: Middleware): this {
    this.middlewares.push(middleware);
    return this;
  }

  on(event: string, listener: Listener): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }

  emit(event: string, ...args: unknown[]): true {
    this.send({ kind: 'emit', socket: this.id, event, args });
    return true;
  }

  join(room: string): void {
    this.send({ kind: 'join-room', socket: this.id, room });
  }

  disconnect(): this {
    this.send({ kind: 'disconnect', socket: this.id });
    return this;
  }

  /** An event from the real socket: through the middlewares, then to the listeners. */
  deliver(event: string, args: unknown[], ack: number | null): void {
    const packet: unknown[] = [event, ...args];
    if (ack !== null) {
      let answered = false;
      packet.push((reply: unknown) => {
        if (answered) return;
        answered = true;
        this.send({ kind: 'ack', socket: this.id, ack, reply });
      });
    }
    const pass = (i: number) => {
      if (i === this.middlewares.length) this.fire(event, ...packet.slice(1));
      else this.middlewares[i](packet, (error) => error === undefined && pass(i + 1));
    };
    pass(0);
  }

  fire(event: string, ...args: unknown[]): void {
    for (const listener of this.listeners.get(event) ?? []) listener(...args);
  }
}
