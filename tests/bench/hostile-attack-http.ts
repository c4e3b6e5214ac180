/**
 * Attack class `http`: malformed request targets, huge headers, bodies on GET, POST /api/runs unauthorised,
 * CONNECT and stray upgrades, written byte for byte (fetch and node:http refuse to send most of them).
 */
import { rawHttp } from '../helpers/raw-http';
import { sleep } from './hostile-attack-tools';
import type { Tally, Target } from './hostile-tally';

/** [kind, request] makers. */
function httpAttacks(target: Target): [string, () => string | Buffer][] {
  const req = (line: string, headers = '', body = '') =>
    `${line}\r\nHost: bench\r\n${headers}Connection: close\r\n\r\n${body}`;
  const garbage = '{"runs":[[[{{{garbage\u0000\u00ff';
  return [
    ['GET //', () => req('GET // HTTP/1.1')],
    ['GET http://x:y', () => req('GET http://x:y HTTP/1.1')],
    ['GET /%E0%A4%A', () => req('GET /%E0%A4%A HTTP/1.1')],
    ['GET /assets/%ff', () => req('GET /assets/%ff HTTP/1.1')],
    ['GET /join/%E0%A4%A', () => req('GET /join/%E0%A4%A HTTP/1.1')],
    ['GET /runs/%ff/x', () => req('GET /runs/%ff/x HTTP/1.1')],
    ['GET /api/runs/../../etc/passwd', () => req('GET /api/runs/..%2f..%2f..%2fetc%2fpasswd HTTP/1.1')],
    ['GET /api/runs/<5000 chars>', () => req(`GET /api/runs/${'a'.repeat(5000)} HTTP/1.1`)],
    ['GET metrics.csv?%ff', () => req(`GET /api/runs/${target.runId}/metrics.csv?x=%ff HTTP/1.1`)],
    ['huge header (64 KiB)', () => req('GET /api/runs HTTP/1.1', `X-Junk: ${'a'.repeat(64 * 1024)}\r\n`)],
    [
      'many headers (3000)',
      () => req('GET /api/runs HTTP/1.1', Array.from({ length: 3000 }, (_, i) => `X-H${i}: v\r\n`).join('')),
    ],
    [
      'GET with 100 KB body',
      () => req('GET /api/runs HTTP/1.1', 'Content-Length: 100000\r\n', 'x'.repeat(100_000)),
    ],
    [
      'GET with chunked body',
      () => req('GET /api/runs HTTP/1.1', 'Transfer-Encoding: chunked\r\n', '5\r\nhello\r\n0\r\n\r\n'),
    ],
    [
      'POST /api/runs garbage, no token',
      () =>
        req(
          'POST /api/runs HTTP/1.1',
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(garbage)}\r\n`,
          garbage,
        ),
    ],
    [
      'POST /api/runs garbage, wrong token',
      () =>
        req(
          'POST /api/runs HTTP/1.1',
          `Authorization: Bearer guess\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(garbage)}\r\n`,
          garbage,
        ),
    ],
    [
      'POST /api/runs __proto__, no token',
      () => {
        const body = '{"__proto__":{"admin":true},"id":"evil","algorithm":{"name":"demuon"}}';
        return req(
          'POST /api/runs HTTP/1.1',
          `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n`,
          body,
        );
      },
    ],
    [
      'POST /api/runs 1 MB, no token',
      () =>
        req(
          'POST /api/runs HTTP/1.1',
          'Content-Type: application/json\r\nContent-Length: 1000000\r\n',
          'x'.repeat(1_000_000),
        ),
    ],
    ['binary junk request line', () => Buffer.from([0, 1, 2, 255, 13, 10, 13, 10])],
    ['CONNECT', () => 'CONNECT x:1 HTTP/1.1\r\nHost: x:1\r\n\r\n'],
    [
      'stray websocket upgrade',
      () =>
        req(
          'GET /not-socket-io HTTP/1.1',
          'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n',
        ).replace('Connection: close', 'Connection: Upgrade'),
    ],
    ['socket.io polling bad sid', () => req('GET /socket.io/?EIO=4&transport=polling&sid=%ff HTTP/1.1')],
    [
      'socket.io polling POST junk',
      () =>
        req(
          'POST /socket.io/?EIO=4&transport=polling&sid=nope HTTP/1.1',
          'Content-Type: text/plain\r\nContent-Length: 7\r\n',
          '42[[[[[',
        ),
    ],
  ];
}

export async function attackHttp(target: Target, until: number, tally: Tally): Promise<void> {
  const attacks = httpAttacks(target);
  let next = 0;
  // A few connections at a time: a steady stream of bad requests, not a CPU flood of this machine.
  const worker = async () => {
    while (Date.now() < until) {
      const [kind, build] = attacks[next++ % attacks.length];
      tally.sent(kind);
      try {
        const { status } = await rawHttp(target.port, build(), { timeoutMs: 3000 });
        tally.answer(kind, status === null ? 'closed without a status line' : `HTTP ${status}`);
      } catch {
        tally.answer(kind, 'no answer in 3 s');
      }
      await sleep(20);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
}
