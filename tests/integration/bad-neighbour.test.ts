/**
 * A member that gossips its parameters ×1e30 (`npm run peer -- --byzantine scale:1e30`), among honest
 * headless peers on a real server and real WebRTC. With plain gossip its neighbours' states turn
 * non-finite: they notice within the step, say so (a NaN loss the server keeps and the CSV shows), and
 * join again to take a neighbour's state. With robust mixing they never turn non-finite and train on.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { killPeers, startPeer, stepLine, until } from '../helpers/peer-process';

const run = (id: string, extra: Record<string, unknown>) =>
  RunConfigSchema.parse({
    id,
    model: { preset: 'tiny', vocab: 512 },
    topology: 'ring',
    algorithm: { name: 'demuon', lr: { eta: 0.02 } },
    batch: 4,
    evalBatches: 1,
    ...extra,
  });
const PLAIN = run('plain', { steps: 100_000, evalEvery: 1000 });
const ROBUST_STEPS = 24;
const ROBUST = run('robust', { steps: ROBUST_STEPS, evalEvery: 12, robustMixing: { suspects: 1 } });

let server: SignalingServer;
let dataDir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'bad-neighbour-'));
  server = await createSignalingServer({ port: 0, dataDir, runs: [PLAIN, ROBUST], log: silentLogger });
});

afterAll(async () => {
  await killPeers(children);
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

type Point = { peer: string; step: number; trainLoss?: number | null; valLoss?: number | null };
const points = async (runId: string) => {
  const response = await fetch(`${server.url}/api/runs/${runId}/metrics.json`);
  return ((await response.json()) as { points: Point[] }).points;
};

/** Three peers in a ring: two honest, one gossiping ×1e30; each honest one has it as a neighbour. */
function startRing(runId: string, onLine?: (name: string, line: string) => void) {
  const args = (name: string) => [
    ...['--server', server.url, '--run', runId, `--token=${server.runs.get(runId)!.secretToken()}`],
    ...['--name', name, '--wait-for', '3', '--backend', 'cpu', '--threads', '1'],
  ];
  const honest = ['a', 'b'].map((name) => startPeer(args(name), children, (line) => onLine?.(name, line)));
  const bad = startPeer([...args('bad'), '--byzantine', 'scale:1e30'], children);
  return { honest, bad };
}

it('with plain gossip, a neighbour of a ×1e30 member notices its state turned non-finite, says so, and rejoins', async () => {
  const { honest } = startRing(PLAIN.id);
  const noticed = await until(
    'an honest peer to notice its state turned non-finite',
    () => honest.find((p) => /state turned non-finite at step \d+/.test(p.output)),
    120_000,
  );
  await until("it to take a neighbour's state again", () =>
    /joining again to take a neighbour's state/.test(noticed.output) &&
    /joined run 'plain' as \S+[\s\S]*joined run 'plain' as/.test(noticed.output)
      ? true
      : undefined,
  );
  // Its NaN loss reached the server (as null: JSON has no NaN), and the CSV shows it as NaN.
  const nan = await until('the non-finite loss among the stored metrics', async () =>
    (await points(PLAIN.id)).find((p) => p.trainLoss === null),
  );
  expect(nan.step).toBeGreaterThanOrEqual(0);
  const csv = await (await fetch(`${server.url}/api/runs/${PLAIN.id}/metrics.csv`)).text();
  expect(csv).toMatch(new RegExp(`,${nan.peer},${nan.step},\\d+,NaN,`));
}, 240_000);

it('with robust mixing, the honest peers of a ring with a ×1e30 member stay finite and finish', async () => {
  const lastLoss = new Map<string, number>();
  const { honest } = startRing(ROBUST.id, (name, line) => {
    const m = /: train (\S+)/.exec(line);
    if (stepLine(line) && m) lastLoss.set(name, Number(m[1]));
  });
  const codes = await Promise.all(honest.map((p) => p.exited));
  expect(codes).toEqual([0, 0]);
  for (const p of honest) expect(p.output).not.toMatch(/non-finite/);
  expect([...lastLoss.values()].every(Number.isFinite)).toBe(true);
  const evals = (await points(ROBUST.id)).filter((p) => p.valLoss !== undefined);
  expect(evals.length).toBeGreaterThan(0);
  for (const p of evals) expect(p.valLoss).not.toBeNull();
}, 240_000);
