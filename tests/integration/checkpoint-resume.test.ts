/**
 * A run whose peers all left comes back from their checkpoints: Node peers (real socket.io, real WebRTC,
 * onnxruntime-node) stop together and save; new peers on the same checkpoint folders join the emptied run,
 * the server resumes it at the newest saved step, those holding that step restore it (and get the saved
 * validation loss back exactly), the others take their state from them, and the run ends in consensus.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { afterAll, expect, it } from 'vitest';
import { CheckpointDir } from '../../client/src/node/checkpoint-dir';
import { readModelDir } from '../../client/src/node/model-dir';
import { evaluateModel } from '../../client/src/node/model-eval';
import { nodePeerEnv, type Peer } from '../helpers/node-peers';
import { runExport } from '../helpers/peer-process';

const N = 3;
const RUN = RunConfigSchema.parse({
  id: 'resume',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
  steps: 24,
  batch: 4,
  evalEvery: 8,
  evalBatches: 1,
  seed: 3,
  checkpointEvery: 4,
  gossipTimeoutMs: 60_000,
});
const env = nodePeerEnv([RUN], RUN.batch, 'checkpoint-resume-');
const folders = mkdtempSync(join(tmpdir(), 'checkpoint-resume-dirs-'));
afterAll(() => rmSync(folders, { recursive: true, force: true }));
const store = (i: number) => new CheckpointDir(join(folders, `peer-${i}`));

/** Peers 0..N-1 joined in order, each on its own checkpoint folder, and their log lines. */
async function group(onStep?: (peer: Peer, step: number, all: Peer[]) => void) {
  const peers: Peer[] = [];
  const logs: string[][] = [];
  for (let i = 0; i < N; i++) {
    const lines: string[] = [];
    logs.push(lines);
    peers.push(
      await env.join(RUN, {
        waitForPeers: N,
        checkpoints: store(i),
        log: (line) => lines.push(line),
        onStep: (peer, _socket, report) => onStep?.(peer, report.step, peers),
      }),
    );
  }
  return { peers, logs };
}

it('peers stopped together resume at the saved step with the saved loss, and end in consensus', async () => {
  // Everyone stops once one of them has taken 10 steps; each saves where it stops.
  const first = await group((_, step, all) => {
    if (step === 9) for (const p of all) p.stop();
  });
  await Promise.all(first.peers.map((p) => p.train()));
  for (const p of first.peers) p.close();
  const saved = await Promise.all(Array.from({ length: N }, (_, i) => store(i).load()));
  const steps = saved.map((c) => c!.header.step);
  expect(Math.min(...steps)).toBeGreaterThanOrEqual(10);
  expect(Math.max(...steps)).toBeLessThan(RUN.steps);
  const newest = Math.max(...steps);

  // The run is empty now; the same devices come back.
  const second = await group();
  await Promise.all(second.peers.map((p) => p.train()));
  for (const [i, lines] of second.logs.entries()) {
    if (steps[i] === newest) {
      const resumed = lines
        .map((l) =>
          /^resumed from the checkpoint at step (\d+): validation loss (\S+) \(saved: (\S+)\)/.exec(l),
        )
        .find(Boolean);
      expect(resumed, lines.join('\n')).toBeTruthy();
      expect(Number(resumed![1])).toBe(newest);
      // The restored parameters are the saved ones: the same loss on the same validation batches.
      expect(resumed![2]).toBe(resumed![3]);
      expect(Number(resumed![3])).toBeCloseTo(saved[i]!.header.valLoss!, 6);
    } else {
      expect(lines).toContain(
        `took parameters and optimizer state from ${second.peers[steps.indexOf(newest)].peerId} for step ${newest}`,
      );
    }
  }
  // They trained the rest of the run together, from the newest step to the last, and agree.
  const metrics = await (await fetch(`${env.server.url}/api/runs/${RUN.id}/metrics.json`)).json();
  const points = (metrics as { points: { peer: string; step: number; valLoss?: number }[] }).points;
  for (const peer of second.peers) {
    const mine = points.filter((p) => p.peer === peer.peerId).map((p) => p.step);
    expect(Math.min(...mine)).toBe(newest + 1);
    expect(Math.max(...mine)).toBe(RUN.steps);
  }
  const final = second.peers.map((p) => p.finalParams!);
  const spread = Math.max(
    ...final
      .slice(1)
      .flatMap((params) => params.map((t, k) => Math.max(...t.map((v, e) => Math.abs(v - final[0][k][e]))))),
  );
  console.log(
    `resumed at step ${newest} (saved steps ${steps.join(', ')}); final largest difference between peers ${spread.toExponential(2)}`,
  );
  expect(spread).toBeLessThan(0.05);
  // And each saved its end state again.
  for (let i = 0; i < N; i++) expect((await store(i).load())!.header.step).toBe(RUN.steps);
});

it('exports a model from a checkpoint folder once nobody trains, at the loss the peer saved with it', async () => {
  const { header } = (await store(0).load())!;
  const dir = join(folders, 'model-0');
  const result = await runExport(['--checkpoint', join(folders, 'peer-0'), '--out', dir]);
  expect(result.code, result.output).toBe(0);
  const model = readModelDir(dir);
  expect(model.card.step).toBe(header.step);
  expect(model.card.source).toEqual({ kind: 'peer', peer: 'peer-0' });
  expect(model.card.validation.loss).toBeCloseTo(header.valLoss!, 5);
  expect(Math.abs((await evaluateModel(model)).loss - header.valLoss!)).toBeLessThan(1e-4);

  // A damaged checkpoint file is named, and nothing is written.
  const file = join(folders, 'damaged.ckpt');
  const bytes = readFileSync(join(folders, 'peer-0', 'latest.ckpt'));
  bytes[100] ^= 0xff;
  writeFileSync(file, bytes);
  const refused = await runExport(['--checkpoint', file, '--out', join(folders, 'model-x')]);
  expect(refused.code).toBe(1);
  expect(refused.output).toContain(`${file}: the checkpoint is damaged`);
  expect(existsSync(join(folders, 'model-x'))).toBe(false);
});
