/** Headless peer processes (`npm run peer`) for tests, and polling for conditions on a live server. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { StepTiming } from '@demuon/shared/peer';
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';

const PEER = fileURLToPath(new URL('../../client/src/node/peer.ts', import.meta.url));

export interface PeerProcess {
  readonly child: ChildProcess;
  /** Everything it printed so far, stdout and stderr. */
  output: string;
  readonly exited: Promise<number | null>;
  /**
   * Signals the peer's whole process group: the supervisor and the peer it runs (a closed laptop lid
   * freezes both). Plain `child.kill` reaches the supervisor alone, which passes SIGINT and SIGTERM on.
   */
  signal(signal: NodeJS.Signals): void;
}

/**
 * Starts a peer process; `children` collects it so that the test can kill what is left. `onLine` gets each
 * whole line it prints on stdout, as it comes. `launcher` runs it through another command that execs it
 * (e.g. `ip netns exec NS`, keeping the pid), when given.
 */
export function startPeer(
  args: string[],
  children: ChildProcess[],
  onLine?: (line: string) => void,
  launcher: readonly string[] = [],
): PeerProcess {
  // Peers of tests keep no checkpoints unless a test asks for them (in a folder of its own).
  const checkpoints = args.some((a) => a.startsWith('--checkpoints')) ? [] : ['--no-checkpoints'];
  const [command, ...rest] = [
    ...launcher,
    process.execPath,
    '--import',
    'tsx',
    PEER,
    ...args,
    ...checkpoints,
  ];
  // Its own process group, for `signal`.
  const child = spawn(command, rest, { stdio: 'pipe', detached: true });
  children.push(child);
  const peer: PeerProcess = {
    child,
    output: '',
    exited: new Promise((r) => child.once('exit', r)),
    signal: (signal) => process.kill(-child.pid!, signal),
  };
  let partial = '';
  child.stdout?.on('data', (d) => {
    peer.output += d;
    if (!onLine) return;
    const lines = (partial + d).split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine(line);
  });
  child.stderr?.on('data', (d) => {
    peer.output += d;
  });
  return peer;
}

/**
 * Kills what is left of the peers in `children` (started by startPeer): each one's whole process group, so
 * that the peer a supervisor runs goes with it even when frozen (a stopped process outlives its parent's
 * end); resolves once every supervisor has exited.
 */
export async function killPeers(children: readonly ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map((child) => {
      if (child.pid === undefined) return undefined;
      const exited =
        child.exitCode !== null || child.signalCode !== null
          ? undefined
          : new Promise((resolve) => child.once('exit', resolve));
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The whole group is gone already.
      }
      return exited;
    }),
  );
}

/** "step 7/40 epoch 1 (2 peers): train 6.1 | gradient 52 ms, optimizer 31 ms, gossip 77 ms" */
const STEP_LINE = /^step (\d+)\/\d+ .*gradient (\d+) ms, optimizer (\d+) ms, gossip (\d+) ms/;

/** The step (1-based) and its timing from a peer's step line; undefined for any other line. */
export function stepLine(line: string): { step: number; timing: StepTiming } | undefined {
  const m = STEP_LINE.exec(line);
  if (!m) return undefined;
  const [gradientMs, optimizerMs, waitingMs] = [m[2], m[3], m[4]].map(Number);
  return { step: Number(m[1]), timing: { gradientMs, optimizerMs, waitingMs } };
}

/**
 * Resolves with `check()`'s first defined value, looking every 200 ms; fails after `timeoutMs`, with
 * `context()` (e.g. a peer's last lines of output) in the error.
 */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
  context?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${context ? `\n${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The last `lines` lines a peer printed, for a failure message. */
export function tail(peer: PeerProcess, lines = 40): string {
  return `last output of the peer:\n${peer.output.split('\n').slice(-lines).join('\n')}`;
}

const EXPORT = fileURLToPath(new URL('../../client/src/node/export.ts', import.meta.url));

/** Runs `npm run export` with `args` to its end: its exit status and everything it printed. */
export function runExport(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', EXPORT, ...args], { stdio: 'pipe' });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

/** A run for peer processes: the tiny GPT on a complete graph, with steps enough to train until stopped. */
export function endlessTinyRun(id: string): RunConfig {
  return RunConfigSchema.parse({
    id,
    model: { preset: 'tiny', vocab: 512 },
    topology: 'complete',
    algorithm: { name: 'demuon', lr: { eta: 0.05 } },
    steps: 100_000,
    batch: 4,
    evalEvery: 1000,
    evalBatches: 1,
  });
}
