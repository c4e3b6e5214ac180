/**
 * Checkpoints of the headless peer as users run it: `npm run peer --checkpoints DIR` saves where Ctrl-C
 * stops it; a second peer cannot take the same folder; started again, it resumes the emptied run at the
 * saved step with the saved validation loss; with its latest checkpoint damaged it says so, resumes from the
 * previous one, and keeps the damaged file.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeCheckpoint } from '@demuon/shared/checkpoint';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { killPeers, type PeerProcess, startPeer, stepLine, tail, until } from '../helpers/peer-process';

const RUN = RunConfigSchema.parse({
  id: 'ckcli',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05 } },
  steps: 100_000,
  batch: 4,
  evalEvery: 1000,
  evalBatches: 1,
  checkpointEvery: 3,
});

let server: SignalingServer;
let dataDir: string;
const checkpoints = mkdtempSync(join(tmpdir(), 'peer-checkpoint-cli-'));
const children: ChildProcess[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'peer-checkpoint-cli-server-'));
  server = await createSignalingServer({ port: 0, dataDir, runs: [RUN], log: silentLogger });
});

afterAll(async () => {
  await killPeers(children);
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(checkpoints, { recursive: true, force: true });
});

const folder = join(checkpoints, RUN.id, 'solo');
function solo(onLine?: (line: string) => void): PeerProcess {
  const args = [
    ...['--server', server.url, '--run', RUN.id, `--token=${server.runs.get(RUN.id)!.secretToken()}`],
    ...['--name', 'solo', '--backend', 'cpu', '--threads', '1', '--checkpoints', checkpoints],
  ];
  return startPeer(args, children, onLine);
}

/** Runs the peer until it has printed `steps` step lines, then Ctrl-C; the steps it printed. */
async function trainThenStop(steps: number): Promise<{ peer: PeerProcess; printed: number[] }> {
  const printed: number[] = [];
  const peer = solo((line) => {
    const step = stepLine(line)?.step;
    if (step !== undefined) printed.push(step);
  });
  await until(
    'the peer to take its steps',
    () => (printed.length >= steps ? true : undefined),
    60_000,
    () => tail(peer),
  );
  peer.child.kill('SIGINT');
  expect(await peer.exited, tail(peer)).toBe(0);
  return { peer, printed };
}

it('saves on Ctrl-C, keeps its folder to itself, and resumes at the saved step with the saved loss', async () => {
  const first = await trainThenStop(5);
  const saved = decodeCheckpoint(readFileSync(join(folder, 'latest.ckpt'))).header;
  expect(saved.step).toBe(first.printed.at(-1));

  // While one peer holds the folder, another with the same name is refused before joining.
  const holder = solo();
  await until(
    'the first peer to train again',
    () => (/resumed from/.test(holder.output) ? true : undefined),
    60_000,
    () => tail(holder),
  );
  const second = solo();
  expect(await second.exited).toBe(1);
  expect(second.output).toMatch(/another peer \(process \d+\) keeps its checkpoints in .*solo/);
  const resumed = /resumed from the checkpoint at step (\d+): validation loss (\S+) \(saved: (\S+)\)/.exec(
    holder.output,
  );
  expect(Number(resumed?.[1])).toBe(saved.step);
  expect(resumed?.[2]).toBe(resumed?.[3]);
  await until('a step line after resuming', () =>
    /step \d+\/100000/.test(holder.output.slice(holder.output.indexOf('resumed'))) ? true : undefined,
  );
  const firstAfter = Number(
    /step (\d+)\/100000/.exec(holder.output.slice(holder.output.indexOf('resumed')))?.[1],
  );
  expect(firstAfter).toBe(saved.step + 1);
  holder.child.kill('SIGINT');
  expect(await holder.exited).toBe(0);

  // A damaged latest checkpoint: named, kept, and the previous one resumed from.
  const latest = join(folder, 'latest.ckpt');
  const previous = decodeCheckpoint(readFileSync(join(folder, 'previous.ckpt'))).header.step;
  const damaged = readFileSync(latest);
  damaged[40] ^= 0xff;
  writeFileSync(latest, damaged);
  const third = await trainThenStop(1);
  expect(third.peer.output).toMatch(/checkpoint .*latest\.ckpt is not usable \(the checkpoint is damaged/);
  expect(third.peer.output).toContain(`resumed from the checkpoint at step ${previous}:`);
  const kept = readdirSync(folder).filter((f) => f.endsWith('.unreadable'));
  expect(kept).toHaveLength(1);
  expect(readFileSync(join(folder, kept[0]))).toEqual(damaged);
}, 180_000);
