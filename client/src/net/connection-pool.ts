/**
 * The WebRTC connections of one peer, one per neighbour, made on first need (the smaller id initiates)
 * and closed once no epoch needs them. Each knows when it was started, so that one that does not open
 * within the connection deadline can be counted absent.
 */
import type SimplePeer from 'simple-peer';

export type LinkState = 'connecting' | 'open' | 'closed';

export interface ConnectionPoolOptions {
  readonly self: string;
  readonly iceServers: RTCIceServer[];
  /** Makes a connection: simple-peer with @roamhq/wrtc in Node, a proxy to the page's in a tab worker. */
  readonly connect: (options: SimplePeer.Options) => SimplePeer.Instance;
  /** Sends a WebRTC signal to `peer` through the signaling server. */
  readonly signal: (peer: string, data: SimplePeer.SignalData) => void;
  readonly opened: (peer: string, connection: SimplePeer.Instance) => void;
  readonly closed: (peer: string) => void;
  readonly log: (line: string) => void;
  readonly now: () => number;
}

interface Connection {
  readonly instance: SimplePeer.Instance;
  readonly startedAt: number;
  state: LinkState;
}

export class ConnectionPool {
  private readonly connections = new Map<string, Connection>();
  /** Peers whose last connection closed: rounds go on without them until an epoch removes them. */
  private readonly gone = new Set<string>();
  /** Connected peers no epoch needs any more, and the step since when. */
  private readonly staleSince = new Map<string, number>();

  constructor(private readonly options: ConnectionPoolOptions) {}

  /**
   * Starts a connection to `peer` unless there is one. A link closed earlier (the two stopped being
   * neighbours) is made again when an epoch needs it; the caller skips peers that have left.
   */
  ensure(peer: string): void {
    if (!this.connections.has(peer)) this.connect(peer);
  }

  private connect(peer: string): Connection {
    const { self, iceServers, connect, signal, opened, log, now } = this.options;
    const instance = connect({ initiator: self < peer, config: { iceServers } });
    const connection: Connection = { instance, startedAt: now(), state: 'connecting' };
    instance.on('signal', (data) => signal(peer, data));
    instance.on('connect', () => {
      connection.state = 'open';
      opened(peer, instance);
    });
    instance.on('close', () => this.release(peer, connection));
    instance.on('error', (error) => log(`link to ${peer}: ${error.message}`));
    this.connections.set(peer, connection);
    this.gone.delete(peer);
    return connection;
  }

  /**
   * Passes a relayed WebRTC signal to the connection with `from` (made now if it is the answering side).
   * A signal the connection refuses, or throws on (it was destroyed, or its data is junk), costs that
   * connection at most: it is closed, to be made again should an epoch need it, and never ends the process.
   * Junk that fails later, asynchronously, ends the connection through its 'error' event the same way.
   */
  signal(from: string, data: SimplePeer.SignalData): void {
    let connection = this.connections.get(from);
    try {
      connection ??= this.connect(from);
      connection.instance.signal(data);
    } catch (error) {
      this.options.log(`refused a signal from ${from} (${describe(error)}); its connection is closed`);
      if (connection) this.discard(from, connection);
    }
  }

  /** Closes `connection` now: a destroyed one may have said 'close' already, and says it no more. */
  private discard(peer: string, connection: Connection): void {
    this.release(peer, connection);
    connection.instance.destroy();
  }

  /** `connection` closed: the peer counts as gone until a new connection to it is made. */
  private release(peer: string, connection: Connection): void {
    connection.state = 'closed';
    // A connection this pool already let go of (closed as unneeded, or replaced) says nothing new.
    if (this.connections.get(peer) !== connection) return;
    this.connections.delete(peer);
    this.gone.add(peer);
    this.options.closed(peer);
  }

  state(peer: string): LinkState {
    return this.connections.get(peer)?.state ?? (this.gone.has(peer) ? 'closed' : 'connecting');
  }

  /** How long the connection to `peer` has been trying to open; 0 once open or closed. */
  connectingMs(peer: string): number {
    const c = this.connections.get(peer);
    return c && c.state === 'connecting' ? this.options.now() - c.startedAt : 0;
  }

  instance(peer: string): SimplePeer.Instance | undefined {
    return this.connections.get(peer)?.instance;
  }

  /**
   * Closes the links to peers `needed` no longer contains, two steps after they stopped being needed: by
   * then every frame owed to them for earlier steps has gone out. `detach` runs before each close.
   */
  closeUnneeded(needed: ReadonlySet<string>, step: number, detach: (peer: string) => void): void {
    for (const [peer, connection] of this.connections) {
      if (needed.has(peer)) {
        this.staleSince.delete(peer);
        continue;
      }
      const since = this.staleSince.get(peer) ?? step;
      this.staleSince.set(peer, since);
      if (step - since < 2) continue;
      this.staleSince.delete(peer);
      detach(peer);
      this.letGo(peer, connection);
    }
  }

  /**
   * Closes the connection to `peer` now, from this end, without a word to `closed`: it left the run, and
   * nothing more goes to it. Closing from this end, once nothing is being written, matters in Node: the
   * WebRTC binding crashes (SIGSEGV) when the other end closes a channel while a send on it is under way.
   */
  drop(peer: string): void {
    const connection = this.connections.get(peer);
    this.staleSince.delete(peer);
    if (!connection) return;
    this.letGo(peer, connection);
    this.gone.add(peer);
  }

  /** Closes `connection` from this end; its 'close' then says nothing (see `release`). */
  private letGo(peer: string, connection: Connection): void {
    this.connections.delete(peer);
    connection.instance.destroy();
  }

  /**
   * Closes every connection. With `lingerMs`, the open ones are first left for the other ends to close,
   * for at most that long: a peer leaving mid-run still gets frames until the server's proposal without
   * it reaches its neighbours, and each closes its end then (see `drop`).
   */
  async closeAll(lingerMs = 0): Promise<void> {
    const open = [...this.connections.values()].filter((c) => c.state === 'open');
    if (lingerMs > 0 && open.length > 0) {
      await new Promise<void>((resolve) => {
        let left = open.length;
        const timer = setTimeout(resolve, lingerMs);
        for (const c of open)
          c.instance.once('close', () => {
            if (--left > 0) return;
            clearTimeout(timer);
            resolve();
          });
      });
    }
    for (const c of this.connections.values()) c.instance.destroy();
    this.connections.clear();
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
