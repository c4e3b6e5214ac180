/**
 * Property-based: random and malformed payloads for every event a client can send, over real socket.io
 * on loopback, from members and from a socket that never joined: arbitrary JSON, payloads nested far
 * deeper than any event needs, big strings, prototype keys (`__proto__`, `constructor`), well-formed
 * events with values out of range, and unknown event names. Whatever arrives, the server answers (never
 * 'internal', never silence), refuses with a code of REFUSAL_CODES everything its schema refuses, and a
 * refused event changes nothing: members, epoch, links, steps, statuses, metrics. The process survives
 * all of it (the server runs inside it). FUZZ_RUNS sets the number of cases (default 1000). The same
 * holds scaled out on Redis, where every event crosses the gateway, the bus and the owner's session.
 */
import {
  AckSchema,
  CollectSchema,
  EpochReadySchema,
  EVENTS,
  HeartbeatSchema,
  JoinSchema,
  MetricsSchema,
  MISS_REASONS,
  NeighbourMissedSchema,
  NeighbourStatusQuerySchema,
  PEER_PHASES,
  ProgressSchema,
  REFUSAL_CODES,
  RunStateSchema,
  SignalSchema,
  WatchSchema,
} from '@demuon/shared/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import type { Logger } from '../../signaling-server/src';
import type { TestClient } from '../../signaling-server/testing/test-client';
import { fuzzRuns, fuzzTimeoutMs } from '../helpers/fuzz-runs';
import { type RedisInstance, startRedis } from '../helpers/redis-server';
import { RUN_ID, run, runState, signalingMembers, until } from '../helpers/signaling-members';
import { OFFER } from '../helpers/signals';

const { start, connect, members } = signalingMembers('signaling-fuzz-');
const RUNS = fuzzRuns(1000);
/** Scaled out, each case costs a few Redis round trips more. */
const CLUSTER_RUNS = Math.ceil(RUNS / 3);

const SCHEMAS: Record<string, z.ZodType> = {
  [EVENTS.join]: JoinSchema,
  [EVENTS.signal]: SignalSchema,
  [EVENTS.progress]: ProgressSchema,
  [EVENTS.heartbeat]: HeartbeatSchema.optional(),
  [EVENTS.metrics]: MetricsSchema,
  [EVENTS.watch]: WatchSchema,
  [EVENTS.epochReady]: EpochReadySchema,
  [EVENTS.neighbourMissed]: NeighbourMissedSchema,
  [EVENTS.neighbourStatus]: NeighbourStatusQuerySchema,
  [EVENTS.collect]: CollectSchema,
};
const CLIENT_EVENTS = [...Object.keys(SCHEMAS), EVENTS.leave];
/** Names socket.io-client refuses to emit: they are its own. */
const RESERVED = new Set([
  'connect',
  'connect_error',
  'disconnect',
  'disconnecting',
  'newListener',
  'removeListener',
]);

/** Numbers as they come: fine, negative, fractional, huge, not finite, or not numbers at all. */
const number = fc.oneof(
  { arbitrary: fc.nat(1000), weight: 6 },
  fc.integer(),
  fc.double(),
  fc.constantFrom(
    Number.MAX_SAFE_INTEGER,
    Number.MAX_SAFE_INTEGER + 2,
    -0,
    Number.NaN,
    Number.POSITIVE_INFINITY,
  ),
  fc.string({ maxLength: 4 }),
  fc.constant(null),
);

/** `levels` levels of arrays or objects around a JSON value: past 32, the server does not read it. */
const deep = fc
  .tuple(fc.integer({ min: 1, max: 2000 }), fc.boolean(), fc.jsonValue({ maxDepth: 1 }))
  .map(([levels, arrays, inner]) => {
    let value: unknown = inner;
    for (let i = 0; i < levels; i++) value = arrays ? [value] : { k: value };
    return value;
  });

/** A string of up to 300 000 characters (a message stays under socket.io's 1 MB limit). */
const big = fc.integer({ min: 1000, max: 300_000 }).map((n) => 'x'.repeat(n));

/** Keys that mean something to JavaScript objects, as own properties of a parsed payload. */
const prototypeKeys = fc
  .tuple(
    fc.uniqueArray(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty'),
      {
        minLength: 1,
      },
    ),
    fc.jsonValue({ maxDepth: 2 }),
  )
  .map(([keys, value]) => keys.map((key) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(','));

/** Adds prototype keys to a payload object, as JSON.parse makes them: own properties, not prototypes. */
function withPrototypeKeys(base: fc.Arbitrary<object>) {
  return fc
    .tuple(base, prototypeKeys)
    .map(([b, keys]) =>
      JSON.parse(`{${keys}${Object.keys(b).length > 0 ? `,${JSON.stringify(b).slice(1)}` : '}'}`),
    );
}

function payloads(ids: string[], secrets: string[], token: string, epoch: number) {
  const peer = fc.oneof(
    { arbitrary: fc.constantFrom(...ids), weight: 3 },
    { arbitrary: fc.stringMatching(/^[\w-]{1,64}$/), weight: 2 },
    fc.string({ maxLength: 70 }),
    fc.integer(),
    fc.constant(null),
  );
  const extra = fc.dictionary(fc.string({ maxLength: 8 }), fc.anything({ maxDepth: 2 }), { maxKeys: 2 });
  const withExtra = <T extends object>(base: fc.Arbitrary<T>) =>
    fc
      .tuple(base, fc.oneof({ arbitrary: fc.constant({}), weight: 3 }, extra))
      .map(([b, e]) => ({ ...b, ...e }));
  const status = fc.record(
    {
      step: number,
      phase: fc.oneof(fc.constantFrom(...PEER_PHASES), fc.string({ maxLength: 12 })),
      phaseMs: number,
      stepMs: number,
      waitingFor: peer,
    },
    { requiredKeys: ['step', 'phase', 'phaseMs'] },
  );
  // Reports about the current epoch name no real neighbour here: a valid one could remove a member.
  const reportEpoch = fc.oneof(number, fc.constant(epoch)).filter((e) => e !== epoch);
  // A join with the run's token but no resume would add a member: the token goes with a resume only.
  const join = fc
    .record(
      {
        runId: fc.oneof(fc.constantFrom('r', 'default'), fc.string({ maxLength: 70 })),
        token: fc.oneof(fc.constant(token), fc.string({ maxLength: 40 })),
        platform: fc.oneof(fc.constantFrom('node', 'browser'), fc.string({ maxLength: 8 })),
        backend: fc.oneof(fc.constantFrom('cpu', 'wasm', 'webgpu'), fc.string({ maxLength: 8 })),
        name: fc.oneof(fc.string({ maxLength: 120 }), big),
        resume: fc.record(
          {
            peerId: peer,
            secret: fc.oneof(fc.constantFrom(...secrets), fc.string({ maxLength: 40 }), number),
          },
          { requiredKeys: [] },
        ),
        checkpoint: fc.record(
          { step: number, fingerprint: fc.oneof(fc.string({ maxLength: 70 }), number) },
          { requiredKeys: [] },
        ),
      },
      { requiredKeys: ['platform', 'backend'] },
    )
    .map((j) => (j.token === token && !j.resume ? { ...j, token: 'not-the-token' } : j));
  const metrics = fc.record(
    {
      step: number,
      epoch: fc.oneof(number, fc.constant(epoch)),
      bytesSent: number,
      bytesReceived: number,
      trainLoss: number,
      links: fc.oneof(fc.constant([]), fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 3 })),
    },
    { requiredKeys: ['step', 'epoch', 'bytesSent', 'bytesReceived'] },
  );
  const signalData = fc.oneof(
    fc.constant(OFFER),
    fc.record({
      type: fc.constantFrom('offer', 'answer', 'candidate', 'renegotiate'),
      sdp: fc.oneof(fc.string(), big),
    }),
    fc.record({ type: fc.constant('candidate'), candidate: fc.anything({ maxDepth: 2 }) }),
    fc.anything({ maxDepth: 3 }),
  );
  const wellFormedish: fc.Arbitrary<[string, unknown]>[] = [
    fc.tuple(fc.constant(EVENTS.join), join),
    fc.tuple(fc.constant(EVENTS.signal), withExtra(fc.record({ to: peer, data: signalData }))),
    fc.tuple(fc.constant(EVENTS.progress), withExtra(fc.record({ step: number }))),
    fc.tuple(fc.constant(EVENTS.metrics), withExtra(metrics)),
    fc.tuple(
      fc.constant(EVENTS.watch),
      withExtra(fc.record({ runId: fc.oneof(fc.constantFrom('r', 'nope'), peer) })),
    ),
    fc.tuple(fc.constant(EVENTS.epochReady), withExtra(fc.record({ epoch: number, barrier: number }))),
    fc.tuple(
      fc.constant(EVENTS.neighbourMissed),
      withExtra(
        fc.oneof(
          fc.record({
            peer,
            epoch: reportEpoch,
            step: number,
            reason: fc.oneof({ arbitrary: fc.constantFrom(...MISS_REASONS), weight: 3 }, fc.string()),
          }),
          fc.record({
            peer: fc.string({ minLength: 70 }),
            epoch: fc.constant(epoch),
            step: fc.nat(),
            reason: fc.constant('closed'),
          }),
        ),
      ),
    ),
    fc.tuple(fc.constant(EVENTS.neighbourStatus), withExtra(fc.record({ peer }))),
    fc.tuple(
      fc.constant(EVENTS.collect),
      withExtra(
        fc.record({ runId: fc.oneof(fc.constantFrom('r', 'nope'), peer), peer }, { requiredKeys: ['runId'] }),
      ),
    ),
    fc.tuple(
      fc.constant(EVENTS.heartbeat),
      fc.oneof(withExtra(fc.record({ status }, { requiredKeys: [] })), fc.constant({})),
    ),
  ];
  const anyEvent = fc.oneof(
    { arbitrary: fc.constantFrom(...CLIENT_EVENTS), weight: 8 },
    fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'error-reply', 'epoch'),
    fc.string({ maxLength: 70 }).filter((name) => !RESERVED.has(name)),
  );
  const plausible = fc.oneof(...wellFormedish.map((a) => a.map(([, payload]) => payload as object)));
  return fc.oneof(
    { arbitrary: fc.oneof(...wellFormedish), weight: 10 },
    fc.tuple(anyEvent, fc.jsonValue({ maxDepth: 4 })),
    fc.tuple(anyEvent, fc.anything({ maxDepth: 3 })),
    fc.tuple(anyEvent, deep),
    fc.tuple(anyEvent, fc.record({ to: peer, data: deep, step: deep })),
    fc.tuple(anyEvent, fc.oneof(big, fc.record({ step: fc.nat(10), name: big }))),
    fc.tuple(anyEvent, withPrototypeKeys(plausible)),
  );
}

let redis: RedisInstance | undefined;
afterAll(async () => {
  await redis?.stop();
});

describe.each([
  { setup: 'one process', cases: RUNS, scaledOut: false },
  { setup: 'scaled out on Redis', cases: CLUSTER_RUNS, scaledOut: true },
])('$setup', ({ cases, scaledOut }) => {
  beforeAll(async () => {
    if (scaledOut) redis ??= await startRedis();
  });

  it(
    `answers ${cases} random, deep, big or malformed payloads of every event, refuses with a code, and keeps the run intact`,
    async () => {
      const warnings: string[] = [];
      const log: Logger = { info() {}, warn: (line) => warnings.push(line) };
      const server = await start({
        heartbeatTimeoutMs: 600_000,
        limits: { eventsPerSecond: 1e9, eventBurst: 1e9 },
        log,
        ...(scaledOut ? { redis: redis!.url, processName: `fuzz-${Date.now()}` } : {}),
      });
      if (scaledOut) {
        // The process takes the run up with the first socket that needs it (here: a watcher).
        await (await connect(server)).request(EVENTS.watch, { runId: RUN_ID });
        await until('the process to own the run', () => server.runs.get(RUN_ID) !== undefined);
      }
      const { peers, epochs } = await members(server, 3);
      // From here on no proposal is made: answers are the test's, and their refusals reach it.
      for (const peer of peers) peer.barrier = null;
      const stranger = await connect(server);
      const ids = peers.map((p) => p.peerId);
      const secrets = peers.map((p) => p.secret);
      const { epoch } = epochs[0];
      /** What refused input must not change: everything but the clocks. */
      const intact = () => {
        const state = runState(server);
        return {
          epoch: state.epoch,
          activationStep: state.activationStep,
          pending: state.pending,
          members: state.members.map(({ peer, away, name, index, step, status, latest }) => ({
            ...{ peer, away, name, index, step, status, latest },
          })),
          links: state.links,
          failedLinks: state.failedLinks,
          points: run(server).metrics.points().length,
        };
      };
      const membership = () => {
        const { epoch, pending, members, links } = intact();
        return { epoch, pending, members: members.map((m) => m.peer), links };
      };
      const unchangedMembership = membership();

      await fc.assert(
        fc.asyncProperty(
          fc.nat(3),
          payloads(ids, secrets, run(server).secretToken(), epoch),
          async (sender, [event, payload]) => {
            // A member's valid `leave` would end the run for this test: leaving is tried by the stranger.
            const client: TestClient = sender === 3 || event === EVENTS.leave ? stranger : peers[sender];
            const before = intact();
            const reply = AckSchema.parse(await client.request(event, payload));
            // What the server parsed is what arrived: the payload after socket.io's JSON encoding.
            const arrived = JSON.parse(JSON.stringify([payload ?? null]))[0];
            const schema = SCHEMAS[event];
            if (!CLIENT_EVENTS.includes(event) || (schema && !schema.safeParse(arrived).success)) {
              expect(reply.ok, `${event} ${JSON.stringify(arrived)?.slice(0, 200)}`).toBe(false);
            }
            if (!reply.ok) {
              expect(REFUSAL_CODES).toContain(reply.error.code);
              expect(reply.error.code).not.toBe('internal');
              expect(await client.error()).toMatchObject({
                code: reply.error.code,
                event: event.slice(0, 64),
              });
              expect(intact()).toEqual(before);
            }
            expect(membership()).toEqual(unchangedMembership);
          },
        ),
        { numRuns: cases },
      );

      expect(warnings).toEqual([]);
      expect(RunStateSchema.safeParse(run(server).state(Date.now())).success).toBe(true);
      for (const peer of peers) expect(peer.drain(EVENTS.evicted)).toEqual([]);
      // Still serving: neighbours signal each other.
      peers[1].drain(EVENTS.signal);
      expect(await peers[0].request(EVENTS.signal, { to: ids[1], data: OFFER })).toEqual({ ok: true });
      expect(await peers[1].next(EVENTS.signal)).toEqual({ from: ids[0], data: OFFER });
    },
    fuzzTimeoutMs(cases, 30),
  );
});
