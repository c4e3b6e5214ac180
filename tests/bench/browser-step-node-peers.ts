/**
 * The Node side of the browser benchmark: `npm run peer` processes on the CPU backend (gradients on
 * onnxruntime-node, Newton–Schulz on onnxruntime-node, onnxruntime's default threads) joined to one run,
 * each step's timing as the peers print it, so that tabs and devices are measured the same way.
 */
import type { ChildProcess } from 'node:child_process';
import type { StepTiming } from '@demuon/shared/peer';
import { startPeer, stepLine } from '../helpers/peer-process';

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
  const children: ChildProcess[] = [];
  const exits = Array.from({ length: options.peers }, async (_, i) => {
    const args = [
      ...['--server', options.server, '--run', options.runId, `--token=${options.token}`],
      ...['--name', `node-${i}`, '--wait-for', String(options.peers), '--backend', 'cpu'],
    ];
    const peer = startPeer(args, children, (line) => {
      backend ||= BACKEND_LINE.exec(line)?.[1] ?? '';
      const parsed = stepLine(line);
      if (parsed && parsed.step > options.warmup) samples.push(parsed.timing);
    });
    const code = await peer.exited;
    if (code !== 0) throw new Error(`a Node peer exited with ${code}:\n${peer.output.slice(-2000)}`);
  });
  await Promise.all(exits);
  return { samples, backend };
}
