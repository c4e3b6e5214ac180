/**
 * The headless peer as users start it: `npm run peer` processes against a signaling server on loopback.
 * Two peers train together; Ctrl-C makes one leave cleanly and the other goes on alone; bad flags and a
 * wrong token end with an error that names them.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { endlessTinyRun, killPeers, startPeer as startPeerProcess, until } from '../helpers/peer-process';

const RUN = endlessTinyRun('cli');

let server: SignalingServer;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'peer-cli-'));
  server = await createSignalingServer({ port: 0, dataDir, runs: [RUN], log: silentLogger });
});

afterAll(async () => {
  await killPeers(children);
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const startPeer = (args: string[]) => startPeerProcess(args, children);

const token = () => server.runs.get(RUN.id)!.secretToken();
const peerArgs = (name: string) => [
  // `--token=…`: a token may start with '-', which parseArgs would take for a flag.
  ...['--server', server.url, '--run', RUN.id, `--token=${token()}`],
  ...['--name', name, '--wait-for', '2', '--backend', 'cpu'],
];

async function runState() {
  const response = await fetch(`${server.url}/api/runs/${RUN.id}`);
  return (await response.json()) as { state: { members: { peer: string; name?: string; step?: number }[] } };
}

async function metricsOf(): Promise<{ peer: string; step: number; epoch: number }[]> {
  const response = await fetch(`${server.url}/api/runs/${RUN.id}/metrics.json`);
  return ((await response.json()) as { points: { peer: string; step: number; epoch: number }[] }).points;
}

it('two peer processes train together; Ctrl-C leaves cleanly and the other goes on', async () => {
  const a = startPeer(peerArgs('a'));
  const b = startPeer(peerArgs('b'));
  // Both report metrics for step 5 or later: they joined, connected over WebRTC and trained together.
  await until('both peers to report step 5', async () => {
    const points = await metricsOf();
    const peers = new Set(points.filter((p) => p.step >= 5).map((p) => p.peer));
    return peers.size === 2 ? true : undefined;
  });
  expect(a.output).toContain('optimizer backend: CPU');

  b.child.kill('SIGINT');
  expect(await b.exited).toBe(0);
  expect(b.output).toContain('leaving after this step');
  const alone = await until('the run to have one member', async () => {
    const { state } = await runState();
    return state.members.length === 1 ? state.members[0] : undefined;
  });
  expect(alone.name).toBe('a');

  // Peer a goes on in an epoch of its own and keeps reporting.
  const before = Math.max(...(await metricsOf()).filter((p) => p.peer === alone.peer).map((p) => p.step));
  await until('peer a to report 10 more steps', async () => {
    const steps = (await metricsOf()).filter((p) => p.peer === alone.peer).map((p) => p.step);
    return Math.max(...steps) >= before + 10 ? true : undefined;
  });
  a.child.kill('SIGINT');
  expect(await a.exited).toBe(0);
  await until('the run to be empty', async () =>
    (await runState()).state.members.length === 0 ? true : undefined,
  );
}, 120_000);

it('refuses a wrong token and bad flags with errors that name them', async () => {
  const wrongToken = startPeer(['--server', server.url, '--run', RUN.id, '--token', 'not-the-token']);
  expect(await wrongToken.exited).toBe(1);
  expect(wrongToken.output).toMatch(/refused.*wrong token/);

  const badBackend = startPeer([...peerArgs('c'), '--backend', 'gpu']);
  expect(await badBackend.exited).toBe(1);
  expect(badBackend.output).toContain("--backend must be one of auto, cpu, webgpu, got 'gpu'");

  const badWait = startPeer([...peerArgs('d'), '--wait-for', '0']);
  expect(await badWait.exited).toBe(1);
  expect(badWait.output).toContain("--wait-for must be a positive integer, got '0'");
}, 60_000);
