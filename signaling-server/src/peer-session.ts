/**
 * One socket's conversation with the server. Every incoming event passes the same gate (rate limit, known
 * name, nesting depth, joined unless it is `join` or `watch`), then its zod schema, then the run's checks
 * of what it means; anything refused is answered with an `error-reply` (and a `{ ok: false, error }`
 * acknowledgement when the client asked for one) and changes nothing. Accepted events are acknowledged
 * with `{ ok: true, … }` when a callback was given. Flooding costs the flooder: past a number of
 * rate-limited events in one flood they go unanswered, further on the socket is disconnected, and so is a
 * socket that does not read what it is sent (see unread-budget.ts).
 */

import { configFingerprint } from '@demuon/shared/checkpoint';
import {
  CLIENT_EVENTS,
  type ClientEventName,
  CollectSchema,
  EpochReadySchema,
  EVENTS,
  HeartbeatSchema,
  JoinSchema,
  MetricsSchema,
  NeighbourMissedSchema,
  NeighbourStatusQuerySchema,
  ProgressSchema,
  parseEvent,
  type RunConfig,
  type SignalData,
  SignalSchema,
  WatchSchema,
} from '@demuon/shared/protocol';
import type { z } from 'zod';
import type { Limits } from './limits';
import type { Logger } from './log';
import type { Member, MemberChannel } from './member';
import { nestingDepth } from './payload-depth';
import { Refusal, type Run } from './run';
import type { RunRegistry } from './run-registry';
import type { RunStateBroadcaster } from './run-state-broadcaster';
import type { PeerSocket } from './sockets';
import { TokenBucket } from './token-bucket';
import { enforceUnreadBudget } from './unread-budget';

/** Events a socket may send before it joined: `watch` is the read-only dashboard subscription. */
const BEFORE_JOIN = new Set<string>([EVENTS.join, EVENTS.watch, EVENTS.collect]);
/** Refusal messages may quote what arrived (unknown keys): a reply must not grow with the payload. */
const MAX_MESSAGE_CHARS = 500;

export type SessionContext = {
  registry: RunRegistry;
  broadcaster: RunStateBroadcaster;
  limits: Limits;
  log: Logger;
  /** How often a member should send `heartbeat` (told in the join acknowledgement). */
  heartbeatMs: number;
  /** True while the server shuts down: departures then start no epochs. */
  closing: () => boolean;
};

type Ack = (reply: unknown) => void;
/** The handler acknowledged the event itself (join acks before the epochs go out). */
const ACKED = Symbol('acked');
type Outcome = Refusal | Record<string, unknown> | typeof ACKED | undefined;

export class PeerSession {
  private joined: { run: Run; member: Member } | null = null;
  /** This socket collects a run's parameters (an export); it may then signal the members it asked. */
  private collecting: { run: Run; collector: string } | null = null;
  private readonly bucket: TokenBucket;
  private readonly watched = new Set<string>();
  /** Events refused for the rate limit since one last got through. */
  private rateLimited = 0;
  private lastRateLimitedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly socket: PeerSocket,
    private readonly ctx: SessionContext,
  ) {
    this.bucket = new TokenBucket(ctx.limits.eventsPerSecond, ctx.limits.eventBurst, Date.now());
    enforceUnreadBudget(socket, ctx.limits.maxUnreadBytes, ctx.log);
    socket.use(([event, ...args], next) => {
      const name = String(event).slice(0, 64);
      const refusal = this.gate(name, args);
      if (!refusal) next();
      else if (refusal.code !== 'rate-limited') this.refuse(refusal, name, ackOf(args));
      else this.rateLimit(refusal, name, ackOf(args));
    });
    this.on(EVENTS.join, JoinSchema, (join, ack) => this.join(join, ack), missingSecrets);
    this.on(EVENTS.signal, SignalSchema, ({ to, data }) => this.signal(to, data));
    // A bare `heartbeat` (no payload) is as good as `{}`: there is nothing in it to get wrong.
    this.on(EVENTS.heartbeat, HeartbeatSchema.optional(), (beat) =>
      this.withMember((run, m) => run.heartbeat(m, beat?.status, Date.now())),
    );
    this.on(EVENTS.progress, ProgressSchema, ({ step }) =>
      this.withMember((run, m) => run.progress(m, step, Date.now())),
    );
    this.on(EVENTS.metrics, MetricsSchema, (metrics) =>
      this.withMember((run, m) => run.recordMetrics(m, metrics, Date.now())),
    );
    this.on(EVENTS.leave, undefined, () => this.leave());
    this.on(EVENTS.watch, WatchSchema, ({ runId }) => this.watch(runId));
    this.on(EVENTS.collect, CollectSchema, ({ runId, peer }) => this.collect(runId, peer));
    this.on(EVENTS.epochReady, EpochReadySchema, ({ epoch, barrier }) =>
      this.withMember((run, m) => run.epochReady(m, epoch, barrier, Date.now())),
    );
    this.on(EVENTS.neighbourMissed, NeighbourMissedSchema, (report) =>
      this.withMember((run, m) => run.neighbourMissed(m, report, Date.now())),
    );
    this.on(EVENTS.neighbourStatus, NeighbourStatusQuerySchema, ({ peer }) =>
      this.withMember((run, m) => run.neighbourStatus(m, peer, Date.now())),
    );
    socket.on('disconnect', () => {
      if (this.collecting) this.collecting.run.collectors.close(this.collecting.collector);
      if (!ctx.closing()) this.leave();
    });
  }

  private gate(event: string, args: unknown[]): Refusal | undefined {
    const { eventsPerSecond, eventBurst, maxPayloadDepth } = this.ctx.limits;
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
    const collectorSignal = event === EVENTS.signal && this.collecting !== null;
    if (!this.joined && !BEFORE_JOIN.has(event) && !collectorSignal) {
      return new Refusal('not-joined', `send '${EVENTS.join}' before '${event}'`);
    }
    return undefined;
  }

  /** Registers a handler that gets the parsed payload; `precheck` may refuse before parsing. */
  private on<T>(
    event: ClientEventName,
    schema: z.ZodType<T> | undefined,
    handle: (payload: T, ack: Ack | undefined) => Outcome,
    precheck?: (payload: unknown) => Refusal | undefined,
  ): void {
    this.socket.on(event, (...args: unknown[]) => {
      const ack = ackOf(args);
      const payload = ack ? args.slice(0, -1)[0] : args[0];
      const outcome = this.guarded(event, () => {
        const refusal = precheck?.(payload);
        if (refusal) return refusal;
        const parsed = parsePayload(schema, event, payload);
        return parsed instanceof Refusal ? parsed : handle(parsed, ack);
      });
      if (outcome instanceof Refusal) this.refuse(outcome, event, ack);
      else if (ack && outcome !== ACKED) ack({ ok: true, ...outcome });
    });
  }

  /** A failure of the server itself is logged and answered as 'internal'. */
  private guarded(event: string, act: () => Outcome): Outcome {
    try {
      return act();
    } catch (error) {
      this.ctx.log.warn(
        `'${event}' from socket ${this.socket.id} failed: ${(error as Error).stack ?? error}`,
      );
      return new Refusal('internal', `the server failed to handle '${event}'`);
    }
  }

  /**
   * A rate-limited event is answered while the burst may be honest; past `answeredRateLimits` in one
   * flood (until the socket keeps within its rate for a second) it is dropped unanswered, and past
   * `maxRateLimited` the socket is disconnected.
   */
  private rateLimit(refusal: Refusal, event: string, ack: Ack | undefined): void {
    const { answeredRateLimits, maxRateLimited } = this.ctx.limits;
    this.rateLimited++;
    this.lastRateLimitedAt = Date.now();
    if (this.rateLimited <= answeredRateLimits) {
      this.refuse(refusal, event, ack);
      return;
    }
    if (this.rateLimited === answeredRateLimits + 1) {
      this.ctx.log.warn(
        `socket ${this.socket.id}: over ${answeredRateLimits} events rate-limited in one flood; no more replies`,
      );
    }
    if (this.rateLimited === maxRateLimited + 1) {
      this.ctx.log.warn(
        `socket ${this.socket.id}: over ${maxRateLimited} events rate-limited in one flood; disconnected`,
      );
      // What it was sent still goes out first; should it not read it, the unread budget drops it.
      this.socket.disconnect(true);
    }
  }

  private join(join: z.infer<typeof JoinSchema>, ack: Ack | undefined): Outcome {
    if (this.joined) {
      return new Refusal(
        'already-joined',
        `this socket is peer ${this.joined.member.id}; send 'leave' first`,
      );
    }
    const run = this.ctx.registry.get(join.runId);
    if (!run) return new Refusal('unknown-run', `no run "${join.runId}" on this server`);
    if (!run.checkToken(join.token)) {
      return new Refusal('bad-token', `wrong token for run "${join.runId}": use the token of its join URL`);
    }
    const { name, platform, backend } = join;
    const admitted = (member: Member) => {
      this.joined = { run, member };
      const { heartbeatMs } = this.ctx;
      ack?.({ ok: true, peerId: member.id, secret: member.revealSecret(), run: run.config, heartbeatMs });
    };
    const info = { name, platform, backend };
    const { resume } = join;
    const result = resume
      ? run.resume(resume.peerId, resume.secret, info, this.channel(), Date.now(), admitted)
      : run.join(info, this.channel(), Date.now(), admitted, usableCheckpoint(join.checkpoint, run.config));
    return result instanceof Refusal ? result : ACKED;
  }

  private signal(to: string, data: SignalData): Outcome {
    const bytes = Buffer.byteLength(JSON.stringify(data));
    if (bytes > this.ctx.limits.maxSignalBytes) {
      return new Refusal(
        'too-large',
        `signal data is ${bytes} bytes, at most ${this.ctx.limits.maxSignalBytes}`,
      );
    }
    if (!this.joined && this.collecting) {
      const { run, collector } = this.collecting;
      const check = run.relayFromCollector(collector, to, data);
      return check === 'ok'
        ? undefined
        : new Refusal(check, `peer ${to} is not a member this collector asked`);
    }
    return this.withMember((run, member) => {
      const check = run.relay(member, to, data, Date.now());
      if (check === 'unknown-peer') {
        return new Refusal('unknown-peer', `peer ${to} is not in run "${run.id}"`);
      }
      if (check === 'not-neighbour') {
        return new Refusal(
          'not-neighbour',
          `peer ${to} is not a neighbour of ${member.id} in the current or the pending epoch`,
        );
      }
      if (check === 'peer-away') {
        return new Refusal(
          'peer-away',
          `peer ${to} has not reconnected since the server restarted; retry later (it is evicted, with a ` +
            'new epoch, if it does not come back within the heartbeat timeout)',
        );
      }
      return undefined;
    });
  }

  private collect(runId: string, peer: string | undefined): Outcome {
    const run = this.ctx.registry.get(runId);
    if (!run) return new Refusal('unknown-run', `no run "${runId}" on this server`);
    if (this.collecting) this.collecting.run.collectors.close(this.collecting.collector);
    this.collecting = null;
    const result = run.collect(peer, (from, data) => this.socket.emit(EVENTS.signal, { from, data }));
    if (result instanceof Refusal) return result;
    this.collecting = { run, collector: result.collector };
    return { ok: true, collector: result.collector, run: run.config, peers: result.peers };
  }

  private leave(): Outcome {
    const joined = this.joined;
    this.joined = null;
    joined?.run.leave(joined.member.id, Date.now());
    return undefined;
  }

  private watch(runId: string): Outcome {
    const run = this.ctx.registry.get(runId);
    if (!run) return new Refusal('unknown-run', `no run "${runId}" on this server`);
    if (!this.watched.has(runId) && this.watched.size >= this.ctx.limits.maxWatchedRuns) {
      return new Refusal(
        'too-many-watches',
        `a socket watches at most ${this.ctx.limits.maxWatchedRuns} runs`,
      );
    }
    this.watched.add(runId);
    this.ctx.broadcaster.watch(this.socket, run);
    return undefined;
  }

  /**
   * Runs `act` for the joined member; a Refusal it returns is passed on, an object is the acknowledgement
   * (`ok: true` is added), anything else means done. Any event a member sends shows it is alive.
   */
  private withMember(act: (run: Run, member: Member) => unknown): Outcome {
    // The gate let the event through only when joined; an eviction can still come in between.
    if (!this.joined) return new Refusal('not-joined', 'this socket is not a member of a run');
    const { run, member } = this.joined;
    member.lastSeenAt = Date.now();
    const result = act(run, member);
    if (result instanceof Refusal) return result;
    return typeof result === 'object' && result !== null ? (result as Record<string, unknown>) : undefined;
  }

  private channel(): MemberChannel {
    return {
      propose: (payload) => this.socket.emit(EVENTS.epochPropose, payload),
      epoch: (payload) => this.socket.emit(EVENTS.epoch, payload),
      signal: (from, data) => this.socket.emit(EVENTS.signal, { from, data }),
      evicted: (reason) => {
        this.joined = null;
        this.socket.emit(EVENTS.evicted, { reason: `${reason}; join again to continue` });
      },
      collect: (collector) => this.socket.emit(EVENTS.collectRequest, { collector }),
    };
  }

  private refuse(refusal: Refusal, event: string, ack: Ack | undefined): void {
    const { code } = refusal;
    const message =
      refusal.message.length > MAX_MESSAGE_CHARS
        ? `${refusal.message.slice(0, MAX_MESSAGE_CHARS)}…`
        : refusal.message;
    this.socket.emit(EVENTS.error, { code, message, event });
    ack?.({ ok: false, error: { code, message } });
  }
}

function parsePayload<T>(schema: z.ZodType<T> | undefined, event: string, payload: unknown): T | Refusal {
  if (!schema) return undefined as T;
  try {
    return parseEvent(schema, event, payload);
  } catch (error) {
    return new Refusal('bad-event', (error as Error).message);
  }
}

function ackOf(args: unknown[]): Ack | undefined {
  const last = args[args.length - 1];
  return typeof last === 'function' ? (last as Ack) : undefined;
}

/**
 * A join without a token is refused as 'bad-token', a resume without a secret as 'bad-secret' (not as a
 * generic 'bad-event'): they are the usual mistakes.
 */
function missingSecrets(payload: unknown): Refusal | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { token, resume } = payload as { token?: unknown; resume?: unknown };
  if (typeof token !== 'string' || token === '') {
    return new Refusal('bad-token', "join needs the run's token: the token=… part of the join URL");
  }
  const secret = (resume as { secret?: unknown } | null | undefined)?.secret;
  if (typeof resume === 'object' && resume !== null && (typeof secret !== 'string' || secret === '')) {
    return new Refusal('bad-secret', "resume needs the peer's secret: the one its join acknowledgement gave");
  }
  return undefined;
}

/** The step of a joiner's checkpoint when it was saved under the run's current config and has steps left. */
function usableCheckpoint(claim: z.infer<typeof JoinSchema>['checkpoint'], run: RunConfig): number | null {
  return claim && claim.fingerprint === configFingerprint(run) && claim.step < run.steps ? claim.step : null;
}
