/** Headless peer processes (`npm run peer`) for tests, and polling for conditions on a live server. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PEER = fileURLToPath(new URL('../../client/src/node/peer.ts', import.meta.url));

export interface PeerProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output: string;
  readonly exited: Promise<number | null>;
}

/** Starts a peer process; `children` collects it so that the test can kill what is left. */
export function startPeer(args: string[], children: ChildProcess[]): PeerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', PEER, ...args], { stdio: 'pipe' });
  children.push(child);
  const peer: PeerProcess = { child, output: '', exited: new Promise((r) => child.once('exit', r)) };
  child.stdout?.on('data', (d) => {
    peer.output += d;
  });
  child.stderr?.on('data', (d) => {
    peer.output += d;
  });
  return peer;
}

/** Resolves with `check()`'s first defined value, looking every 200 ms; fails after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
