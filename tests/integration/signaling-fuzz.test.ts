/**
 * Property-based: random and malformed payloads for the events members send while training
 * (`epoch-ready`, `neighbour-missed`, `neighbour-status`, `heartbeat`), over real socket.io on loopback.
 * Whatever arrives, the server answers (never 'internal', never silence), refuses exactly what the
 * event's schema refuses with 'bad-event', and the run keeps its members, epoch and links.
 */
import {
  AckSchema,
  EpochReadySchema,
  EVENTS,
  HeartbeatSchema,
  MISS_REASONS,
  NeighbourMissedSchema,
  NeighbourStatusQuerySchema,
  PEER_PHASES,
  RunStateSchema,
} from '@demuon/shared/protocol';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { z } from 'zod';
import type { Logger } from '../../signaling-server/src';
import { run, runState, signalingMembers } from '../helpers/signaling-members';

const { start, members } = signalingMembers('signaling-fuzz-');

const SCHEMAS: Record<string, z.ZodType> = {
  [EVENTS.epochReady]: EpochReadySchema,
  [EVENTS.neighbourMissed]: NeighbourMissedSchema,
  [EVENTS.neighbourStatus]: NeighbourStatusQuerySchema,
  [EVENTS.heartbeat]: HeartbeatSchema.optional(),
};
/** What a well-formed event may still be refused with here: nothing it says is about a live proposal. */
const ALLOWED_REFUSALS = new Set(['stale-epoch', 'not-neighbour']);

/** Numbers as they come: fine, negative, fractional, huge, not finite, or not numbers at all. */
const number = fc.oneof(
  { arbitrary: fc.nat(1000), weight: 6 },
  fc.integer(),
  fc.double(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, -0, Number.NaN, Number.POSITIVE_INFINITY),
  fc.string({ maxLength: 4 }),
  fc.constant(null),
);

function payloads(ids: string[], epoch: number) {
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
  return fc.oneof(
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
      fc.constant(EVENTS.heartbeat),
      fc.oneof(withExtra(fc.record({ status }, { requiredKeys: [] })), fc.constant({})),
    ),
    fc.tuple(
      fc.constantFrom(EVENTS.epochReady, EVENTS.neighbourMissed, EVENTS.neighbourStatus, EVENTS.heartbeat),
      fc.anything({ maxDepth: 3 }),
    ),
  );
}

it('answers every random or malformed payload, refuses what its schema refuses, and keeps the run intact', async () => {
  const warnings: string[] = [];
  const log: Logger = { info() {}, warn: (line) => warnings.push(line) };
  const server = await start({
    heartbeatTimeoutMs: 60_000,
    limits: { eventsPerSecond: 100_000, eventBurst: 100_000 },
    log,
  });
  const { peers, epochs } = await members(server, 3);
  // From here on no proposal is made: answers are the test's, and their refusals reach it.
  for (const peer of peers) peer.barrier = null;
  const ids = peers.map((p) => p.peerId);
  const { epoch } = epochs[0];
  const intact = () => {
    const state = runState(server);
    return {
      epoch: state.epoch,
      pending: state.pending,
      members: state.members.map((m) => m.peer),
      links: state.links,
    };
  };
  const before = intact();

  await fc.assert(
    fc.asyncProperty(fc.nat(2), payloads(ids, epoch), async (sender, [event, payload]) => {
      const client = peers[sender];
      const reply = AckSchema.parse(await client.request(event, payload));
      // What the server parsed is what arrived: the payload after socket.io's JSON encoding.
      const arrived = JSON.parse(JSON.stringify([payload]))[0];
      if (!SCHEMAS[event].safeParse(arrived).success) {
        expect(reply).toMatchObject({ ok: false, error: { code: 'bad-event' } });
        expect(await client.error()).toMatchObject({ code: 'bad-event', event });
      } else if (!reply.ok) {
        expect(ALLOWED_REFUSALS).toContain(reply.error.code);
        expect(await client.error()).toMatchObject({ code: reply.error.code, event });
      }
      expect(intact()).toEqual(before);
    }),
    { numRuns: 1000 },
  );

  expect(warnings).toEqual([]);
  expect(RunStateSchema.safeParse(run(server).state(Date.now())).success).toBe(true);
  for (const peer of peers) expect(peer.drain(EVENTS.evicted)).toEqual([]);
  // Still serving: neighbours signal each other.
  expect(await peers[0].request(EVENTS.signal, { to: ids[1], data: { after: true } })).toEqual({ ok: true });
  expect(await peers[1].next(EVENTS.signal)).toEqual({ from: ids[0], data: { after: true } });
});
