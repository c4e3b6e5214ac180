/**
 * The Node side of the browser benchmark: `npm run peer` processes on the CPU backend (gradients on
 * onnxruntime-node, Newton–Schulz on onnxruntime-node, onnxruntime's default threads) joined to one run,
 * each step's timing as the peers print it, so that tabs and devices are measured the same way.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StepTiming } from '@demuon/shared/peer';

const PEER = fileURLToPath(new URL('../../client/src/node/peer.ts', import.meta.url));
/** "step 7/40 epoch 1 (2 peers): train 6.1 | gradient 52 ms, optimizer 31 ms, gossip 77 ms" */
const STEP_LINE = /^step (\d+)\/\d+ .*gradient (\d+) ms, optimizer (\d+) ms, gossip (\d+) ms/;
const BACKEND_LINE = /^optimizer backend: (.*)$/;

export interface NodePeersResult {
  /** Every peer's timing of each step after `warmup`. */
  readonly samples: StepTiming[];
  /** What the peers printed as their optimizer backend. */
  readonly backend: string;
}

export async function runNodePeers(options: {
  server: string;
  runId: string;
  token: string;
  peers: number;
  warmup: number;
}): Promise<NodePeersResult> {
  const samples: StepTiming[] = [];
  let backend = '';
  const exits = Array.from({ length: options.peers }, (_, i) => {
    const child = spawn(
      process.execPath,
      [
        ...['--import', 'tsx', PEER, '--server', options.server, '--run', options.runId],
        ...[`--token=${options.token}`, '--name', `node-${i}`, '--wait-for', String(options.peers)],
        ...['--backend', 'cpu'],
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        backend ||= BACKEND_LINE.exec(line)?.[1] ?? '';
        const m = STEP_LINE.exec(line);
        if (!m || Number(m[1]) <= options.warmup) continue;
        const [gradientMs, optimizerMs, waitingMs] = [m[2], m[3], m[4]].map(Number);
        samples.push({ gradientMs, optimizerMs, waitingMs });
      }
    });
    return new Promise<void>((resolve, reject) =>
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`a Node peer exited with ${code}`)),
      ),
    );
  });
  await Promise.all(exits);
  return { samples, backend };
}
