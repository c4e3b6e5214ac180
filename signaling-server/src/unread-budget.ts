/**
 * A budget of unread bytes per socket. socket.io queues every packet for a client (engine.io's write
 * buffer while the transport is busy, then the WebSocket's own buffer while the TCP connection is full),
 * and a client that never reads lets that grow without bound: two such sockets once took the server from
 * 91 to 836 MiB in two minutes, and the starved event loop evicted honest peers. A socket past its budget
 * is disconnected, its buffers dropped.
 */
import type { Logger } from './log';
import type { PeerSocket } from './sockets';

type EnginePacket = { data?: unknown };

/** Disconnects `socket` once more than `budgetBytes` of what it was sent has not been written out. */
export function enforceUnreadBudget(socket: PeerSocket, budgetBytes: number, log: Logger): void {
  const conn = socket.conn;
  /** Bytes in engine.io's write buffer: it is handed whole to the transport at every flush. */
  let queued = 0;
  let dropping = false;
  conn.on('flush', () => {
    queued = 0;
  });
  conn.on('packetCreate', (packet: EnginePacket) => {
    queued += packetBytes(packet);
    if (dropping) return;
    const unread = queued + transportBuffered(conn.transport);
    if (unread <= budgetBytes) return;
    dropping = true;
    // Not from within this send: it may be one of a loop over members, which a departure would upset.
    setImmediate(() => {
      log.warn(
        `socket ${socket.id} (${socket.handshake.address}): ${unread} bytes sent to it are unread, over ` +
          `the budget of ${budgetBytes}; disconnected`,
      );
      // Discarding closes at once (socket.disconnect(true) would wait for the client to read what is
      // queued); the socket's `disconnect` follows, as for any departure.
      conn.close(true);
    });
  });
}

function packetBytes({ data }: EnginePacket): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (ArrayBuffer.isView(data) || data instanceof ArrayBuffer) return data.byteLength;
  return 0;
}

/** What the WebSocket transport holds beyond engine.io (ws's bufferedAmount); polling holds nothing. */
function transportBuffered(transport: unknown): number {
  const amount = (transport as { socket?: { bufferedAmount?: unknown } }).socket?.bufferedAmount;
  return typeof amount === 'number' ? amount : 0;
}
