/**
 * The network half of the robust-mixing benchmark: the same ring of 8 as the simulator's, as a real run on
 * an in-process signaling server with 8 headless peers (`npm run peer`, CPU, one thread each) over WebRTC on
 * loopback; a bad member is started with `--byzantine`. Each honest peer's final validation loss is read
 * from its last step line.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Attack } from '@demuon/shared/gossip';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { createSignalingServer, silentLogger } from '../../signaling-server/src';
import { startPeer } from '../helpers/peer-process';

export interface NetworkCase {
  readonly steps: number;
  readonly nodes: number;
  readonly algo: string;
  readonly robust: boolean;
  readonly attack?: Attack;
}

export interface NetworkResult {
  /** Mean final validation loss of the honest peers that finished. */
  readonly honestValLoss: number;
  readonly finished: number;
  /** Times an honest peer's state turned non-finite and it joined again. */
  readonly restarts: number;
  readonly wallSeconds: number;
}

/** "step 200/200 epoch 1 (8 peers): train 4.2 val 4.3 | …" */
const FINAL_VAL = /^step (\d+)\/(\d+) .*: train \S+ val (\S+)/;

export async function runNetworkCase(c: NetworkCase, timeoutMs = 30 * 60_000): Promise<NetworkResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'robust-network-'));
  const run = RunConfigSchema.parse({
    id: 'robust',
    model: { preset: 'tiny', vocab: 512 },
    topology: 'ring',
    algorithm: { name: c.algo, lr: { eta: 0.02, schedule: 'linear' } },
    steps: c.steps,
    batch: 8,
    evalEvery: c.steps,
    evalBatches: 4,
    maxPeers: c.nodes,
    ...(c.robust ? { robustMixing: {} } : {}),
  });
  const server = await createSignalingServer({ port: 0, dataDir, runs: [run], log: silentLogger });
  const children: ChildProcess[] = [];
  const started = performance.now();
  try {
    const token = server.runs.get(run.id)!.secretToken();
    const args = (name: string) => [
      ...['--server', server.url, '--run', run.id, `--token=${token}`, '--name', name],
      ...['--wait-for', String(c.nodes), '--backend', 'cpu', '--threads', '1'],
    ];
    const finalVal = new Map<string, number>();
    const honest = Array.from({ length: c.nodes - (c.attack ? 1 : 0) }, (_, i) => {
      const name = `honest-${i}`;
      return startPeer(args(name), children, (line) => {
        const m = FINAL_VAL.exec(line);
        if (m && m[1] === m[2]) finalVal.set(name, Number(m[3]));
      });
    });
    if (c.attack) {
      const attack = c.attack.kind === 'scale' ? `scale:${c.attack.factor}` : c.attack.kind;
      startPeer([...args('bad'), '--byzantine', attack], children);
    }
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs));
    await Promise.race([Promise.all(honest.map((p) => p.exited)), timeout]);
    const losses = [...finalVal.values()];
    return {
      honestValLoss: losses.reduce((a, b) => a + b, 0) / losses.length,
      finished: losses.length,
      restarts: honest.reduce(
        (n, p) => n + (p.output.match(/state turned non-finite at step/g)?.length ?? 0),
        0,
      ),
      wallSeconds: (performance.now() - started) / 1000,
    };
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
