/**
 * One socket's conversation with the server. Every incoming event passes the same gate (socket-gate.ts:
 * rate limit, known name, nesting depth; then joined unless it is `join`, `watch` or `collect`), then its
 * zod schema, then the run's checks of what it means; anything refused is answered with an `error-reply`
 * (and a `{ ok: false, error }` acknowledgement when the client asked for one) and changes nothing.
 * Accepted events are acknowledged with `{ ok: true, … }` when a callback was given.
 */

import { configFingerprint } from '@demuon/shared/checkpoint';
import {
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
import type { PeerIceServers } from './ice-servers';
import type { Limits } from './limits';
import type { Logger } from './log';
import type { Member, MemberChannel } from './member';
import { Refusal, type Run } from './run';
import type { RunStateBroadcaster } from './run-state-broadcaster';
import { type Ack, ackOf, SocketGate } from './socket-gate';
import { DETACHED, type SessionSocket } from './sockets';

/** Events a socket may send before it joined: `watch` is the read-only dashboard subscription. */
export const BEFORE_JOIN = new Set<string>([EVENTS.join, EVENTS.watch, EVENTS.collect]);

/** The runs a session can address: those of this server (scaled out: those this process owns). */
export interface RunLookup {
  get(id: string): Run | undefined;
}

export type SessionContext = {
  registry: RunLookup;
  broadcaster: RunStateBroadcaster;
  limits: Limits;
  log: Logger;
  /** How often a member should send `heartbeat` (told in the join acknowledgement). */
  heartbeatMs: number;
  /**
   * The server-wide ICE servers and TURN credentials each member and collector gets in its acknowledgement,
   * with the run config; without them, the run config's own ICE servers only.
   */
  iceServers?: PeerIceServers;
  /** True while the server shuts down: departures then start no epochs. */
  closing: () => boolean;
};

/** The handler acknowledged the event itself (join acks before the epochs go out). */
const ACKED = Symbol('acked');
type Outcome = Refusal | Record<string, unknown> | typeof ACKED | undefined;

export class PeerSession {
  private joined: { run: Run; member: Member } | null = null;
  /** This socket collects a run's parameters (an export); it may then signal the members it asked. */
  private collecting: { run: Run; collector: string } | null = null;
  private readonly gate: SocketGate;
  private readonly watched = new Set<string>();

  constructor(
    private readonly socket: SessionSocket,
    private readonly ctx: SessionContext,
  ) {
    this.gate = new SocketGate(socket, ctx.limits, ctx.log);
    socket.use(([event, ...args], next) => {
      const name = String(event).slice(0, 64);
      if (this.gate.admit(name, args, () => this.joinedCheck(name))) next();
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
    socket.on('disconnect', (reason: string) => {
      if (this.collecting) this.collecting.run.collectors.close(this.collecting.collector);
      if (reason === DETACHED) this.detach();
      else if (!ctx.closing()) this.leave();
    });
  }

  private joinedCheck(event: string): Refusal | undefined {
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
      if (outcome instanceof Refusal) this.gate.refuse(outcome, event, ack);
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
      const config = this.ctx.iceServers?.runFor(run.config, member.id) ?? run.config;
      ack?.({ ok: true, peerId: member.id, secret: member.revealSecret(), run: config, heartbeatMs });
    };
    const info = { name, platform, backend, server: this.socket.serverProcess };
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
    const config = this.ctx.iceServers?.runFor(run.config, result.collector) ?? run.config;
    return { ok: true, collector: result.collector, run: config, peers: result.peers };
  }

  private leave(): Outcome {
    const joined = this.joined;
    this.joined = null;
    joined?.run.leave(joined.member.id, Date.now());
    return undefined;
  }

  /** The socket's server process went away: the member keeps its place for its peer to resume elsewhere. */
  private detach(): void {
    const joined = this.joined;
    this.joined = null;
    joined?.run.detach(joined.member);
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
    member.heard(Date.now());
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
}

function parsePayload<T>(schema: z.ZodType<T> | undefined, event: string, payload: unknown): T | Refusal {
  if (!schema) return undefined as T;
  try {
    return parseEvent(schema, event, payload);
  } catch (error) {
    return new Refusal('bad-event', (error as Error).message);
  }
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
