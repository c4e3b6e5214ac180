/**
 * Attack class `socket-garbage`: socket.io events with garbage payloads (random JSON, nesting 5000–100000
 * deep, __proto__/constructor keys and event names, oversized messages, unknown events) and engine.io junk,
 * 300 events/s on each of two raw sockets: socket.io-client's encoder would refuse or recurse through most.
 */
import { RawSocketIo } from '../helpers/raw-socket-io';
import { errorText, pick, sendIfOpen, sleep } from './hostile-attack-tools';
import type { Tally, Target } from './hostile-tally';

/** Counts the server's answers on a raw socket: error-replies and acks by code, disconnect packets. */
function countReplies(tally: Tally, kind: string, frames: readonly string[]): void {
  for (const frame of frames) {
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
  }
}

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

export async function attackSocketGarbage(target: Target, until: number, tally: Tally): Promise<void> {
  const { events, framing, heavy, tooLarge } = garbageFrames(target);
  // Lane 'events' sends well-formed events only, so that the gate (rate limit, names, depth, schemas) sees
  // them all; lane 'anything' mixes in broken framing and messages past socket.io's size limit.
  const lane = async (name: 'events' | 'anything') => {
    let n = 0;
    while (Date.now() < until) {
      let client: RawSocketIo;
      try {
        client = await RawSocketIo.connect(target.url);
      } catch (error) {
        tally.answer('connect', `connect failed: ${errorText(error).slice(0, 40)}`);
        await sleep(300);
        continue;
      }
      // Bursts of 30 every 100 ms: 300 events/s per socket, three times the server's rate limit.
      while (Date.now() < until && !client.isClosed) {
        for (let i = 0; i < 30 && !client.isClosed; i++) {
          n++;
          const [kind, build] =
            n % 25 === 0
              ? name === 'anything' && n % 100 === 0
                ? tooLarge
                : heavy[(n / 25) % heavy.length]
              : name === 'anything' && n % 3 === 0
                ? pick(framing)
                : pick(events);
          if (sendIfOpen(client, build())) tally.sent(kind);
        }
        await sleep(100);
      }
      // The replies of this connection: it is closed next, so none comes after these.
      countReplies(tally, `replies (${name} lane)`, client.frames);
      if (client.isClosed)
        tally.answer(`connection (${name} lane)`, `disconnected by the server (${name} lane)`);
      client.close();
    }
  };
  await Promise.all([lane('events'), lane('anything')]);
}
