/**
 * The signaling server's HTTP surface under hostile requests, over real TCP on loopback: odd request
 * targets (`//`, absolute-form garbage, `*`), malformed percent-encoding, requests node:http cannot parse,
 * CONNECT and stray upgrades all get an answer with a code, and the server keeps serving; POST /api/runs
 * stops at the run limit. Then arbitrary methods, targets, headers and bodies (property-based).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingServer, type Logger, type SignalingServer } from '../../signaling-server/src';
import { fuzzRuns, fuzzTimeoutMs } from '../helpers/fuzz-runs';
import { type RawAnswer, rawHttp } from '../helpers/raw-http';

const MAX_RUNS = 4;
const warnings: string[] = [];
const log: Logger = { info() {}, warn: (line) => warnings.push(line) };
let dataDir: string;
let webRoot: string;
let server: SignalingServer;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'signaling-http-hostile-'));
  // A stand-in for the browser client's build: the pages and one asset.
  webRoot = mkdtempSync(join(tmpdir(), 'signaling-web-root-'));
  mkdirSync(join(webRoot, 'assets'));
  for (const page of ['join.html', 'run.html']) writeFileSync(join(webRoot, page), '<!doctype html>');
  writeFileSync(join(webRoot, 'assets', 'app.js'), 'export {};');
  server = await createSignalingServer({ port: 0, dataDir, webRoot, log, limits: { maxRuns: MAX_RUNS } });
});

afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(webRoot, { recursive: true, force: true });
});

/** A whole request: request line, Host, the given header lines, `Connection: close` and the body. */
function request(method: string, target: string, headers: string[] = [], body = ''): string {
  const length = body === '' ? [] : [`Content-Length: ${Buffer.byteLength(body)}`];
  return [
    `${method} ${target} HTTP/1.1`,
    'Host: 127.0.0.1',
    ...headers,
    ...length,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

/** The code of an error answer: ours ({ error: { code } }) or engine.io's ({ code }, numeric). */
function errorCode(answer: RawAnswer): unknown {
  const body = JSON.parse(answer.body);
  return body.error?.code ?? body.code;
}

async function expectServing(): Promise<void> {
  const res = await fetch(`${server.url}/api/runs`);
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

describe('odd request targets', () => {
  it('answers each with a status and a code, and keeps serving', async () => {
    const cases: [string, string, number, string | null][] = [
      // `//` once made new URL() throw outside any handler: the process ended.
      ['GET', '//', 404, 'not-found'],
      ['GET', '///api/runs', 404, 'not-found'],
      ['GET', 'http://x:y', 400, 'bad-request-target'],
      ['GET', 'http://[::1', 400, 'bad-request-target'],
      ['GET', 'ftp://x/y', 400, 'bad-request-target'],
      ['OPTIONS', '*', 400, 'bad-request-target'],
      ['GET', '/api/runs/%zz', 400, 'bad-path'],
      ['DELETE', '/api/runs', 405, 'method-not-allowed'],
      // Absolute-form (as sent to proxies) names a path like any other.
      ['GET', 'http://example.com/api/runs/default', 200, null],
      ['GET', '/api/runs?x=%', 200, null],
    ];
    for (const [method, target, status, code] of cases) {
      const answer = await rawHttp(server.port, request(method, target));
      expect(answer.status, `${method} ${target}: ${answer.raw.slice(0, 300)}`).toBe(status);
      if (code) expect(errorCode(answer), `${method} ${target}`).toBe(code);
    }
    await expectServing();
    expect(warnings).toEqual([]);
  });

  it('answers malformed percent-encoding in a static path with 400 bad-path, logging nothing', async () => {
    for (const target of ['/%E0%A4%A', '/assets/%', '/%ff', '/assets/%C0%AF']) {
      const answer = await rawHttp(server.port, request('GET', target));
      expect(answer.status, target).toBe(400);
      expect(errorCode(answer)).toBe('bad-path');
    }
    // Paths that decode but name nothing in the build (or leave it) are 404s, files are served.
    for (const target of [
      '/%2e%2e/%2e%2e/etc/passwd',
      '/assets/%00',
      '/join.html/x',
      `/${'a'.repeat(5000)}`,
    ]) {
      expect((await rawHttp(server.port, request('GET', target))).status, target).toBe(404);
    }
    const asset = await rawHttp(server.port, request('GET', '/assets/app.js'));
    expect([asset.status, asset.body]).toEqual([200, 'export {};']);
    expect(warnings).toEqual([]);
  });
});

describe('requests node:http does not hand to a handler', () => {
  it('answers unparsable requests, oversized headers, CONNECT and stray upgrades with a code', async () => {
    const cases: [string, number, string][] = [
      ['GARBAGE\r\n\r\n', 400, 'bad-request'],
      ['GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 400, 'bad-request'],
      ['GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 400, 'bad-request'],
      ['GET / HTTP/1.1\r\nHost: x\r\n', 400, 'bad-request'],
      [`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`, 431, 'headers-too-large'],
      [request('CONNECT', '127.0.0.1:22'), 405, 'method-not-allowed'],
      [
        'GET /api/runs HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n',
        400,
        'bad-upgrade',
      ],
    ];
    for (const [text, status, code] of cases) {
      // Half-closed after the request: one that is cut short is then over.
      const answer = await rawHttp(server.port, text, { halfClose: true });
      expect(answer.status, `${JSON.stringify(text.slice(0, 60))}: ${answer.raw.slice(0, 200)}`).toBe(status);
      expect(errorCode(answer)).toBe(code);
    }
    await expectServing();
  });
});

describe('run limit', () => {
  it('refuses POST /api/runs past limits.maxRuns with 409 too-many-runs, creating nothing', async () => {
    const create = (id: string) =>
      fetch(`${server.url}/api/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.adminToken}` },
        body: JSON.stringify({ id, algorithm: { name: 'demuon', lr: { eta: 0.05 } } }),
      });
    const statuses: number[] = [];
    for (let i = 0; server.runs.list().length < MAX_RUNS; i++)
      statuses.push((await create(`made-${i}`)).status);
    expect(statuses.every((status) => status === 201)).toBe(true);
    const before = server.runs.list().map((run) => run.id);

    const refused = await create('one-too-many');
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({
      error: { code: 'too-many-runs', message: `this server holds at most ${MAX_RUNS} runs` },
    });
    expect(server.runs.list().map((run) => run.id)).toEqual(before);
    expect(server.runs.get('one-too-many')).toBeUndefined();
  });
});

/**
 * Requests end with their blank line and declared body: whatever else is in them, the server has all of
 * it and must answer (a line break inside a part could leave a request unfinished, waiting for more).
 */
const noLineBreak = (text: string) => !/[\r\n]/.test(text);

/** Header lines: well-formed ones, and now and then a line no parser accepts. */
const headerLine = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc
          .stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/)
          .filter(
            (name) => !/^(content-length|transfer-encoding|connection|expect|host|upgrade)$/i.test(name),
          ),
        fc.string({ maxLength: 40 }).filter(noLineBreak),
      )
      .map(([name, value]) => `${name}: ${value}`),
  },
  fc.string({ maxLength: 30 }).filter(noLineBreak),
);

const target = fc
  .oneof(
    fc.constantFrom(
      '/',
      '//',
      '/api/runs',
      '/api/runs/',
      '/api/runs/default',
      '/api/runs/default/metrics.json',
      '/api/runs/default/metrics.csv',
      '/api/runs/nope/metrics.csv',
      '/join/default',
      '/runs/default/',
      '/assets/app.js',
      '/%',
      '*',
      'http://x:y',
      '/socket.io/',
      '/socket.io/?EIO=4&transport=polling',
      '/socket.io/?EIO=9&transport=nope',
    ),
    fc.webPath().map((path) => (path.startsWith('/') ? path : `/${path}`)),
    fc.webUrl({ withQueryParameters: true }),
    fc.stringMatching(/^\/[\x21-\x7e]{0,40}$/),
    fc.string({ maxLength: 40 }),
  )
  .filter(noLineBreak);

const method = fc
  .oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE'),
    },
    fc.stringMatching(/^[A-Z]{1,10}$/),
    fc.string({ maxLength: 8 }),
  )
  .filter(noLineBreak);

const body = fc.oneof(
  { weight: 3, arbitrary: fc.constant('') },
  fc.json({ maxDepth: 3 }),
  fc.string({ maxLength: 200 }),
  fc.constant(JSON.stringify({ id: 'fuzzed', algorithm: { name: 'demuon', lr: { eta: 0.05 } } })),
);

describe('arbitrary requests', () => {
  const runs = fuzzRuns(300);
  it(
    `answers ${runs} arbitrary requests, never with 500, every error with a code`,
    async () => {
      await fc.assert(
        fc.asyncProperty(
          method,
          target,
          fc.array(headerLine, { maxLength: 4 }),
          fc.option(fc.constantFrom(`Bearer ${server.adminToken}`, 'Bearer wrong', 'Basic x'), {
            nil: undefined,
          }),
          body,
          async (m, t, headers, authorization, b) => {
            const lines = authorization ? [...headers, `Authorization: ${authorization}`] : headers;
            const answer = await rawHttp(server.port, request(m, t, lines, b));
            const what = `${m} ${t}: ${answer.raw.slice(0, 300)}`;
            expect(answer.status, what).not.toBeNull();
            expect(answer.status, what).not.toBe(500);
            if (answer.status! >= 400 && m !== 'HEAD') expect(errorCode(answer), what).toBeDefined();
          },
        ),
        { numRuns: runs },
      );
      await expectServing();
      expect(warnings).toEqual([]);
    },
    fuzzTimeoutMs(runs, 50),
  );
});
