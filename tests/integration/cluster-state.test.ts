/**
 * The shared state of a scaled-out deployment, on a real Redis: the run lease and the fenced commit that
 * keep one owner per run, and the bus between processes, which drops whatever does not parse.
 */
import { EVENTS } from '@demuon/shared/protocol';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSignalingServer, type Logger } from '../../signaling-server/src';
import { processChannel, SharedState } from '../../signaling-server/src/cluster/redis-state';
import { TestClient } from '../../signaling-server/testing/test-client';
import { fuzzRuns } from '../helpers/fuzz-runs';
import { type RedisInstance, startRedis } from '../helpers/redis-server';
import { until } from '../helpers/signaling-members';

let redis: RedisInstance;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const RUN = { id: 'r', topology: 'ring', algorithm: { name: 'demuon', lr: { eta: 0.05 } } };

describe('the run lease', () => {
  it('lets one process own a run, and a commit succeed only while its lease holds', async () => {
    const [a, b] = await Promise.all([SharedState.connect(redis.url), SharedState.connect(redis.url)]);
    try {
      const leaseMs = 300;
      expect(await a.claim('lease', 'A', leaseMs)).toBe(true);
      expect(await b.claim('lease', 'B', leaseMs)).toBe(false);
      expect(await a.commit('lease', 'A', 3, 4, '{"epoch":3}')).toBe('ok');
      expect(await a.epochs('lease')).toEqual({ last: 4, committed: 3 });
      // Never over a newer epoch, and never by another process.
      expect(await a.commit('lease', 'A', 2, 4, '{"epoch":2}')).toBe('stale');
      expect(await b.commit('lease', 'B', 5, 5, '{"epoch":5}')).toBe('not-owner');
      expect(await a.membership('lease')).toBe('{"epoch":3}');
      // Renewals record the last epoch number handed out, which only grows.
      expect(await a.claim('lease', 'A', leaseMs, 9)).toBe(true);
      expect(await a.claim('lease', 'A', leaseMs, 6)).toBe(true);
      expect((await a.epochs('lease')).last).toBe(9);
      // A frozen owner: its lease runs out, another takes the run, and the old one's commit fails.
      let taken = false;
      await until(
        'the lease to run out',
        () => {
          void b.claim('lease', 'B', leaseMs).then((ok) => {
            taken ||= ok;
          });
          return taken;
        },
        5000,
      );
      expect(await a.commit('lease', 'A', 10, 10, '{"epoch":10}')).toBe('not-owner');
      expect(await a.claim('lease', 'A', leaseMs)).toBe(false);
      // Taking from a process known to be gone works only while that process holds the lease.
      expect(await a.takeFrom('lease', 'A', 'C', leaseMs)).toBe(false);
      expect(await a.takeFrom('lease', 'B', 'C', leaseMs)).toBe(true);
      expect(await a.owner('lease')).toBe('C');
      await a.release('lease', 'B');
      expect(await a.owner('lease')).toBe('C');
      await a.release('lease', 'C');
      expect(await a.owner('lease')).toBe(null);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('creates a run once, within the number of runs allowed', async () => {
    const state = await SharedState.connect(redis.url);
    try {
      const config = { id: 'made' } as never;
      const run = { config, token: 'x'.repeat(16), createdAt: 1 };
      const outcomes = await Promise.all([0, 1, 2].map(() => state.createRun(run, 1000)));
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'exists')).toHaveLength(2);
      const count = (await state.redis.hlen('demuon:runs')) as number;
      expect(await state.createRun({ ...run, config: { id: 'one-too-many' } as never }, count)).toBe('full');
    } finally {
      await state.close();
    }
  });
});

describe('the bus between processes', () => {
  const RUNS = fuzzRuns(300);

  it(`drops ${RUNS} garbage and forged messages on a process's channel, and serves on unchanged`, async () => {
    const warnings: string[] = [];
    const log: Logger = { info() {}, warn: (line) => warnings.push(line) };
    const server = await createSignalingServer({
      port: 0,
      dataDir: '/nonexistent',
      runs: [RUN],
      log,
      redis: redis.url,
      processName: 'bus-fuzz',
      heartbeatTimeoutMs: 600_000,
    });
    const publisher = new Redis(redis.url);
    const clients: TestClient[] = [];
    try {
      const token = JSON.parse((await publisher.hget('demuon:runs', 'r'))!).token as string;
      for (let i = 0; i < 3; i++) {
        const client = await TestClient.connect(server.url);
        clients.push(client);
        await client.join('r', token);
      }
      await until('three members in one epoch', () => clients.every((c) => c.current?.members.length === 3));
      const membership = () => {
        const state = server.runs.get('r')!.state(Date.now());
        return { epoch: state.epoch, members: state.members.map((m) => [m.peer, m.away]) };
      };
      const before = membership();
      const channel = processChannel(server.processName!);
      const kinds = fc.constantFrom(
        'event',
        'gone',
        'emit',
        'ack',
        'join-room',
        'disconnect',
        'not-owner',
        'resync',
      );
      // Shaped like messages, but for sockets that do not exist (a real socket id would make them real).
      const forged = fc.record(
        {
          kind: kinds,
          from: fc.string(),
          socket: fc.string({ maxLength: 30 }).map((s) => `nobody-${s}`),
          run: fc.constantFrom('r', 'nope', ''),
          event: fc.constantFrom(...Object.values(EVENTS), 'x'),
          args: fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 3 }),
          ack: fc.oneof(fc.constant(null), fc.integer()),
          detached: fc.boolean(),
          message: fc.jsonValue({ maxDepth: 2 }),
          reply: fc.jsonValue({ maxDepth: 2 }),
          room: fc.string(),
        },
        { requiredKeys: ['kind'] },
      );
      const text = fc.oneof(
        forged.map((m) => JSON.stringify(m)),
        fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
        fc.string(),
      );
      await fc.assert(
        fc.asyncProperty(text, async (message) => {
          await publisher.publish(channel, message);
        }),
        { numRuns: RUNS },
      );
      // The process still answers, through the same bus, and nothing of the run moved.
      const reply = await clients[0].request(EVENTS.heartbeat, {});
      expect(reply).toEqual({ ok: true });
      expect(membership()).toEqual(before);
      // Garbage was seen and dropped with a warning, and nothing else went wrong.
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings.filter((w) => !w.startsWith('process bus: '))).toEqual([]);
    } finally {
      for (const client of clients) client.close();
      await publisher.quit();
      await server.close();
    }
  });
});
