/**
 * A socket.io client spoken by hand over a raw WebSocket (the `ws` package engine.io uses): it sends
 * packets the real client cannot build (payloads nested a hundred thousand levels deep, which its encoder
 * would recurse through), and it can stop reading, as a client that floods the server and never takes
 * its replies does.
 */
import WebSocket from 'ws';

/** engine.io's packet types, and socket.io's inside its `message` packets (protocol v4 / v5). */
const ENGINE_OPEN = '0';
const ENGINE_PING = '2';
const ENGINE_PONG = '3';
const SOCKET_IO_CONNECT = '40';
const SOCKET_IO_EVENT = '42';
const SOCKET_IO_ACK = '43';

export class RawSocketIo {
  /** Text frames received, in order. */
  readonly frames: string[] = [];
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  private lastWritten: Promise<void> = Promise.resolve();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const frame = data.toString();
      // A client that reads answers the server's pings, as socket.io-client does.
      if (frame === ENGINE_PING) ws.send(ENGINE_PONG);
      this.frames.push(frame);
      this.wake();
    });
    ws.on('close', () => {
      this.closed = true;
      this.wake();
    });
    ws.on('error', () => {});
  }

  /** Connects to the server at `url` (http://host:port) and joins socket.io's main namespace. */
  static async connect(url: string): Promise<RawSocketIo> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
    const client = new RawSocketIo(ws);
    await client.until('the engine.io handshake', () => client.frames.some((f) => f.startsWith(ENGINE_OPEN)));
    ws.send(SOCKET_IO_CONNECT);
    await client.until('the namespace connection', () =>
      client.frames.some((f) => f.startsWith(SOCKET_IO_CONNECT)),
    );
    return client;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends an event whose JSON array (`["name", payload…]`) is given as text; with an ack id when given. */
  sendEvent(json: string, ackId?: number): void {
    this.sendRaw(`${SOCKET_IO_EVENT}${ackId ?? ''}${json}`);
  }

  /** Sends a frame as it is. */
  sendRaw(frame: string | Buffer): void {
    // Frames go out in order: the last one written means all were.
    this.lastWritten = new Promise((resolve) => this.ws.send(frame, () => resolve()));
  }

  /** Resolves once everything sent so far was written to the connection (or failed to be). */
  flushed(): Promise<void> {
    return this.lastWritten;
  }

  /** Resolves once the server closed the connection (a client that reads sees it at once). */
  whenClosed(): Promise<void> {
    return new Promise((resolve) => (this.closed ? resolve() : this.ws.once('close', () => resolve())));
  }

  /** The events received, parsed: `[name, payload]`. */
  events(): [string, unknown][] {
    return this.frames.filter((f) => f.startsWith(SOCKET_IO_EVENT)).map((f) => JSON.parse(f.slice(2)));
  }

  /** The acknowledgement of ack id `id`, once it arrived. */
  async ack(id: number): Promise<unknown> {
    const prefix = `${SOCKET_IO_ACK}${id}[`;
    await this.until(`the acknowledgement ${id}`, () => this.frames.some((f) => f.startsWith(prefix)));
    return JSON.parse(this.frames.find((f) => f.startsWith(prefix))!.slice(prefix.length - 1))[0];
  }

  /** Stops reading: the server's packets pile up in the kernel's buffers, then in the server's. */
  pauseReading(): void {
    this.ws.pause();
  }

  resumeReading(): void {
    this.ws.resume();
  }

  /** Resolves once `condition` holds after some frame or the close; fails after `timeoutMs`. */
  until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not within ${timeoutMs} ms: ${what}`)), timeoutMs);
      const check = () => {
        if (condition()) {
          clearTimeout(timer);
          resolve();
        } else if (this.closed) {
          clearTimeout(timer);
          reject(new Error(`the connection closed before ${what}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    this.ws.terminate();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
