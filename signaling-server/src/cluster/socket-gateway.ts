/**
 * The sockets this process holds in a scaled-out deployment. Every event passes the socket gate here
 * (rate limit, known name, depth: nothing deep or flooding crosses Redis), then goes to the process that
 * owns the run it is about: `join`, `watch` and `collect` name it, later events go to the run the socket
 * joined (a collector's signals to the run it collects). Whatever the owner's session says comes back on
 * the bus and is handed to the socket here. A run nobody holds is taken by this process; one whose owner
 * is gone is taken from it.
 */
import { EVENTS, IdSchema } from '@demuon/shared/protocol';
import type { Limits } from '../limits';
import type { Logger } from '../log';
import { BEFORE_JOIN } from '../peer-session';
import { Refusal } from '../run';
import { type Ack, ackOf, SocketGate } from '../socket-gate';
import type { PeerSocket, SessionSocket } from '../sockets';
import type { OwnedRuns } from './owned-runs';
import type { BusMessage, EventMessage, ProcessBus } from './process-bus';
import type { SharedState } from './redis-state';

/** How long the owner of a run is taken as known: a frozen owner's lease runs out, and this notices. */
const OWNER_CACHE_MS = 1000;
/** A message is sent on at most this many times while owners change under it. */
const MAX_ATTEMPTS = 4;
/** Acknowledgements awaited per socket; past this the oldest is forgotten (its owner may be gone). */
const MAX_PENDING_ACKS = 256;

type HeldSocket = {
  socket: PeerSocket;
  gate: SocketGate;
  /**
   * The run the socket is a member of (its join was acknowledged, and it has not left nor been evicted),
   * with its peer id; the run of its last join while none; the run of its last `collect`.
   */
  member?: { run: string; peer: string };
  joining?: string;
  collectRun?: string;
  /** Every run the socket addressed: their owners hear when it is gone. */
  runs: Set<string>;
  acks: Map<number, Ack>;
  /** Events are sent on one after another, in the order they came. */
  queue: Promise<void>;
};

export class SocketGateway {
  private readonly held = new Map<string, HeldSocket>();
  private readonly owners = new Map<string, { name: string; at: number }>();
  private nextAck = 1;
  private readonly goneSent = new Set<Promise<void>>();
  private bus: ProcessBus | undefined;
  /** True while this process drains: its sockets' members stay, for their peers to resume elsewhere. */
  closing = false;

  constructor(
    private readonly me: string,
    private readonly state: SharedState,
    private readonly owned: OwnedRuns,
    private readonly limits: Limits,
    private readonly log: Logger,
  ) {}

  connect(bus: ProcessBus): void {
    this.bus = bus;
  }

  /** Resolves once the owners were told of every socket gone so far. */
  async flushed(): Promise<void> {
    await Promise.all(this.goneSent);
  }

  attach(socket: PeerSocket): void {
    const held: HeldSocket = {
      socket,
      gate: new SocketGate(socket, this.limits, this.log),
      runs: new Set(),
      acks: new Map(),
      queue: Promise.resolve(),
    };
    this.held.set(socket.id, held);
    // Events are handled here and never reach socket.io's own listeners.
    socket.use(([event, ...args]) => {
      const name = String(event).slice(0, 64);
      if (!held.gate.admit(name, args)) return;
      held.queue = held.queue
        .then(() => this.forward(held, name, args))
        .catch((error: Error) => {
          this.log.warn(`'${name}' from socket ${socket.id} could not reach its run: ${error.message}`);
          held.gate.refuse(
            new Refusal('internal', `the server failed to handle '${name}'`),
            name,
            ackOf(args),
          );
        });
    });
    socket.on('disconnect', () => {
      this.held.delete(socket.id);
      // After the events still on their way: a join must not reach its owner after the socket's end.
      const sent = held.queue.then(() =>
        Promise.all(
          [...held.runs].map((run) => {
            const gone = {
              kind: 'gone',
              from: this.me,
              socket: socket.id,
              run,
              detached: this.closing,
            } as const;
            return this.toOwner(run, gone).catch(() => {});
          }),
        ).then(() => {}),
      );
      this.goneSent.add(sent);
      void sent.finally(() => this.goneSent.delete(sent));
    });
  }

  /** A message for this process as a gateway (the owner's side goes to OwnedRuns). */
  deliver(message: BusMessage): void {
    switch (message.kind) {
      case 'emit': {
        const held = this.held.get(message.socket);
        if (held && message.event === EVENTS.evicted) held.member = undefined;
        (held?.socket as SessionSocket | undefined)?.emit(message.event, ...message.args);
        return;
      }
      case 'ack': {
        const held = this.held.get(message.socket);
        held?.acks.get(message.ack)?.(message.reply);
        held?.acks.delete(message.ack);
        return;
      }
      case 'join-room':
        void this.held.get(message.socket)?.socket.join(message.room);
        return;
      case 'disconnect':
        this.held.get(message.socket)?.socket.disconnect(true);
        return;
      case 'not-owner':
        this.owners.delete(message.message.run);
        void this.resend(message.message);
        return;
      case 'resync':
        this.resync(message.message);
        return;
      default:
        this.owned.handle(message).catch((error: Error) => {
          this.log.warn(`'${message.kind}' for run "${message.run}" failed: ${error.stack ?? error}`);
        });
    }
  }

  private async forward(held: HeldSocket, event: string, args: unknown[]): Promise<void> {
    const ack = ackOf(args);
    const data = ack ? args.slice(0, -1) : args;
    const run = await this.runOf(held, event, data[0]);
    if (run instanceof Refusal) return held.gate.refuse(run, event, ack);
    held.runs.add(run);
    if (event === EVENTS.leave) held.member = undefined;
    let ackId: number | null = null;
    if (ack) {
      ackId = this.nextAck++;
      held.acks.set(ackId, event === EVENTS.join ? this.joinAck(held, run, ack) : ack);
      if (held.acks.size > MAX_PENDING_ACKS) held.acks.delete(held.acks.keys().next().value!);
    }
    const message: EventMessage = {
      kind: 'event',
      from: this.me,
      socket: held.socket.id,
      run,
      event,
      args: data,
      ack: ackId,
    };
    await this.toOwner(run, message);
  }

  /** The run an event is about, or why it has none. */
  private async runOf(held: HeldSocket, event: string, payload: unknown): Promise<string | Refusal> {
    if (!BEFORE_JOIN.has(event)) {
      const run = held.member?.run ?? held.joining ?? (event === EVENTS.signal ? held.collectRun : undefined);
      return run ?? new Refusal('not-joined', `send '${EVENTS.join}' before '${event}'`);
    }
    const runId = (payload as { runId?: unknown } | null | undefined)?.runId;
    if (!IdSchema.safeParse(runId).success) {
      return new Refusal('bad-event', `'${event}' needs a runId: letters, digits, '-' or '_', at most 64`);
    }
    const id = runId as string;
    // A member joins another run only after leaving its own, as with one process.
    if (event === EVENTS.join && held.member && held.member.run !== id) {
      return new Refusal('already-joined', `this socket is peer ${held.member.peer}; send 'leave' first`);
    }
    if (!(await this.state.run(id))) return new Refusal('unknown-run', `no run "${id}" on this server`);
    if (event === EVENTS.join) held.joining = id;
    if (event === EVENTS.collect) held.collectRun = id;
    return id;
  }

  /** A join's acknowledgement, which makes the socket a member of `run` when it says ok. */
  private joinAck(held: HeldSocket, run: string, ack: Ack): Ack {
    return (reply) => {
      const { ok, peerId } = (reply ?? {}) as { ok?: unknown; peerId?: unknown };
      if (ok === true && typeof peerId === 'string') held.member = { run, peer: peerId };
      ack(reply);
    };
  }

  private async toOwner(run: string, message: BusMessage, attempt = 1): Promise<void> {
    const owner = await this.ownerOf(run);
    if (owner === undefined) return;
    const listeners = await this.bus!.send(owner, message);
    if (listeners > 0 || attempt >= MAX_ATTEMPTS) return;
    // The owner is gone (killed): this process takes the run over from it, unless another was quicker.
    this.owners.delete(run);
    await this.owned.adopt(run, owner);
    await this.toOwner(run, message, attempt + 1);
  }

  private async resend(message: EventMessage): Promise<void> {
    const attempt = (message.attempt ?? 1) + 1;
    if (attempt > MAX_ATTEMPTS) return;
    await this.toOwner(message.run, { ...message, attempt }, attempt).catch(() => {});
  }

  private async ownerOf(run: string): Promise<string | undefined> {
    const cached = this.owners.get(run);
    if (cached && Date.now() - cached.at < OWNER_CACHE_MS) return cached.name;
    let owner = await this.state.owner(run);
    if (owner === null) owner = (await this.owned.adopt(run)) ? this.me : await this.state.owner(run);
    if (owner === null) return undefined;
    this.owners.set(run, { name: owner, at: Date.now() });
    return owner;
  }

  /**
   * The run's owner has no session for this socket: it took the run over. A member's peer is made to
   * reconnect, which resumes its place with the new owner; anyone else is answered as not joined.
   */
  private resync(message: EventMessage): void {
    const held = this.held.get(message.socket);
    if (!held) return;
    if (held.member?.run === message.run) {
      held.socket.disconnect(true);
      return;
    }
    const ack = message.ack === null ? undefined : held.acks.get(message.ack);
    held.gate.refuse(
      new Refusal('not-joined', `send '${EVENTS.join}' before '${message.event}'`),
      message.event,
      ack,
    );
  }
}
