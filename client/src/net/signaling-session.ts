/**
 * One membership of a run, as the peer sees the signaling server: joining (or resuming after an outage),
 * every inbound event parsed here and nowhere else, reports held while the server does not know this
 * socket, and the peer's questions and answers (epoch proposals, neighbour status and reports). Being
 * removed, in any of the ways the server has of saying so, ends the membership through `evicted`.
 */

import type { TimedStatus } from '@demuon/shared/peer';
import {
  CollectRequestSchema,
  type Epoch,
  type EpochProposal,
  EpochProposalSchema,
  EpochSchema,
  ErrorReplySchema,
  EVENTS,
  EvictedSchema,
  JoinAckSchema,
  type MissReason,
  type NeighbourStatusReply,
  NeighbourStatusReplySchema,
  RelayedSignalSchema,
  type RunConfig,
  type SignalData,
} from '@demuon/shared/protocol';
import type { SignalingSocket } from './signaling-socket';

export interface JoinRequest {
  readonly runId: string;
  readonly token: string;
  readonly name?: string;
  readonly platform: 'browser' | 'node';
  readonly backend: 'webgpu' | 'wasm' | 'cpu';
  /** The peer's own checkpoint of the run, when it has one. */
  readonly checkpoint?: { readonly step: number; readonly fingerprint: string };
}

export interface SessionHandlers {
  epoch(epoch: Epoch): void;
  proposal(proposal: EpochProposal): void;
  signal(from: string, data: SignalData): void;
  /** The server no longer counts this peer as a member: stop training now. */
  evicted(reason: string): void;
  /** Someone asks for this peer's parameters: send them to `collector` over a link of their own. */
  collect(collector: string): void;
  log(line: string): void;
}

/** Reports kept while the signaling connection is down, sent once it is back (oldest dropped beyond). */
const MAX_HELD_REPORTS = 1000;
/** How often to try the server again after it closed the connection (a restart). */
const RECONNECT_EVERY_MS = 1000;
/** How long a question to the server may take before it counts as unanswered. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Events of this peer that the server refuses with 'not-joined' only when it dropped the peer. */
const MEMBER_EVENTS = new Set<string>([EVENTS.heartbeat, EVENTS.progress, EVENTS.metrics, EVENTS.epochReady]);

export class SignalingSession {
  private attached = true;
  private ended = false;
  private readonly held: { event: string; payload: unknown }[] = [];
  private readonly listeners: [string, (payload: unknown) => void][] = [];
  private reconnecting: ReturnType<typeof setInterval> | undefined;

  /**
   * Joins the run. Listeners are in place before `join` is sent, so no epoch or signal the server sends
   * right after accepting the peer can be missed.
   */
  static async join(
    socket: SignalingSocket,
    request: JoinRequest,
    handlers: SessionHandlers,
  ): Promise<SignalingSession> {
    const early: [string, unknown][] = [];
    const buffer: [string, (payload: unknown) => void][] = [
      EVENTS.epoch,
      EVENTS.epochPropose,
      EVENTS.signal,
      EVENTS.evicted,
      EVENTS.collectRequest,
    ].map((event) => [event, (payload: unknown) => early.push([event, payload])]);
    for (const [event, listener] of buffer) socket.on(event, listener);
    try {
      const reply = await socket.request(EVENTS.join, joinPayload(request), REQUEST_TIMEOUT_MS);
      const ack = JoinAckSchema.safeParse(reply);
      if (!ack.success) {
        const error = ErrorReplySchema.partial().safeParse((reply as { error?: unknown })?.error);
        throw new Error(
          `the server refused to join run '${request.runId}': ${error.data?.message ?? 'no reason given'}`,
        );
      }
      const { peerId, secret, run } = ack.data;
      const session = new SignalingSession(socket, request, handlers, peerId, secret, run);
      socket.heartbeat(ack.data.heartbeatMs);
      for (const [event, payload] of early) session.dispatch(event, payload);
      return session;
    } finally {
      for (const [event, listener] of buffer) socket.off(event, listener);
    }
  }

  private constructor(
    private readonly socket: SignalingSocket,
    private readonly request: JoinRequest,
    private readonly handlers: SessionHandlers,
    readonly peerId: string,
    /** Proves to the server that a resume of `peerId` is this peer's (ids are public); sent nowhere else. */
    private readonly secret: string,
    readonly run: RunConfig,
  ) {
    for (const event of [
      EVENTS.epoch,
      EVENTS.epochPropose,
      EVENTS.signal,
      EVENTS.evicted,
      EVENTS.error,
      EVENTS.collectRequest,
    ])
      this.listen(event, (payload) => this.dispatch(event, payload));
    // Gossip needs no server, so training goes on through a signaling outage; once the socket is back
    // (e.g. the server restarted), the peer takes its old place and sends the reports it held.
    this.listen('disconnect', (reason) => {
      this.attached = false;
      // Heartbeats belong to a membership: a beat on the new connection before the resume is acknowledged
      // would reach a server that does not know this socket yet.
      socket.heartbeat(null);
      // A server shutting down closes the sockets itself, and socket.io then leaves reconnecting to us;
      // a first try may come before the server is back, so it is tried again until the socket is up.
      if (reason !== 'io server disconnect' || this.ended) return;
      clearInterval(this.reconnecting);
      this.reconnecting = setInterval(() => {
        if (this.ended || socket.connected) clearInterval(this.reconnecting);
        else socket.reconnect();
      }, RECONNECT_EVERY_MS);
    });
    this.listen('connect', () => {
      clearInterval(this.reconnecting);
      void this.resume();
    });
  }

  /** The checkpoint this peer said it holds when it joined. */
  get checkpoint(): JoinRequest['checkpoint'] {
    return this.request.checkpoint;
  }

  /** True while the server counts this peer as a member, as far as the peer knows. */
  get member(): boolean {
    return !this.ended;
  }

  setStatus(status: TimedStatus | undefined): void {
    this.socket.setStatus(status);
  }

  /** Sends a report now, or holds it while the server does not know this socket. */
  report(event: string, payload: unknown): void {
    if (this.ended) return;
    if (this.attached) {
      this.socket.emit(event, payload);
      return;
    }
    if (this.held.length >= MAX_HELD_REPORTS) this.held.shift();
    this.held.push({ event, payload });
  }

  signal(to: string, data: unknown): void {
    if (this.attached && !this.ended) this.socket.emit(EVENTS.signal, { to, data });
  }

  answerProposal(epoch: number, barrier: number): void {
    this.report(EVENTS.epochReady, { epoch, barrier });
  }

  reportMissed(peer: string, epoch: number, step: number, reason: MissReason): void {
    this.report(EVENTS.neighbourMissed, { peer, epoch, step, reason });
  }

  /** What the server knows of neighbour `peer`; undefined when it cannot say now. */
  async neighbourStatus(peer: string): Promise<NeighbourStatusReply | undefined> {
    if (!this.attached || this.ended) return undefined;
    try {
      const answer = await this.socket.request(EVENTS.neighbourStatus, { peer }, REQUEST_TIMEOUT_MS);
      const reply = NeighbourStatusReplySchema.safeParse(answer);
      if (reply.success) return reply.data;
      // The server no longer links the two (an epoch moved on without it): nothing more will come from it.
      const code = (answer as { error?: { code?: unknown } } | null)?.error?.code;
      return code === 'not-neighbour' ? { ok: true, alive: false, lastSeenMs: 0 } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Leaves the run (when `leave`) and stops listening; the socket stays usable for a new session. */
  close(leave: boolean): void {
    if (leave && !this.ended && this.attached) this.socket.emit(EVENTS.leave, {});
    this.ended = true;
    clearInterval(this.reconnecting);
    this.socket.heartbeat(null);
    this.socket.setStatus(undefined);
    for (const [event, listener] of this.listeners.splice(0)) this.socket.off(event, listener);
  }

  private listen(event: string, listener: (payload: unknown) => void): void {
    this.socket.on(event, listener);
    this.listeners.push([event, listener]);
  }

  private dispatch(event: string, payload: unknown): void {
    if (this.ended) return;
    const { handlers } = this;
    const parsed = parse(event, payload);
    if (!parsed) {
      handlers.log(`ignored a malformed '${event}' event from the server`);
      return;
    }
    switch (parsed.event) {
      case 'epoch':
        handlers.epoch(parsed.value);
        break;
      case 'proposal':
        handlers.proposal(parsed.value);
        break;
      case 'signal':
        handlers.signal(parsed.value.from, parsed.value.data);
        break;
      case 'evicted':
        this.evict(parsed.value.reason);
        break;
      case 'collect':
        handlers.collect(parsed.value.collector);
        break;
      case 'error': {
        const { code, message, event: about } = parsed.value;
        // Refused as 'not-joined': the server dropped this peer and the word of it was lost; unless this
        // peer is between connections, when it is a beat that left before the resume, whose answer decides.
        if (code === 'not-joined' && about !== undefined && MEMBER_EVENTS.has(about)) {
          if (this.attached) this.evict('the server no longer counts this peer as a member');
        }
        // Refused as expected, and harmless: an answer to a proposal the server has replaced since (the
        // new one is on its way), a signal to a peer that has just left (its link closes with it).
        else if (
          code !== 'stale-epoch' &&
          !(code === 'unknown-peer' && about === EVENTS.signal) &&
          !(code === 'not-neighbour' && about === EVENTS.neighbourStatus)
        )
          handlers.log(`the server refused '${about ?? 'an event'}': ${message}`);
        break;
      }
    }
  }

  private evict(reason: string): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.heartbeat(null);
    this.handlers.evicted(reason);
  }

  /** Back on a new socket connection: ask for the old place in the run, then send what was held. */
  private async resume(): Promise<void> {
    if (this.attached || this.ended) return;
    const reply = await this.socket
      .request(
        EVENTS.join,
        { ...joinPayload(this.request), resume: { peerId: this.peerId, secret: this.secret } },
        REQUEST_TIMEOUT_MS,
      )
      .catch((error: Error) => ({ ok: false, error: { message: error.message } }));
    if (this.ended) return;
    const ack = JoinAckSchema.safeParse(reply);
    if (!ack.success) {
      const message = (reply as { error?: { message?: string } })?.error?.message ?? 'no reason given';
      return this.evict(`could not take back place ${this.peerId}: ${message}`);
    }
    this.attached = true;
    this.socket.heartbeat(ack.data.heartbeatMs);
    this.handlers.log(`signaling back: resumed as ${this.peerId}, sending ${this.held.length} held reports`);
    for (const { event, payload } of this.held.splice(0)) this.socket.emit(event, payload);
  }
}

function joinPayload(r: JoinRequest) {
  return {
    runId: r.runId,
    token: r.token,
    platform: r.platform,
    backend: r.backend,
    ...(r.name ? { name: r.name } : {}),
    ...(r.checkpoint ? { checkpoint: r.checkpoint } : {}),
  };
}

type Inbound =
  | { event: 'epoch'; value: Epoch }
  | { event: 'proposal'; value: EpochProposal }
  | { event: 'signal'; value: { from: string; data: SignalData } }
  | { event: 'evicted'; value: { reason: string } }
  | { event: 'collect'; value: { collector: string } }
  | { event: 'error'; value: { code: string; message: string; event?: string } };

/** Every inbound event of a member, checked against its schema; undefined when it does not parse. */
function parse(event: string, payload: unknown): Inbound | undefined {
  const as = <E extends Inbound['event'], V>(name: E, result: { success: boolean; data?: V }) =>
    result.success ? ({ event: name, value: result.data } as Inbound) : undefined;
  switch (event) {
    case EVENTS.epoch:
      return as('epoch', EpochSchema.safeParse(payload));
    case EVENTS.epochPropose:
      return as('proposal', EpochProposalSchema.safeParse(payload));
    case EVENTS.signal:
      return as('signal', RelayedSignalSchema.safeParse(payload));
    case EVENTS.evicted:
      return as('evicted', EvictedSchema.safeParse(payload));
    case EVENTS.collectRequest:
      return as('collect', CollectRequestSchema.safeParse(payload));
    case EVENTS.error:
      return as('error', ErrorReplySchema.safeParse(payload));
  }
  return undefined;
}
