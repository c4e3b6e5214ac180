/**
 * The bench's side of the hostile member process (hostile-member.ts): starts it, asks it for one attack
 * class at a time, and keeps what the report says of it: its exits, its last lines, its largest RSS. A
 * member that died is started again at the next request.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rssKiB } from './hostile-peers';
import { clock, say, sleep } from './hostile-settings';
import { emptyTally, type FromMember, type TallyData, type ToMember } from './hostile-tally';

const MEMBER = fileURLToPath(new URL('./hostile-member.ts', import.meta.url));

export interface HostileExit {
  at: string;
  code: number | null;
  signal: string | null;
  during: string;
  tail: string[];
}

export class HostileMemberProcess {
  readonly exits: HostileExit[] = [];
  maxRssKiB = 0;
  private child: ChildProcess | undefined;
  private output: string[] = [];

  /** Whether it was ever started. */
  get started(): boolean {
    return this.child !== undefined;
  }

  private get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends one request; a crash or a hang becomes the answer, never an exception. */
  async ask(message: ToMember, timeoutMs: number, during: string): Promise<TallyData> {
    let child = this.child;
    if (!child || !this.running) {
      try {
        child = await this.start();
      } catch (error) {
        const tally = emptyTally();
        tally.answers['hostile member could not start'] = 1;
        tally.notes.push(String((error as Error).message).slice(0, 300));
        return tally;
      }
    }
    const running = child;
    return new Promise((resolve) => {
      const finish = (tally: TallyData) => {
        clearTimeout(timer);
        running.off('message', onMessage);
        running.off('exit', onExit);
        resolve(tally);
      };
      const onMessage = (m: FromMember) => {
        if (m.type === 'done') finish(m.tally);
      };
      const onExit = (code: number | null, signal: string | null) => {
        this.exits.push({ at: clock(), code, signal, during, tail: this.output.slice(-15) });
        say(`the hostile member exited (${code ?? signal}) during ${during}`);
        const tally = emptyTally();
        tally.answers[`hostile member process died (${code ?? signal})`] = 1;
        finish(tally);
      };
      const timer = setTimeout(() => {
        const tally = emptyTally();
        tally.answers['hostile member hung; killed'] = 1;
        running.kill('SIGKILL');
        finish(tally);
      }, timeoutMs);
      running.on('message', onMessage);
      running.once('exit', onExit);
      running.send(message);
    });
  }

  /** Samples its RSS (while it runs) into `maxRssKiB`. */
  sampleRss(): void {
    if (this.child?.pid && this.child.exitCode === null)
      this.maxRssKiB = Math.max(this.maxRssKiB, rssKiB(this.child.pid) ?? 0);
  }

  /** Lets it exit by itself (it exits when its IPC channel closes), for at most 3 s. */
  async disconnect(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    child.disconnect?.();
    await Promise.race([new Promise((resolve) => child.once('exit', resolve)), sleep(3000)]);
  }

  kill(): void {
    if (this.running) this.child!.kill('SIGKILL');
  }

  private start(): Promise<ChildProcess> {
    const child = fork(MEMBER, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    this.output = [];
    for (const stream of [child.stdout!, child.stderr!]) {
      stream.on('data', (chunk) => {
        this.output.push(...String(chunk).split('\n').filter(Boolean));
        if (this.output.length > 200) this.output.splice(0, this.output.length - 100);
      });
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the hostile member did not start within 60 s')),
        60_000,
      );
      child.once('message', () => {
        clearTimeout(timer);
        resolve(child);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(`the hostile member exited at start (${code ?? signal}): ${this.output.join('\n')}`),
        );
      });
    });
  }
}
