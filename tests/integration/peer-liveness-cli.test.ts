/**
 * A headless peer frozen like a closed laptop lid (SIGSTOP) for longer than the eviction timeout: its
 * neighbours go on without it, and once it thaws (SIGCONT) it learns it was evicted, stops, and joins
 * again by itself as a late joiner. A peer process that crashes in native code (the WebRTC binding can,
 * on a send racing a channel's close; most often right after such a thaw) is started again and joins
 * again the same way.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { killPeers, startPeer, tail, until } from '../helpers/peer-process';

const RUN = RunConfigSchema.parse({
  id: 'lid',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05 } },
  steps: 100_000,
  batch: 4,
  evalEvery: 1000,
  evalBatches: 1,
});
const HEARTBEAT_TIMEOUT_MS = 4000;

let server: SignalingServer;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'peer-lid-'));
  server = await createSignalingServer({
    port: 0,
    dataDir,
    runs: [RUN],
    log: silentLogger,
    heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
  });
});

afterAll(async () => {
  await killPeers(children);
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

type Member = { peer: string; name?: string };
const members = async () => {
  const response = await fetch(`${server.url}/api/runs/${RUN.id}`);
  return ((await response.json()) as { state: { members: Member[] } }).state.members;
};
const points = async () => {
  const response = await fetch(`${server.url}/api/runs/${RUN.id}/metrics.json`);
  return ((await response.json()) as { points: { peer: string; step: number }[] }).points;
};
const lastStep = async (peer: string) =>
  Math.max(-1, ...(await points()).filter((p) => p.peer === peer).map((p) => p.step));
/** The id of the member named `name` (other than `not`) once it has a step to show; undefined before. */
const trainingMember = async (name: string, not?: string) => {
  const peer = (await members()).find((m) => m.name === name && m.peer !== not);
  return peer && (await lastStep(peer.peer)) >= 0 ? peer.peer : undefined;
};
const args = (name: string, waitFor = 1) => [
  ...['--server', server.url, '--run', RUN.id, `--token=${server.runs.get(RUN.id)!.secretToken()}`],
  ...['--name', name, '--wait-for', String(waitFor), '--backend', 'cpu', '--threads', '1'],
];

it('a peer frozen past the eviction timeout rejoins by itself once it thaws; the others go on', async () => {
  const [a, b, c] = ['a', 'b', 'c'].map((name) => startPeer(args(name, 3), children));
  const byName = await until('three members training', async () => {
    const list = await members();
    if (list.length !== 3) return undefined;
    const steps = await Promise.all(list.map((m) => lastStep(m.peer)));
    return steps.every((s) => s >= 3) ? new Map(list.map((m) => [m.name, m.peer])) : undefined;
  });
  const frozen = byName.get('c')!;

  c.signal('SIGSTOP');
  const stoppedAt = Date.now();
  await until('the frozen peer to be removed and the eviction timeout to pass', async () =>
    !(await members()).some((m) => m.peer === frozen) && Date.now() - stoppedAt > HEARTBEAT_TIMEOUT_MS + 1000
      ? true
      : undefined,
  );
  // The two others train on without it.
  const others = [byName.get('a')!, byName.get('b')!];
  const before = await Promise.all(others.map(lastStep));
  await until('the others to train 5 more steps', async () => {
    const now = await Promise.all(others.map(lastStep));
    return now.every((s, i) => s >= before[i] + 5) ? true : undefined;
  });

  c.signal('SIGCONT');
  // A member named c under a new id that trains. Under load the first membership after the thaw can end
  // too (its socket drops as the frozen connection times out) and the peer joins once more, by itself.
  await until(
    'the thawed peer to join again under a new id and train',
    () => trainingMember('c', frozen),
    90_000,
    () => tail(c),
  );
  // Thawed, it either reads its eviction or dies in the WebRTC binding on a link closed meanwhile and is
  // started again: either way a new membership.
  expect(c.output).toMatch(/evicted|the peer process crashed \(SIGSEGV, in native code\); starting it again/);
  expect(c.output).toMatch(/joined run 'lid' as .*[\s\S]*joined run 'lid' as /);
  // Nobody exited: the frozen peer came back instead of training on alone.
  for (const p of [a, b, c]) expect(p.child.exitCode).toBeNull();
  // Its first step after rejoining uses a neighbour's state, not its own stale one.
  expect(c.output).toMatch(/took parameters and optimizer state from/);
}, 180_000);

it('a peer process that crashes in native code is started again and joins again as a late joiner', async () => {
  const d = startPeer(args('d'), children);
  const first = await until('d to join and train', () => trainingMember('d'));
  // The supervisor's one child is the peer that trains: crash it as the WebRTC binding would.
  const worker = Number(readFileSync(`/proc/${d.child.pid}/task/${d.child.pid}/children`, 'utf8').trim());
  expect(worker).toBeGreaterThan(0);
  process.kill(worker, 'SIGSEGV');
  await until(
    'd to join again under a new id and train',
    () => trainingMember('d', first),
    90_000,
    () => tail(d),
  );
  expect(d.output).toMatch(/the peer process crashed \(SIGSEGV, in native code\); starting it again/);
  expect(d.output).toMatch(/took parameters and optimizer state from/);
  expect(d.child.exitCode).toBeNull();
}, 120_000);
