/**
 * A frozen server process (SIGSTOP) that owns a run: its lease runs out, another process takes the run
 * over and its members resume there; thawed, the frozen one finds its lease gone, steps down and sends
 * nothing it made meanwhile, so no two epochs ever share a number.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENTS } from '@demuon/shared/protocol';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { TestClient } from '../../signaling-server/testing/test-client';
import { type RedisInstance, startRedis } from '../helpers/redis-server';
import { type ServerProcess, startServerProcess } from '../helpers/server-process';
import { until } from '../helpers/signaling-members';

const RUN = { id: 'r', topology: 'ring', algorithm: { name: 'demuon', lr: { eta: 0.05 } } };
const dir = mkdtempSync(join(tmpdir(), 'cluster-failover-'));
let redis: RedisInstance | undefined;
const servers: ServerProcess[] = [];
const clients: TestClient[] = [];

afterAll(async () => {
  for (const client of clients) client.close();
  for (const server of servers) server.child.kill('SIGCONT');
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function connect(server: ServerProcess): Promise<TestClient> {
  const client = await TestClient.connect(server.url);
  clients.push(client);
  return client;
}

it("takes a frozen owner's run over; thawed, the old owner steps down and publishes nothing", async () => {
  redis = await startRedis();
  const config = join(dir, 'runs.json');
  writeFileSync(config, JSON.stringify([RUN]));
  const args = (name: string) => [
    ...['--redis', redis!.url, '--process-name', name, '--config', config, '--data-dir', dir],
    ...['--heartbeat-ms', '3000'],
  ];
  const [p0, p1] = [await startServerProcess(args('p0')), await startServerProcess(args('p1'))];
  servers.push(p0, p1);
  const token = p0.token(RUN.id);
  const shared = new Redis(redis.url);
  try {
    // Every epoch and proposal any member is sent, by number: one number must always mean one membership.
    const epochs = new Map<number, Set<string>>();
    const record = (client: TestClient) => {
      for (const event of [EVENTS.epoch, EVENTS.epochPropose]) {
        client.socket.on(event, (epoch: { epoch: number; members: string[] }) => {
          const seen = epochs.get(epoch.epoch) ?? new Set();
          seen.add(epoch.members.join(','));
          epochs.set(epoch.epoch, seen);
        });
      }
    };
    const onP0 = await connect(p0);
    record(onP0);
    await onP0.join(RUN.id, token); // p0 is the first to need the run: it owns it
    expect((await shared.get(`demuon:{run:${RUN.id}}:owner`))?.startsWith('p0#')).toBe(true);
    const onP1 = await connect(p1);
    record(onP1);
    await onP1.join(RUN.id, token);
    await until('both members in one epoch', () => onP1.current?.members.length === 2, 10_000);
    const before = onP1.current!.epoch;

    p0.child.kill('SIGSTOP');
    // p1's member keeps beating; once the frozen owner's lease has run out, p1 takes the run over and
    // makes its member reconnect, which resumes its place there.
    const gone = new Promise((resolve) => onP1.socket.once('disconnect', resolve));
    const stopBeats = onP1.heartbeats(300);
    await gone;
    stopBeats();
    const back = await connect(p1);
    record(back);
    const ack = await back.join(RUN.id, token, { resume: { peerId: onP1.peerId, secret: onP1.secret } });
    expect(ack.peerId).toBe(onP1.peerId);
    back.heartbeats(300);
    expect((await shared.get(`demuon:{run:${RUN.id}}:owner`))?.startsWith('p1#')).toBe(true);
    // The new owner goes on: a new member joins through p1 and gets an epoch.
    const late = await connect(p1);
    record(late);
    await late.join(RUN.id, token);
    late.heartbeats(300);
    await until('an epoch with the new member', () => late.current !== undefined, 10_000);

    // Thawed, p0 learns that p1 holds the run, steps down, and hands out nothing.
    p0.child.kill('SIGCONT');
    await until('p0 to step down', () => p0.output().includes('stepped down'), 15_000);
    await until(
      'the member frozen with p0 to be dropped by the new owner',
      () => (late.current?.members.includes(onP0.peerId) ?? true) === false,
      20_000,
    );
    for (const [number, memberships] of epochs) expect([number, memberships.size]).toEqual([number, 1]);
    expect(late.current!.epoch).toBeGreaterThan(before);
  } finally {
    await shared.quit();
  }
}, 90_000);
