/**
 * The first check of every event a socket sends, before anything reads what it means: the rate limit,
 * a known event name and a payload no deeper than the limit. Anything refused is answered with an
 * `error-reply` (and a `{ ok: false, error }` acknowledgement when the client asked for one). Flooding
 * costs the flooder: past a number of rate-limited events in one flood they go unanswered, further on
 * the socket is disconnected.
 */
import { CLIENT_EVENTS, type ClientEventName, EVENTS } from '@demuon/shared/protocol';
import type { Limits } from './limits';
import type { Logger } from './log';
import { nestingDepth } from './payload-depth';
import { Refusal } from './run';
import type { SessionSocket } from './sockets';
import { TokenBucket } from './token-bucket';

/** Refusal messages may quote what arrived (unknown keys): a reply must not grow with the payload. */
const MAX_MESSAGE_CHARS = 500;

export type Ack = (reply: unknown) => void;

export class SocketGate {
  private readonly bucket: TokenBucket;
  /** Events refused for the rate limit since one last got through. */
  private rateLimited = 0;
  private lastRateLimitedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly socket: SessionSocket,
    private readonly limits: Limits,
    private readonly log: Logger,
  ) {
    this.bucket = new TokenBucket(limits.eventsPerSecond, limits.eventBurst, Date.now());
  }

  /**
   * True when the event may go on; otherwise it was answered (or, deep in a flood, dropped) here.
   * `more` adds the caller's own check (e.g. joined) once the event passed these.
   */
  admit(event: string, args: unknown[], more?: () => Refusal | undefined): boolean {
    const refusal = this.check(event, args) ?? more?.();
    if (!refusal) return true;
    if (refusal.code === 'rate-limited') this.rateLimit(refusal, event, ackOf(args));
    else this.refuse(refusal, event, ackOf(args));
    return false;
  }

  refuse(refusal: Refusal, event: string, ack: Ack | undefined): void {
    const { code } = refusal;
    const message =
      refusal.message.length > MAX_MESSAGE_CHARS
        ? `${refusal.message.slice(0, MAX_MESSAGE_CHARS)}…`
        : refusal.message;
    this.socket.emit(EVENTS.error, { code, message, event });
    ack?.({ ok: false, error: { code, message } });
  }

  private check(event: string, args: unknown[]): Refusal | undefined {
    const { eventsPerSecond, eventBurst, maxPayloadDepth } = this.limits;
    if (!this.bucket.take(Date.now())) {
      return new Refusal(
        'rate-limited',
        `over ${eventsPerSecond} events/s (burst ${eventBurst}); event dropped`,
      );
    }
    // A flood is over once the socket kept within its rate for a second: events that slip through
    // between refusals (the bucket refills) do not end it.
    if (Date.now() - this.lastRateLimitedAt > 1000) this.rateLimited = 0;
    if (!CLIENT_EVENTS.includes(event as ClientEventName)) {
      return new Refusal(
        'bad-event',
        `unknown event '${event}'; expected one of ${CLIENT_EVENTS.join(', ')}`,
      );
    }
    // Before any schema walks it (see payload-depth.ts).
    if (args.some((arg) => nestingDepth(arg, maxPayloadDepth) > maxPayloadDepth)) {
      return new Refusal('too-deep', `the payload nests deeper than ${maxPayloadDepth} levels`);
    }
    return undefined;
  }

  /**
   * A rate-limited event is answered while the burst may be honest; past `answeredRateLimits` in one
   * flood (until the socket keeps within its rate for a second) it is dropped unanswered, and past
   * `maxRateLimited` the socket is disconnected.
   */
  private rateLimit(refusal: Refusal, event: string, ack: Ack | undefined): void {
    const { answeredRateLimits, maxRateLimited } = this.limits;
    this.rateLimited++;
    this.lastRateLimitedAt = Date.now();
    if (this.rateLimited <= answeredRateLimits) {
      this.refuse(refusal, event, ack);
      return;
    }
    if (this.rateLimited === answeredRateLimits + 1) {
      this.log.warn(
        `socket ${this.socket.id}: over ${answeredRateLimits} events rate-limited in one flood; no more replies`,
      );
    }
    if (this.rateLimited === maxRateLimited + 1) {
      this.log.warn(
        `socket ${this.socket.id}: over ${maxRateLimited} events rate-limited in one flood; disconnected`,
      );
      // What it was sent still goes out first; should it not read it, the unread budget drops it.
      this.socket.disconnect(true);
    }
  }
}

export function ackOf(args: unknown[]): Ack | undefined {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as Ack) : undefined;
}
