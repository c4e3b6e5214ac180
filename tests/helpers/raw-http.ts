/**
 * HTTP requests written byte for byte on a TCP connection: what fetch and node:http refuse to send (odd
 * request targets, malformed header lines, CONNECT, upgrades), and the answer as it came back.
 */
import { connect } from 'node:net';

export type RawAnswer = {
  /** The status code, or null when the bytes that came back hold no status line. */
  status: number | null;
  headers: Record<string, string>;
  body: string;
  /** Everything that came back, for messages. */
  raw: string;
};

/**
 * Sends `request` and resolves with what the server sent back before closing the connection. The request
 * must end the exchange itself (`Connection: close`, or bytes the server refuses), unless `halfClose`:
 * then the connection is half-closed after it, which ends a request cut short (node:http drops the answer
 * to a whole request on a half-closed connection).
 */
export function rawHttp(
  port: number,
  request: string | Buffer,
  { halfClose = false, timeoutMs = 5000 } = {},
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () =>
      halfClose ? socket.end(request) : socket.write(request),
    );
    const timer = setTimeout(() => {
      socket.destroy();
      const sent = String(request).slice(0, 200);
      reject(new Error(`no answer within ${timeoutMs} ms to ${JSON.stringify(sent)}`));
    }, timeoutMs);
    socket.on('data', (chunk) => chunks.push(chunk));
    // The server may reset a connection it answered (it closes with our bytes unread): what came counts.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseAnswer(Buffer.concat(chunks).toString('latin1')));
    });
  });
}

function parseAnswer(raw: string): RawAnswer {
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  const split = raw.indexOf('\r\n\r\n');
  if (!status || split < 0) return { status: null, headers: {}, body: '', raw };
  const headers: Record<string, string> = {};
  for (const line of raw.slice(0, split).split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = raw.slice(split + 4);
  const body = headers['transfer-encoding'] === 'chunked' ? dechunk(rest) : rest;
  return { status: Number(status[1]), headers, body: Buffer.from(body, 'latin1').toString('utf8'), raw };
}

function dechunk(text: string): string {
  let body = '';
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n', at);
    const size = Number.parseInt(text.slice(at, end), 16);
    if (end < 0 || !(size > 0)) return body;
    body += text.slice(end + 2, end + 2 + size);
    at = end + 2 + size + 2;
  }
}
