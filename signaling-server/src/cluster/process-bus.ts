/**
 * Messages between the server processes of a deployment, over Redis pub/sub: each process listens on its
 * own channel. A gateway (the process holding a peer's socket) sends the socket's events to the process
 * that owns the run, and the owner sends back what the session says to the socket. Messages from one
 * process to another arrive in the order they were sent (one connection each way), which is what keeps
 * a join's acknowledgement ahead of the epoch proposal that names the joiner.
 */
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { type BusMessage, BusMessageSchema } from './bus-messages';
import { processChannel } from './redis-state';

export type { BusMessage, EventMessage } from './bus-messages';

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
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (error) {
        log.warn(`process bus: a message that is not JSON was dropped: ${(error as Error).message}`);
        return;
      }
      const parsed = BusMessageSchema.safeParse(json);
      if (!parsed.success) {
        log.warn(`process bus: a malformed message was dropped: ${parsed.error.issues[0]?.message}`);
        return;
      }
      const message = parsed.data;
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
