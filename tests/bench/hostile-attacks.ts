/**
 * The hostile member's attack classes, run in their own process (hostile-member.ts) against a live
 * signaling server and the honest peers of one run. Every attack tolerates refusals, disconnects and
 * exceptions: it counts them and goes on (reconnecting, joining again) until its slot ends. What was sent
 * and how it was answered is tallied per class.
 */
import { request as httpRequest } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { gptConfig, gptParams } from '@demuon/shared/model';
import { chunkElements, FRAME_HEADER_BYTES, FRAME_MAGIC, runHash } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';

/** Classes run in the hostile process; the byzantine ones are `npm run peer` processes the bench starts. */
export const MEMBER_CLASSES = ['http', 'socket-garbage', 'member', 'resume', 'unread', 'frames'] as const;
export type MemberClass = (typeof MEMBER_CLASSES)[number];

export interface Target {
  readonly url: string;
  readonly port: number;
  readonly runId: string;
  readonly token: string;
}

/** What one class did in one slot (or, summed, in a phase). */
export interface TallyData {
  sent: number;
  /** Outcome → count: HTTP statuses, refusal codes of acks and error-replies, disconnects, … */
  answers: Record<string, number>;
  /** Per kind of attack: `sent` and its outcomes. */
  detail: Record<string, Record<string, number>>;
  /** Peer ids the hostile member had while joined. */
  ids: string[];
  notes: string[];
}

export type ToMember =
  | { type: 'attack'; cls: MemberClass; ms: number; target: Target }
  | { type: 'stop'; target: Target };
export type FromMember =
  | { type: 'done'; cls: MemberClass | 'unread-final'; tally: TallyData }
  | { type: 'ready' };

export class Tally {
  readonly data: TallyData = { sent: 0, answers: {}, detail: {}, ids: [], notes: [] };

  sent(kind: string, n = 1): void {
    this.data.sent += n;
    this.bump(kind, 'sent', n);
  }

  answer(kind: string, outcome: string, n = 1): void {
    this.data.answers[outcome] = (this.data.answers[outcome] ?? 0) + n;
    this.bump(kind, outcome, n);
  }

  note(text: string): void {
    if (this.data.notes.length < 20 && !this.data.notes.includes(text)) this.data.notes.push(text);
  }

  id(peer: string): void {
    if (!this.data.ids.includes(peer)) this.data.ids.push(peer);
  }

  private bump(kind: string, outcome: string, n: number): void {
    const row = this.data.detail[kind] ?? {};
    this.data.detail[kind] = row;
    row[outcome] = (row[outcome] ?? 0) + n;
  }
}

export function mergeTally(into: TallyData, from: TallyData): void {
  into.sent += from.sent;
  for (const [k, v] of Object.entries(from.answers)) into.answers[k] = (into.answers[k] ?? 0) + v;
  for (const [kind, row] of Object.entries(from.detail)) {
    const target = into.detail[kind] ?? {};
    into.detail[kind] = target;
    for (const [k, v] of Object.entries(row)) target[k] = (target[k] ?? 0) + v;
  }
  for (const id of from.ids) if (!into.ids.includes(id)) into.ids.push(id);
  for (const n of from.notes) if (into.notes.length < 30 && !into.notes.includes(n)) into.notes.push(n);
}

export const emptyTally = (): TallyData => ({ sent: 0, answers: {}, detail: {}, ids: [], notes: [] });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];
const message = (error: unknown) => (error instanceof Error ? error.message : String(error)).slice(0, 160);

/** Members of the run other than `self`, from the public state (cached for a second or two). */
class MemberView {
  private fetchedAt = 0;
  private members: { peer: string; step: number | null }[] = [];

  constructor(private readonly target: Target) {}

  async others(self?: string): Promise<{ peer: string; step: number | null }[]> {
    if (Date.now() - this.fetchedAt > 1500) {
      this.fetchedAt = Date.now();
      try {
        const body = await getJson(`${this.target.url}/api/runs/${this.target.runId}`);
        const state = (body as { state?: { members?: { peer: string; step: number | null }[] } }).state;
        if (Array.isArray(state?.members)) this.members = state.members;
      } catch {
        // Keep the last view.
      }
    }
    return this.members.filter((m) => m.peer !== self);
  }
}

function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

// ---- (1) HTTP --------------------------------------------------------------------------------------

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

/**
 * Writes `request` on a fresh TCP connection and resolves with the status code of what came back before
 * the server closed it (null: no status line); rejects when nothing ends it within `timeoutMs`.
 */
function rawHttp(port: number, request: string | Buffer, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = tcpConnect(port, '127.0.0.1', () => socket.write(request));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer within the timeout'));
    }, timeoutMs);
    socket.on('data', (chunk) => {
      // The status line is all that counts: keep the first few KiB.
      if (chunks.length < 4) chunks.push(chunk);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'));
      resolve(status ? Number(status[1]) : null);
    });
  });
}

async function attackHttp(target: Target, until: number, tally: Tally): Promise<void> {
  const attacks = httpAttacks(target);
  let next = 0;
  // A few connections at a time: a steady stream of bad requests, not a CPU flood of this machine.
  const worker = async () => {
    while (Date.now() < until) {
      const [kind, build] = attacks[next++ % attacks.length];
      tally.sent(kind);
      try {
        const status = await rawHttp(target.port, build(), 3000);
        tally.answer(kind, status === null ? 'closed without a status line' : `HTTP ${status}`);
      } catch {
        tally.answer(kind, 'no answer in 3 s');
      }
      await sleep(20);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
}

// ---- a socket.io client spoken by hand over a raw WebSocket ------------------------------------------

class RawClient {
  closed = false;
  closedByUs = false;
  bytesRead = 0;
  private ackId = 1;

  private constructor(
    readonly ws: WebSocket,
    private readonly onFrame: (frame: string) => void,
  ) {
    ws.on('message', (data, isBinary) => {
      this.bytesRead += (data as Buffer).length ?? 0;
      if (isBinary) return;
      const frame = data.toString();
      if (frame === '2') this.send('3');
      this.onFrame(frame);
    });
    ws.on('close', () => {
      this.closed = true;
    });
    ws.on('error', () => {});
  }

  static connect(url: string, onFrame: (frame: string) => void, timeoutMs = 5000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/socket.io/?EIO=4&transport=websocket`);
      let opened = false;
      const client = new RawClient(ws, (frame) => {
        if (!opened && frame.startsWith('0')) ws.send('40');
        else if (!opened && frame.startsWith('40')) {
          opened = true;
          clearTimeout(timer);
          resolve(client);
        } else onFrame(frame);
      });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error('no socket.io handshake within the timeout'));
      }, timeoutMs);
      ws.once('close', () => {
        clearTimeout(timer);
        if (!opened) reject(new Error('closed during the handshake'));
      });
    });
  }

  /** Sends a frame; false when the connection is gone. */
  send(frame: string, onError?: () => void): boolean {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return false;
    try {
      this.ws.send(frame, (error) => {
        if (error) onError?.();
      });
      return true;
    } catch {
      onError?.();
      return false;
    }
  }

  /** `42[…]` with an ack id; returns it. */
  event(json: string, onError?: () => void): boolean {
    return this.send(`42${this.ackId++ % 1_000_000}${json}`, onError);
  }

  close(): void {
    this.closedByUs = true;
    this.ws.terminate();
  }
}

/** Counts the server's answers on a raw socket: error-replies and acks by code, disconnect packets. */
function countReplies(tally: Tally, kind: string) {
  return (frame: string) => {
    if (frame.startsWith('42')) {
      try {
        const [name, body] = JSON.parse(frame.slice(2)) as [string, { code?: string }];
        if (name === 'error-reply') tally.answer(kind, `error-reply ${body?.code}`);
        else tally.answer(kind, `event ${String(name).slice(0, 20)}`);
      } catch {
        tally.answer(kind, 'unparsable reply');
      }
    } else if (frame.startsWith('43')) {
      const body = frame.slice(frame.indexOf('['));
      try {
        const [ack] = JSON.parse(body) as [{ ok?: boolean; error?: { code?: string } }];
        tally.answer(kind, ack?.ok ? 'ack ok' : `ack ${ack?.error?.code}`);
      } catch {
        tally.answer(kind, 'unparsable ack');
      }
    } else if (frame.startsWith('41')) tally.answer(kind, 'socket.io disconnect packet');
    else if (frame.startsWith('44')) tally.answer(kind, 'connect_error packet');
  };
}

// ---- (2) socket.io events with garbage payloads ------------------------------------------------------

const KNOWN_EVENTS = [
  'join',
  'signal',
  'progress',
  'heartbeat',
  'metrics',
  'leave',
  'watch',
  'epoch-ready',
  'neighbour-missed',
  'neighbour-status',
];
const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'to'];

/** Random JSON text (not via JSON.stringify, so that `__proto__` keys stay keys). */
function randomJson(depth = 0): string {
  const r = Math.random();
  if (depth > 4 || r < 0.3) {
    return pick([
      'null',
      'true',
      '-0',
      '1e308',
      '-1e308',
      '9007199254740993',
      '0.1',
      '-1',
      '"__proto__"',
      '"\\u0000\\ud800"',
      `"${'z'.repeat(Math.floor(Math.random() * 300))}"`,
      '""',
    ]);
  }
  if (r < 0.55)
    return `[${Array.from({ length: Math.floor(Math.random() * 5) }, () => randomJson(depth + 1))}]`;
  const keys = Array.from({ length: 1 + Math.floor(Math.random() * 5) }, () =>
    Math.random() < 0.5 ? pick(NASTY_KEYS) : pick(['runId', 'token', 'step', 'data', 'peer', 'epoch', 'x']),
  );
  return `{${keys.map((k) => `"${k}":${randomJson(depth + 1)}`).join(',')}}`;
}

const deepArrays = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const deepObjects = (n: number) => `${'{"a":'.repeat(n)}0${'}'.repeat(n)}`;

/**
 * [kind, frame] makers. `events` are well-formed socket.io events (the server's gate answers them);
 * `framing` break socket.io's or engine.io's framing (the connection is closed); `heavy` are deep or
 * oversized and go out one in 25.
 */
function garbageFrames(target: Target) {
  const join = `"runId":"${target.runId}","platform":"node","backend":"cpu"`;
  const events: [string, () => string][] = [
    ['unknown event', () => `42["nope-${Math.floor(Math.random() * 1e6)}",${randomJson()}]`],
    ['random JSON to a known event', () => `42["${pick(KNOWN_EVENTS)}",${randomJson()}]`],
    [
      'random JSON to a known event, with ack',
      () => `42${Math.floor(Math.random() * 1e6)}["${pick(KNOWN_EVENTS)}",${randomJson()}]`,
    ],
    ['event named __proto__', () => '42["__proto__",{}]'],
    ['event named constructor', () => '421["constructor",{"prototype":{"polluted":true}}]'],
    ['event named toString', () => '42["toString",1]'],
    ['event named hasOwnProperty', () => '422["hasOwnProperty","x"]'],
    [
      'join with __proto__ keys',
      () =>
        `423["join",{"__proto__":{"admin":true,"token":"${target.token.slice(0, 4)}"},${join},"token":"x"}]`,
    ],
    [
      'join with constructor keys',
      () => `424["join",{"constructor":{"prototype":{"polluted":true}},${join},"token":"guess"}]`,
    ],
    ['heartbeat with __proto__', () => '42["heartbeat",{"__proto__":{"status":{"step":1}}}]'],
    ['signal with __proto__ data', () => '425["signal",{"to":"x","data":{"__proto__":{"type":"offer"}}}]'],
    ['event without a payload', () => pick(['42["signal"]', '42["join"]', '426["progress"]'])],
  ];
  const framing: [string, () => string][] = [
    [
      'not an array',
      () => pick(['42{"a":1}', '42"str"', '42[', '42[]', '42[1,2]', '42[null]', '42["signal"']),
    ],
    ['engine.io junk', () => pick(['9', '4', '6', '5', '1x', '4[', '40/nope,', '43999[]'])],
    ['binary placeholder without attachment', () => '451-["signal",{"_placeholder":true,"num":0}]'],
  ];
  const heavy: [string, () => string][] = [
    ['signal data nested 5000 objects deep', () => `426["signal",{"to":"x","data":${deepObjects(5000)}}]`],
    ['signal data nested 100000 arrays deep', () => `42["signal",{"to":"x","data":${deepArrays(100_000)}}]`],
    ['join payload nested 20000 arrays deep', () => `427["join",${deepArrays(20_000)}]`],
    ['metrics of 900 KB', () => `428["metrics","${'x'.repeat(900_000)}"]`],
    [
      'signal with a 200 KB sdp',
      () => `429["signal",{"to":"x","data":{"type":"offer","sdp":"${'x'.repeat(200_000)}"}}]`,
    ],
  ];
  const tooLarge: [string, () => string] = [
    '1.1 MB message (past maxHttpBufferSize)',
    () => `42["metrics","${'x'.repeat(1_100_000)}"]`,
  ];
  return { events, framing, heavy, tooLarge };
}

async function attackSocketGarbage(target: Target, until: number, tally: Tally): Promise<void> {
  const { events, framing, heavy, tooLarge } = garbageFrames(target);
  // Lane 'events' sends well-formed events only, so that the gate (rate limit, names, depth, schemas) sees
  // them all; lane 'anything' mixes in broken framing and messages past socket.io's size limit.
  const lane = async (name: 'events' | 'anything') => {
    let n = 0;
    while (Date.now() < until) {
      let client: RawClient;
      try {
        client = await RawClient.connect(target.url, countReplies(tally, `replies (${name} lane)`));
      } catch (error) {
        tally.answer('connect', `connect failed: ${message(error).slice(0, 40)}`);
        await sleep(300);
        continue;
      }
      // Bursts of 30 every 100 ms: 300 events/s per socket, three times the server's rate limit.
      while (Date.now() < until && !client.closed) {
        for (let i = 0; i < 30 && !client.closed; i++) {
          n++;
          const [kind, build] =
            n % 25 === 0
              ? name === 'anything' && n % 100 === 0
                ? tooLarge
                : heavy[(n / 25) % heavy.length]
              : name === 'anything' && n % 3 === 0
                ? pick(framing)
                : pick(events);
          if (client.send(build())) tally.sent(kind);
        }
        await sleep(100);
      }
      if (client.closed)
        tally.answer(`connection (${name} lane)`, `disconnected by the server (${name} lane)`);
      client.close();
    }
  };
  await Promise.all([lane('events'), lane('anything')]);
}

// ---- joined-member helpers ----------------------------------------------------------------------------

function connectSocket(url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, timeout: 5000, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

type AckReply = {
  ok?: boolean;
  error?: { code?: string };
  peerId?: string;
  secret?: string;
  heartbeatMs?: number;
};

/** Emits with an ack; counts the outcome under `kind`; resolves with the reply (undefined on timeout). */
function emitCounted(
  socket: Socket,
  tally: Tally,
  kind: string,
  event: string,
  payload: unknown,
  timeoutMs = 3000,
): Promise<AckReply | undefined> {
  tally.sent(kind);
  return new Promise((resolve) => {
    if (!socket.connected) {
      tally.answer(kind, 'not connected');
      resolve(undefined);
      return;
    }
    socket.timeout(timeoutMs).emit(event, payload, (error: unknown, reply: AckReply) => {
      if (error) tally.answer(kind, `no ack in ${timeoutMs / 1000} s`);
      else if (!reply?.ok) tally.answer(kind, `refused ${reply?.error?.code}`);
      else if (event === 'join') tally.answer(kind, 'joined');
      else tally.answer(kind, event === 'epoch-ready' ? 'accepted (epoch-ready)' : 'accepted');
      resolve(error ? undefined : reply);
    });
  });
}

interface Membership {
  socket: Socket;
  peerId: string;
  epoch: number;
  evicted: boolean;
  disconnected: boolean;
  stop(): void;
}

/**
 * Joins the run as a member that heartbeats and answers epoch proposals (so that it stays a member as long
 * as the attack wants); undefined when refused or unreachable.
 */
async function joinRun(
  target: Target,
  tally: Tally,
  name: string,
  status?: () => unknown,
  onEpoch?: (epoch: { epoch: number; [k: string]: unknown }) => void,
): Promise<Membership | undefined> {
  let socket: Socket;
  try {
    socket = await connectSocket(target.url);
  } catch (error) {
    tally.answer('join', `connect failed: ${message(error).slice(0, 40)}`);
    return undefined;
  }
  const m: Membership = {
    socket,
    peerId: '',
    epoch: 0,
    evicted: false,
    disconnected: false,
    stop: () => {},
  };
  socket.on('epoch', (e: { epoch: number }) => {
    m.epoch = e.epoch;
    onEpoch?.(e);
  });
  socket.on('epoch-propose', (p: { epoch: number }) => {
    m.epoch = p.epoch;
    onEpoch?.(p);
    void emitCounted(socket, tally, 'epoch-ready (answering proposals)', 'epoch-ready', {
      epoch: p.epoch,
      barrier: 0,
    });
  });
  socket.on('evicted', (e: { reason?: string }) => {
    m.evicted = true;
    tally.answer('membership', 'evicted');
    tally.note(`evicted: ${String(e?.reason).slice(0, 120)}`);
  });
  socket.on('disconnect', (reason) => {
    m.disconnected = true;
    if (reason !== 'io client disconnect') tally.answer('membership', `disconnected (${reason})`);
  });
  const reply = await emitCounted(socket, tally, 'join', 'join', {
    runId: target.runId,
    token: target.token,
    name,
    platform: 'node',
    backend: 'cpu',
  });
  if (!reply?.ok || !reply.peerId) {
    socket.close();
    return undefined;
  }
  m.peerId = reply.peerId;
  tally.id(reply.peerId);
  const beat = setInterval(
    () => {
      if (socket.connected) socket.emit('heartbeat', status ? { status: status() } : {});
    },
    Math.max(200, reply.heartbeatMs ?? 1000),
  );
  m.stop = () => {
    clearInterval(beat);
    if (socket.connected) socket.emit('leave', {});
    setTimeout(() => socket.close(), 200);
  };
  return m;
}

// ---- (3) a joined member sending junk -----------------------------------------------------------------

async function attackMember(target: Target, until: number, tally: Tally): Promise<void> {
  const view = new MemberView(target);
  while (Date.now() < until) {
    const m = await joinRun(target, tally, 'hostile-member');
    if (!m) {
      await sleep(500);
      continue;
    }
    const { socket } = m;
    let i = 0;
    while (Date.now() < until && !m.evicted && !m.disconnected) {
      const others = await view.others(m.peerId);
      const honest = others.length > 0 ? pick(others).peer : 'nobody';
      const garbage = `garbage ${Math.random().toString(36).repeat(8)}`;
      const attacks: [string, string, unknown][] = [
        ['progress 1e15', 'progress', { step: 1e15 }],
        ['progress -1', 'progress', { step: -1 }],
        ['progress 2^53+2', 'progress', { step: 2 ** 53 + 2 }],
        ['progress 1.5', 'progress', { step: 1.5 }],
        ['progress forward (20)', 'progress', { step: 20 }],
        ['progress backwards (3)', 'progress', { step: 3 }],
        ['signal: offer, garbage sdp', 'signal', { to: honest, data: { type: 'offer', sdp: garbage } }],
        ['signal: answer, garbage sdp', 'signal', { to: honest, data: { type: 'answer', sdp: garbage } }],
        [
          'signal: candidate, garbage',
          'signal',
          { to: honest, data: { type: 'candidate', candidate: { candidate: garbage, sdpMLineIndex: 7 } } },
        ],
        ['signal: answer to nobody', 'signal', { to: 'nobody-here', data: { type: 'answer', sdp: 'v=0' } }],
        ['signal: to itself', 'signal', { to: m.peerId, data: { type: 'offer', sdp: garbage } }],
        ['signal (refused): offer without sdp', 'signal', { to: honest, data: { type: 'offer' } }],
        ['signal (refused): pranswer', 'signal', { to: honest, data: { type: 'pranswer', sdp: 'x' } }],
        ['signal (refused): renegotiate', 'signal', { to: honest, data: { renegotiate: true } }],
        ['signal (refused): string data', 'signal', { to: honest, data: garbage }],
        [
          'signal (refused): 13000-char sdp',
          'signal',
          { to: honest, data: { type: 'offer', sdp: 'x'.repeat(13_000) } },
        ],
        [
          'neighbour-missed about an honest peer',
          'neighbour-missed',
          { peer: honest, epoch: m.epoch, step: 0, reason: 'silent' },
        ],
        ['neighbour-status of an honest peer', 'neighbour-status', { peer: honest }],
        [
          'metrics with absurd values',
          'metrics',
          {
            step: 1e15,
            epoch: m.epoch,
            bytesSent: 1e300,
            bytesReceived: 1e300,
            trainLoss: -1e300,
            links: [],
          },
        ],
        ['epoch-ready absurd barrier', 'epoch-ready', { epoch: m.epoch + 1000, barrier: 1e15 }],
      ];
      // Two events per 50 ms tick, acks counted as they come: 40 events/s, under the rate limit.
      for (let k = 0; k < 2; k++) {
        const [kind, event, payload] = attacks[i++ % attacks.length];
        void emitCounted(socket, tally, kind, event, payload);
      }
      await sleep(50);
    }
    await sleep(300);
    m.stop();
    await sleep(300);
  }
}

// ---- (4) resume with an honest peer's id ---------------------------------------------------------------

async function attackResume(target: Target, until: number, tally: Tally): Promise<void> {
  const view = new MemberView(target);
  while (Date.now() < until) {
    let socket: Socket;
    try {
      socket = await connectSocket(target.url);
    } catch (error) {
      tally.answer('connect', `connect failed: ${message(error).slice(0, 40)}`);
      await sleep(300);
      continue;
    }
    socket.on('epoch', () => tally.answer('after a resume', 'got an epoch'));
    while (Date.now() < until && socket.connected) {
      const others = await view.others();
      const honest = others.length > 0 ? pick(others).peer : 'nobody';
      const base = { runId: target.runId, platform: 'node', backend: 'cpu', name: 'hostile-resume' };
      const attempts: [string, unknown][] = [
        [
          'resume honest id, secret "guess"',
          { ...base, token: target.token, resume: { peerId: honest, secret: 'guess' } },
        ],
        [
          'resume honest id, 64 hex guess',
          {
            ...base,
            token: target.token,
            resume: { peerId: honest, secret: Math.random().toString(16).slice(2).padEnd(64, '0') },
          },
        ],
        [
          'resume honest id, 256-char secret',
          { ...base, token: target.token, resume: { peerId: honest, secret: 's'.repeat(256) } },
        ],
        [
          'resume unknown id',
          { ...base, token: target.token, resume: { peerId: 'nobody-here', secret: 'guess' } },
        ],
        [
          'resume honest id, wrong token',
          { ...base, token: 'guess', resume: { peerId: honest, secret: 'guess' } },
        ],
        [
          'resume honest id, no secret (refused)',
          { ...base, token: target.token, resume: { peerId: honest } },
        ],
      ];
      const [kind, payload] = pick(attempts);
      const reply = await emitCounted(socket, tally, kind, 'join', payload);
      if (reply?.ok) {
        // A hijack: the honest peer's place was handed over. Give it back at once.
        tally.answer(kind, 'HIJACKED an honest place');
        tally.note(`resume as ${honest} was accepted (${kind})`);
        socket.emit('leave', {});
        break;
      }
      await sleep(40);
    }
    socket.close();
  }
}

// ---- (5) sockets that send bad events and never read ----------------------------------------------------

const unreadSockets: { client: RawClient; openedAt: number; sendErrors: number }[] = [];

async function attackUnread(target: Target, until: number, tally: Tally): Promise<void> {
  // Two more each slot, kept (unread) to the end of the phase.
  for (let k = 0; k < 2; k++) {
    try {
      const client = await RawClient.connect(target.url, () => {});
      client.send(`42["watch",{"runId":"${target.runId}"}]`);
      client.ws.pause();
      unreadSockets.push({ client, openedAt: Date.now(), sendErrors: 0 });
      tally.answer('open', 'opened, watching, paused');
    } catch (error) {
      tally.answer('open', `connect failed: ${message(error).slice(0, 40)}`);
    }
  }
  const bigKey = 'k'.repeat(400);
  while (Date.now() < until) {
    for (const u of unreadSockets) {
      // 15 per 100 ms: 150 events/s with acks, each answered with a refusal that quotes the unknown key.
      for (let i = 0; i < 15; i++) {
        const ok = u.client.event(`["heartbeat",{"${bigKey}${i}":${i}}]`, () => {
          u.sendErrors++;
        });
        if (ok) tally.sent('bad events with acks, never read');
        else {
          tally.answer('bad events with acks, never read', 'not sent: connection gone');
          break;
        }
      }
    }
    await sleep(100);
  }
}

/** At the phase's end: reads each unread socket again for a moment to see whether the server dropped it. */
async function finishUnread(tally: Tally): Promise<void> {
  for (const u of unreadSockets) {
    const before = u.client.bytesRead;
    u.client.ws.resume();
    const deadline = Date.now() + 2000;
    while (!u.client.closed && Date.now() < deadline) await sleep(100);
    const read = u.client.bytesRead - before;
    tally.answer(
      'unread sockets at the end',
      u.client.closed ? 'disconnected by the server' : 'still open at the end of the phase',
    );
    tally.note(
      `unread socket open ${((Date.now() - u.openedAt) / 1000).toFixed(0)} s: ${u.client.closed ? 'closed by the server' : 'open'}, ${(read / 1024).toFixed(0)} KiB queued for it, ${u.sendErrors} send errors`,
    );
    u.client.close();
  }
  unreadSockets.length = 0;
}

// ---- (7) a WebRTC neighbour sending bad frames ----------------------------------------------------------

interface FrameFields {
  exchange?: number;
  run: number;
  epoch: number;
  step: number;
  round: number;
  tensor: number;
  chunk: number;
  chunks: number;
  offset: number;
  count: number;
}

function frame(h: FrameFields, payload: Uint8Array, magic = FRAME_MAGIC): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, magic, true);
  v.setUint8(4, 1);
  v.setUint8(5, 0); // fp32
  v.setUint16(6, h.exchange ?? 0, true);
  v.setUint32(8, h.run >>> 0, true);
  v.setUint32(12, h.epoch >>> 0, true);
  v.setUint32(16, h.step >>> 0, true);
  v.setUint32(20, h.round >>> 0, true);
  v.setUint32(24, h.tensor >>> 0, true);
  v.setUint16(28, h.chunk, true);
  v.setUint16(30, h.chunks, true);
  v.setUint32(32, h.offset >>> 0, true);
  v.setUint32(36, h.count >>> 0, true);
  bytes.set(payload, FRAME_HEADER_BYTES);
  return bytes;
}

const floats = (n: number, value: number) => new Uint8Array(new Float32Array(n).fill(value).buffer);

/** [kind, frame] for a neighbour at `step` of `epoch`. */
function badFrames(
  run: number,
  epoch: number,
  step: number,
  sizes: readonly number[],
): [string, Uint8Array][] {
  const per = chunkElements('fp32');
  const round = Math.floor(Math.random() * 4);
  const ahead = step + Math.floor(Math.random() * 8);
  const base = { run, epoch, step: ahead, round, tensor: 0, chunk: 0, offset: 0 };
  // The largest tensor, its real layout: chunk 0 of a message that will never be finished.
  const big = sizes.reduce((best, s, i) => (s > sizes[best] ? i : best), 0);
  const bigChunks = Math.max(1, Math.ceil(sizes[big] / per));
  const bigCount = Math.min(per, sizes[big]);
  // The smallest (a LayerNorm vector): one whole chunk of NaN.
  const small = sizes.reduce((best, s, i) => (s < sizes[best] ? i : best), 0);
  return [
    ['first chunk claims 65535 chunks', frame({ ...base, chunks: 0xffff, count: 16 }, floats(16, 0.5))],
    [
      'first chunk of a real layout, never finished',
      frame({ ...base, tensor: big, chunks: bigChunks, count: bigCount }, floats(bigCount, 0.5)),
    ],
    [
      'state exchange claiming 65535 chunks',
      frame({ ...base, exchange: 1, chunks: 0xffff, count: 16 }, floats(16, 0.5)),
    ],
    ['count 2^32-1, 64 bytes', frame({ ...base, chunks: 1, count: 0xffffffff }, floats(16, 0.5))],
    ['tensor index 2^32-1', frame({ ...base, tensor: 0xffffffff, chunks: 1, count: 16 }, floats(16, 0.5))],
    ['offset 2^32-16', frame({ ...base, chunks: 1, offset: 0xfffffff0, count: 16 }, floats(16, 0.5))],
    [
      'NaN values',
      frame({ ...base, tensor: small, chunks: 1, count: sizes[small] }, floats(sizes[small], Number.NaN)),
    ],
    ['chunk 9 of 3', frame({ ...base, chunk: 9, chunks: 3, count: 16 }, floats(16, 0.5))],
    ['other run', frame({ ...base, run: run ^ 1, chunks: 1, count: 16 }, floats(16, 0.5))],
    ['epoch 2^32-1', frame({ ...base, epoch: 0xffffffff, chunks: 1, count: 16 }, floats(16, 0.5))],
    ['wrong magic', frame({ ...base, chunks: 1, count: 16 }, floats(16, 0.5), 0x12345678)],
    ['70 KiB frame', frame({ ...base, chunks: 1, count: 17_500 }, floats(17_500, 0.5))],
    ['random bytes', Uint8Array.from({ length: 1000 }, () => Math.floor(Math.random() * 256))],
  ];
}

async function attackFrames(target: Target, until: number, tally: Tally): Promise<void> {
  const view = new MemberView(target);
  const run = runHash(target.runId);
  const sizes = gptParams(gptConfig('tiny', { vocabSize: 512 })).map((p) =>
    p.shape.reduce((a, b) => a * b, 1),
  );
  while (Date.now() < until) {
    let honestStep = 0;
    const links = new Map<string, { peer: SimplePeer.Instance; open: boolean }>();
    let m: Membership | undefined;
    const link = (peer: string) => {
      const known = links.get(peer);
      if (known) return known.peer;
      const instance = new SimplePeer({
        initiator: (m?.peerId ?? '') < peer,
        wrtc,
        config: { iceServers: [] },
      });
      const entry = { peer: instance, open: false };
      links.set(peer, entry);
      instance.on('signal', (data) => {
        if (m?.socket.connected) m.socket.emit('signal', { to: peer, data });
      });
      instance.on('connect', () => {
        entry.open = true;
        tally.answer('link', 'data channel opened');
      });
      instance.on('close', () => {
        if (entry.open) tally.answer('link', 'data channel closed');
        entry.open = false;
        links.delete(peer);
      });
      instance.on('error', (error) => tally.answer('link', `link error: ${message(error).slice(0, 50)}`));
      return instance;
    };
    const neighbours = (e: { [k: string]: unknown }) => {
      const ins = ((e.inNeighbours as { peer: string }[] | undefined) ?? []).map((n) => n.peer);
      const outs = (e.outNeighbours as string[] | undefined) ?? [];
      return [...new Set([...ins, ...outs])];
    };
    m = await joinRun(
      target,
      tally,
      'hostile-frames',
      // Plain heartbeats, no status (it never says what it does): alive, as a slow peer would be.
      undefined,
      (e) => {
        for (const peer of neighbours(e)) link(peer);
      },
    );
    if (!m) {
      await sleep(500);
      continue;
    }
    const member = m;
    member.socket.on('signal', (s: { from: string; data: SimplePeer.SignalData }) => {
      try {
        link(s.from).signal(s.data);
      } catch (error) {
        tally.answer('link', `signal refused: ${message(error).slice(0, 40)}`);
      }
    });
    while (Date.now() < until && !member.evicted && !member.disconnected) {
      const others = await view.others(member.peerId);
      honestStep = Math.max(0, ...others.map((o) => o.step ?? 0));
      for (const [, entry] of links) {
        if (!entry.open) continue;
        // 13 junk frames per link every 100 ms.
        for (const [kind, bytes] of badFrames(run, member.epoch, honestStep, sizes)) {
          try {
            entry.peer.send(bytes);
            tally.sent(kind);
          } catch (error) {
            tally.sent(kind);
            tally.answer(kind, `send failed: ${message(error).slice(0, 40)}`);
          }
        }
      }
      await sleep(100);
    }
    await countDrops(target, member.peerId, tally);
    member.stop();
    await sleep(300);
    for (const { peer } of links.values()) peer.destroy();
    await sleep(200);
  }
}

/** What the honest neighbours' latest metrics say of their links to `self`: frames received and dropped. */
async function countDrops(target: Target, self: string, tally: Tally): Promise<void> {
  try {
    const body = (await getJson(`${target.url}/api/runs/${target.runId}`)) as {
      state?: {
        members?: { peer: string; links?: { peer: string; drops?: number; framesReceived?: number }[] }[];
      };
    };
    const seen: string[] = [];
    let matched = 0;
    for (const member of body.state?.members ?? []) {
      if (member.peer === self) continue;
      seen.push(`${member.peer} → ${(member.links ?? []).map((l) => l.peer).join(',') || 'none'}`);
      for (const l of member.links ?? []) {
        if (l.peer !== self) continue;
        matched++;
        tally.answer('honest neighbours (their latest metrics)', 'frames they dropped', l.drops ?? 0);
        tally.answer(
          'honest neighbours (their latest metrics)',
          'frames they received',
          l.framesReceived ?? 0,
        );
      }
    }
    if (matched === 0)
      tally.note(
        `no honest neighbour's latest metrics list a link to ${self} (none reported since it joined?); links: ${seen.join('; ')}`,
      );
  } catch (error) {
    tally.note(`could not read the run state: ${message(error)}`);
  }
}

export async function runAttack(cls: MemberClass, target: Target, ms: number): Promise<TallyData> {
  const tally = new Tally();
  const until = Date.now() + ms;
  try {
    switch (cls) {
      case 'http':
        await attackHttp(target, until, tally);
        break;
      case 'socket-garbage':
        await attackSocketGarbage(target, until, tally);
        break;
      case 'member':
        await attackMember(target, until, tally);
        break;
      case 'resume':
        await attackResume(target, until, tally);
        break;
      case 'unread':
        await attackUnread(target, until, tally);
        break;
      case 'frames':
        await attackFrames(target, until, tally);
        break;
    }
  } catch (error) {
    tally.answer('attack code', 'threw');
    tally.note(`${cls} threw: ${message(error)}`);
  }
  // Late acks and replies.
  await sleep(500);
  return tally.data;
}

export async function finishPhase(): Promise<TallyData> {
  const tally = new Tally();
  await finishUnread(tally);
  return tally.data;
}
