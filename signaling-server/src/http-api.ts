/**
 * The JSON API and the pages, on node:http (socket.io answers /socket.io/ before this handler runs).
 *   GET  /api/runs                      runs, without tokens
 *   POST /api/runs                      create a run (Authorization: Bearer <admin token>) → its join URL;
 *                                       409 'too-many-runs' once the server holds limits.maxRuns
 *   GET  /api/runs/<id>                 { config, state }: the run's config and its run-state snapshot
 *   GET  /api/runs/<id>/metrics.json    every metrics point in memory, oldest first
 *   GET  /api/runs/<id>/metrics.csv     the same as CSV with a header row
 *   GET  /, /join/<id>, /runs/<id>, …   the browser client's build (see web-client.ts)
 * Errors are JSON: { error: { code, message } }, also for a request target or a request that does not
 * parse (400 'bad-request-target', 'bad-path', 'bad-request').
 */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { HttpError } from './http-error';
import type { Limits } from './limits';
import type { Logger } from './log';
import { metricsCsv } from './metrics-store';
import { Refusal } from './run';
import type { RunDirectory } from './run-directory';
import { issuesText } from './run-store';
import { sameSecret } from './secrets';
import type { PublicUrls } from './urls';
import { serveWebClient } from './web-client';

export type HttpContext = {
  runs: RunDirectory;
  urls: PublicUrls;
  limits: Limits;
  log: Logger;
  /** The browser client's build directory (client/dist), if any. */
  webRoot?: string;
};

type Handler = (req: IncomingMessage, res: ServerResponse, runId: string) => void | Promise<void>;

export function createHttpHandler(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  const routes: { pattern: RegExp; methods: Record<string, Handler> }[] = [
    {
      pattern: /^\/api\/runs\/?$/,
      methods: { GET: (_req, res) => listRuns(ctx, res), POST: (req, res) => createRun(ctx, req, res) },
    },
    { pattern: /^\/api\/runs\/([\w-]{1,64})$/, methods: { GET: (_req, res, id) => runState(ctx, res, id) } },
    {
      pattern: /^\/api\/runs\/([\w-]{1,64})\/metrics\.json$/,
      methods: {
        GET: async (_req, res, id) => sendJson(res, 200, { runId: id, points: await findPoints(ctx, id) }),
      },
    },
    {
      pattern: /^\/api\/runs\/([\w-]{1,64})\/metrics\.csv$/,
      methods: {
        GET: async (_req, res, id) => {
          const csv = metricsCsv(await findPoints(ctx, id));
          res.writeHead(200, {
            'content-type': 'text/csv; charset=utf-8',
            'content-disposition': `inline; filename="${id}-metrics.csv"`,
          });
          res.end(csv);
        },
      },
    },
  ];

  return (req, res) => {
    // Nothing here may throw outside `run`: a throw from a request handler would end the process.
    const path = requestPath(req.url ?? '/');
    const run = async () => {
      if (path === undefined) {
        throw new HttpError(
          400,
          'bad-request-target',
          `cannot read the request target ${JSON.stringify((req.url ?? '').slice(0, 200))}: send a path such as /api/runs`,
        );
      }
      const route = routes.find((r) => r.pattern.test(path));
      if (!route) {
        if (req.method === 'GET' && (await serveWebClient(path, ctx.webRoot, ctx.runs, res))) return;
        throw new HttpError(404, 'not-found', `no route for ${req.method} ${path}`);
      }
      const handler = route.methods[req.method ?? ''];
      if (!handler) {
        res.setHeader('allow', Object.keys(route.methods).join(', '));
        throw new HttpError(
          405,
          'method-not-allowed',
          `${path} accepts ${Object.keys(route.methods).join(', ')}`,
        );
      }
      await handler(req, res, route.pattern.exec(path)?.[1] ?? '');
    };
    run().catch((error: unknown) => {
      if (error instanceof HttpError) return sendError(res, error.status, error.code, error.message);
      ctx.log.warn(`${req.method} ${path ?? '(no path)'}: ${(error as Error).stack ?? error}`);
      sendError(res, 500, 'internal', 'internal server error');
    });
  };
}

/**
 * The path of a request target (still percent-encoded): origin-form `/path?query` as it stands (`//x`
 * included: it is a path, not a host), absolute-form `http://host/path` (proxies) through URL; undefined
 * for anything else (asterisk-form, garbage).
 */
function requestPath(target: string): string | undefined {
  if (target.startsWith('/')) return target.replace(/[?#].*$/s, '');
  if (!URL.canParse(target)) return undefined;
  const url = new URL(target);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.pathname : undefined;
}

/**
 * The server's `clientError`: a request node:http could not parse gets a JSON error with a code, like any
 * other refusal, and its connection is closed.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, code] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers-too-large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request-timeout']
        : [400, 'bad-request'];
  answerRaw(socket, status, code, `cannot parse the request (${error.code ?? error.message})`);
}

/**
 * The server's `upgrade` for anything but socket.io (which answers its own): node:http hands such
 * requests to no request handler, and unanswered they would hang until a timeout.
 */
export function answerStrayUpgrade(req: IncomingMessage, socket: Duplex): void {
  if (req.url?.startsWith(SOCKET_IO_PATH)) return;
  answerRaw(socket, 400, 'bad-upgrade', `only ${SOCKET_IO_PATH} accepts protocol upgrades`);
}

/** The server's `connect` (the CONNECT method): this is no proxy. */
export function answerConnect(_req: IncomingMessage, socket: Duplex): void {
  answerRaw(socket, 405, 'method-not-allowed', 'this server is no proxy: CONNECT is not accepted');
}

/** socket.io's default path, which its engine answers before any handler here. */
const SOCKET_IO_PATH = '/socket.io/';

/**
 * A JSON error written straight to a connection that has no ServerResponse, which is then closed; one that
 * has sent part of an answer already (keep-alive) is only closed, as node:http does: bytes written now
 * could land inside that answer.
 */
function answerRaw(socket: Duplex, status: number, code: string, message: string): void {
  if (!socket.writable || (socket as Socket).bytesWritten > 0) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

async function listRuns(ctx: HttpContext, res: ServerResponse): Promise<void> {
  sendJson(res, 200, await ctx.runs.summaries());
}

async function runState(ctx: HttpContext, res: ServerResponse, id: string): Promise<void> {
  const view = await ctx.runs.view(id);
  if (!view) throw unknownRun(id);
  sendJson(res, 200, view);
}

async function createRun(ctx: HttpContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!bearer || !sameSecret(bearer, ctx.runs.adminToken)) {
    res.setHeader('www-authenticate', 'Bearer');
    throw new HttpError(
      401,
      'bad-admin-token',
      bearer
        ? 'wrong admin token'
        : 'send the admin token printed at start as "Authorization: Bearer <token>"',
    );
  }
  const body = await readBody(req, ctx.limits.maxRequestBytes);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new HttpError(400, 'bad-json', `the body is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = RunConfigSchema.safeParse(json);
  if (!parsed.success)
    throw new HttpError(400, 'bad-config', `invalid run config: ${issuesText(parsed.error)}`);
  const run = await ctx.runs.create(parsed.data, ctx.limits.maxRuns);
  if (run instanceof Refusal) throw new HttpError(409, run.code, run.message);
  const { config, token } = run;
  ctx.log.info(`created run "${config.id}": join ${ctx.urls.join(config.id, token)}`);
  sendJson(res, 201, {
    run: config,
    token,
    joinUrl: ctx.urls.join(config.id, token),
    overviewUrl: ctx.urls.overview(config.id),
  });
}

async function findPoints(ctx: HttpContext, id: string) {
  const points = await ctx.runs.points(id);
  if (!points) throw unknownRun(id);
  return points;
}

function unknownRun(id: string): HttpError {
  return new HttpError(404, 'unknown-run', `no run "${id}" on this server`);
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      // Discard the rest (rather than destroying the socket) so that the 413 reply still arrives.
      req.off('data', collect);
      req.resume();
      reject(new HttpError(413, 'too-large', `the body is over ${limit} bytes`));
    };
    req.on('data', collect);
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: { code, message } });
}
