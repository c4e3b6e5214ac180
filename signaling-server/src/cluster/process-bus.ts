/**
 * Messages between the server processes of a deployment, over Redis pub/sub: each process listens on its
 * own channel. A gateway (the process holding a peer's socket) sends the socket's events to the process
 * that owns the run, and the owner sends back what the session says to the socket. Messages from one
 * process to another arrive in the order they were sent (one connection each way), which is what keeps
 * a join's acknowledgement ahead of the epoch proposal that names the joiner.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { processChannel } from './redis-state';

/** A socket's event, for the run's owner. `ack` numbers the acknowledgement the client asked for. */
export type EventMessage = {
  kind: 'event';
  from: string;
  socket: string;
  run: string;
  event: string;
  args: unknown[];
  ack: number | null;
};

export type BusMessage =
  | EventMessage
  /** The socket is gone; `detached` when its process is going away (its peer resumes elsewhere). */
  | { kind: 'gone'; from: string; socket: string; run: string; detached: boolean }
  | { kind: 'emit'; socket: string; event: string; args: unknown[] }
  | { kind: 'ack'; socket: string; ack: number; reply: unknown }
  | { kind: 'join-room'; socket: string; room: string }
  | { kind: 'disconnect'; socket: string }
  /** The receiver does not own the run (any more): send the event to the current owner. */
  | { kind: 'not-owner'; message: EventMessage }
  /** The owner has no session for this socket (it took the run over): the peer must resume. */
  | { kind: 'resync'; message: EventMessage };

export class ProcessBus {
  private constructor(
    readonly name: string,
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
  ) {}

  /** Listens on `name`'s channel; every message that parses goes to `deliver`. */
  static async open(
    name: string,
    publisher: Redis,
    deliver: (message: BusMessage) => void,
    log: Logger,
  ): Promise<ProcessBus> {
    const subscriber = publisher.duplicate();
    subscriber.on('error', () => {});
    subscriber.on('message', (_channel: string, text: string) => {
      let message: BusMessage;
      try {
        message = JSON.parse(text) as BusMessage;
      } catch (error) {
        log.warn(`process bus: a message that is not JSON was dropped: ${(error as Error).message}`);
        return;
      }
      try {
        deliver(message);
      } catch (error) {
        log.warn(`process bus: handling a '${message?.kind}' message failed: ${(error as Error).stack}`);
      }
    });
    await subscriber.subscribe(processChannel(name));
    return new ProcessBus(name, publisher, subscriber);
  }

  /** How many processes got it: 0 when `to` is gone. */
  async send(to: string, message: BusMessage): Promise<number> {
    return this.publisher.publish(processChannel(to), JSON.stringify(message));
  }

  async close(): Promise<void> {
    await this.subscriber.quit().catch(() => {});
  }
}
