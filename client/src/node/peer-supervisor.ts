/**
 * Keeps a headless peer going when its process dies in native code. The WebRTC binding (@roamhq/wrtc)
 * releases a data channel on its own thread once the channel closes, while a send on the main thread may
 * be using it: the process dies of SIGSEGV. It happens most right after a device wakes up (a laptop lid
 * opened, a SIGCONT), when the links its neighbours closed meanwhile and its own pending sends meet. So the
 * peer runs in a child process, and one that dies of a crash signal is started again: it joins as a late
 * joiner (or resumes from its checkpoint), as after an eviction.
 *
 * Ctrl-C and SIGTERM reach the peer once, through this process (a terminal's Ctrl-C goes to both; the
 * peer ignores its own and takes this process's word), and it leaves after its step as before. A peer
 * whose supervisor is gone (killed) exits at once.
 */
import { type ChildProcess, fork } from 'node:child_process';

/** Set in the child's environment: this process is the peer itself, not its supervisor. */
const WORKER_ENV = 'DEMUON_PEER_WORKER';
const CRASH_SIGNALS = new Set<NodeJS.Signals>(['SIGSEGV', 'SIGBUS', 'SIGILL', 'SIGFPE', 'SIGABRT']);
/** More crashes than this within the window is no passing accident: the supervisor gives up. */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 10 * 60_000;
/** What the supervisor sends its peer for Ctrl-C or SIGTERM. */
const STOP = 'stop';

/** True in the process that trains (started by `supervise`). */
export function isSupervisedPeer(): boolean {
  return process.env[WORKER_ENV] === '1' && typeof process.send === 'function';
}

/**
 * In the peer: `stop` runs when the supervisor says so (Ctrl-C or SIGTERM); the process's own SIGINT is
 * ignored, since it came from the same Ctrl-C. The peer exits at once if its supervisor goes away.
 */
export function listenToSupervisor(stop: () => void): void {
  process.on('SIGINT', () => {});
  process.on('message', (message) => {
    if (message === STOP) stop();
  });
  process.on('disconnect', () => process.exit(1));
}

/**
 * Runs `script` with `argv` in a child process, starting it again after each crash (at most MAX_CRASHES
 * within CRASH_WINDOW_MS); resolves with the exit code to leave with.
 */
export function supervise(script: string, argv: readonly string[]): Promise<number> {
  const crashes: number[] = [];
  let child: ChildProcess | undefined;
  let stopping = false;
  const stop = () => {
    stopping = true;
    if (child?.connected) child.send(STOP);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  return new Promise((resolve) => {
    const start = () => {
      child = fork(script, argv, {
        execArgv: process.execArgv,
        env: { ...process.env, [WORKER_ENV]: '1' },
      });
      child.once('exit', (code, signal) => {
        if (!signal || !CRASH_SIGNALS.has(signal) || stopping) {
          resolve(code ?? 1);
          return;
        }
        const now = Date.now();
        crashes.push(now);
        while (crashes[0] < now - CRASH_WINDOW_MS) crashes.shift();
        if (crashes.length > MAX_CRASHES) {
          console.error(
            `error: the peer process crashed ${crashes.length} times within ${CRASH_WINDOW_MS / 60_000} minutes (last: ${signal}); giving up`,
          );
          resolve(1);
          return;
        }
        console.log(`the peer process crashed (${signal}, in native code); starting it again`);
        start();
      });
    };
    start();
  });
}
