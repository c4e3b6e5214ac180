/** Signaling server processes (`npm run server`) for tests that kill one: started, read, stopped. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../signaling-server/src/main.ts', import.meta.url));

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  /** Everything it printed so far. */
  output(): string;
  /** The token of run `id`, from the join URL its banner prints. */
  token(id: string): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts `main.ts` with `args` (and --port 0) and resolves once it listens. */
export async function startServerProcess(args: string[]): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--port', '0', ...args], { stdio: 'pipe' });
  let output = '';
  child.stdout!.on('data', (d) => {
    output += d;
  });
  child.stderr!.on('data', (d) => {
    output += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const look = () => {
      const listening = / on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (listening && output.includes('admin token')) resolve(Number(listening[1]));
    };
    child.stdout!.on('data', look);
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${output}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    port,
    output: () => output,
    token(id) {
      const match = new RegExp(`/join/${id}\\?token=([0-9a-f]+)`).exec(output);
      if (!match) throw new Error(`no join URL of run "${id}" in the server's output:\n${output}`);
      return match[1];
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
