/**
 * A run trained through three signaling server processes on one real Redis, behind a load balancer:
 * peers joined through different processes train together and end exactly where the simulator does,
 * even when the process that owns the run is killed mid-run (its peers resume through the others).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { nodePeerEnv, type Peer, simulatedParams } from '../helpers/node-peers';
import { type RedisInstance, startRedis } from '../helpers/redis-server';
import { type ServerProcess, startServerProcess } from '../helpers/server-process';
import { until } from '../helpers/signaling-members';
import { type Balancer, startBalancer } from '../helpers/tcp-balancer';

const N = 4;
const RUN = RunConfigSchema.parse({
  id: 'scaled',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
  steps: 16,
  batch: 4,
  evalEvery: 8,
  evalBatches: 1,
  seed: 7,
  // See networked-run.test.ts: a round that timed out on a loaded machine would part from the simulator.
  gossipTimeoutMs: 60_000,
});

const env = nodePeerEnv([], RUN.batch, 'cluster-training-');
const dir = mkdtempSync(join(tmpdir(), 'cluster-training-'));
let redis: RedisInstance | undefined;
let balancer: Balancer | undefined;
const servers: ServerProcess[] = [];

afterAll(async () => {
  await balancer?.close();
  await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('peers of three server processes train one run; the owner killed mid-run, they resume through the others', async () => {
  redis = await startRedis();
  const config = join(dir, 'runs.json');
  writeFileSync(config, JSON.stringify([RUN]));
  for (let i = 0; i < 3; i++) {
    servers.push(
      await startServerProcess([
        '--redis',
        redis.url,
        '--process-name',
        `p${i}`,
        '--config',
        config,
        '--data-dir',
        dir,
      ]),
    );
  }
  balancer = await startBalancer(servers.map((s) => s.port));
  const token = servers[0].token(RUN.id);
  const shared = new Redis(redis.url);
  const epochs = new Set<number>();
  const logs: string[] = [];
  let killed: Promise<string> | undefined;
  const killOwner = async () => {
    const owner = (await shared.get(`demuon:{run:${RUN.id}}:owner`))!.split('#')[0];
    await servers[Number(owner.slice(1))].stop('SIGKILL');
    return owner;
  };
  const group: Peer[] = [];
  try {
    for (let i = 0; i < N; i++) {
      group.push(
        await env.join(RUN, {
          remote: { url: balancer.url, token },
          waitForPeers: N,
          log: (line) => logs.push(line),
          onStep: (_peer, _socket, report, epoch) => {
            epochs.add(epoch.epoch);
            if (report.step === 5 && !killed) killed = killOwner();
          },
        }),
      );
    }
    // The balancer spread the peers over the processes (any process shows where each one is).
    let shown: (string | undefined)[] = [];
    await until(
      'the run state to show every member',
      () => {
        void fetch(`${servers[1].url}/api/runs/${RUN.id}`)
          .then((r) => r.json() as Promise<{ state: { members: { server?: string }[] } }>)
          .then(({ state }) => {
            shown = state.members.map((m) => m.server);
          });
        return shown.length === N;
      },
      30_000,
    );
    expect(new Set(shown).size).toBe(3);

    await Promise.all(group.map((p) => p.train()));
    const owner = await killed!;
    // The owner held every member's session: every peer resumes its place with the process that took
    // the run over, so no new epoch was made and training is the simulator's.
    await until(
      'every peer to resume its place',
      () => logs.filter((l) => l.startsWith('signaling back: resumed as')).length >= N,
      60_000,
    ).catch((error: Error) => {
      const survivors = servers.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
      throw new Error(
        `${error.message}\npeers:\n${logs.slice(-30).join('\n')}\nservers:\n${survivors.map((s) => s.output().slice(-1500)).join('\n---\n')}`,
      );
    });
    expect(epochs.size).toBe(1);
    const newOwner = (await shared.get(`demuon:{run:${RUN.id}}:owner`))!.split('#')[0];
    expect(newOwner).not.toBe(owner);
    const simulated = await simulatedParams(env, RUN, N);
    for (const [i, peer] of group.entries()) {
      expect(peer.finalParams, `peer ${i}; what the peers said:\n${logs.join('\n')}`).toEqual(simulated[i]);
    }
    // The metrics of every peer, from before and after the kill, are in the shared store.
    const live = servers.find((s) => s.child.exitCode === null && s.child.signalCode === null)!;
    const { points } = (await (await fetch(`${live.url}/api/runs/${RUN.id}/metrics.json`)).json()) as {
      points: { peer: string; step: number }[];
    };
    for (const peer of group) {
      const steps = points.filter((p) => p.peer === peer.peerId).map((p) => p.step);
      expect(steps.some((s) => s <= 5)).toBe(true);
      expect(steps).toContain(RUN.steps);
    }
  } finally {
    await shared.quit();
  }
}, 240_000);
