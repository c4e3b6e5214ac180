/**
 * The hostile benchmark's `npm run peer` processes (honest peers and the byzantine member): every line each
 * printed, timed on arrival, what it says (joined, evicted, steps with their validation loss, rounds that
 * gave up on a neighbour), its pid for /proc/<pid>/status, and how it ended.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PEER = fileURLToPath(new URL('../../client/src/node/peer.ts', import.meta.url));

/** "joined run 'clean' as Xy12ab" */
const JOINED = /^joined run '[^']*' as (\S+)$/;
/** "evicted: peer Xy12ab was reported missing by …" */
const EVICTED = /^evicted: (.*)$/;
/** "step 12/100000 epoch 3 (4 peers): train 5.1234 val 5.2000 | gradient 80 ms, …" */
const STEP = /^step (\d+)\/\d+ epoch \d+ \(\d+ peers?\): train (\S+)(?: val (\S+))?/;
/** "step 40: gave up on neighbour Xy12ab (silent); …" */
const GAVE_UP = /^step (\d+): gave up on neighbour (\S+) \(([\w-]+)\)/;
/** "took parameters and optimizer state from Xy12ab for step 40" */
const BOOTSTRAPPED = /^took parameters and optimizer state from (\S+) for step (\d+)$/;
/** Lines kept of every process (a long soak prints many). */
const MAX_LINES = 20_000;

export interface StepEvent {
  readonly t: number;
  readonly step: number;
  readonly trainLoss: number;
  readonly valLoss?: number;
}

export class BenchPeer {
  readonly lines: { readonly t: number; readonly text: string }[] = [];
  readonly steps: StepEvent[] = [];
  readonly joins: { t: number; peer: string }[] = [];
  readonly evictions: { t: number; reason: string }[] = [];
  readonly giveUps: { t: number; step: number; neighbour: string; reason: string }[] = [];
  readonly bootstraps: { t: number; from: string; step: number }[] = [];
  /** Lines that look like trouble: errors, refused signals, link errors, dropped frames. */
  readonly complaints: { t: number; text: string }[] = [];
  interruptedAt: number | undefined;
  killedAt: number | undefined;
  exit: { readonly t: number; readonly code: number | null; readonly signal: string | null } | undefined;
  readonly exited: Promise<void>;
  maxRssKiB = 0;
  private readonly child: ChildProcess;

  constructor(
    readonly name: string,
    args: readonly string[],
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', PEER, '--name', name, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { t: Date.now(), code, signal };
        resolve();
      });
      // A process that could not be started at all counts as exited.
      this.child.once('error', (error) => {
        this.read(`spawn error: ${error.message}`, Date.now());
        if (!this.exit) this.exit = { t: Date.now(), code: null, signal: 'spawn-error' };
        resolve();
      });
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) this.read(line, Date.now());
      });
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** Its current peer id: the last `joined run` line, unless an eviction came after it. */
  get member(): string | undefined {
    const joined = this.joins.at(-1);
    const evicted = this.evictions.at(-1);
    if (!joined || (evicted && evicted.t >= joined.t)) return undefined;
    return joined.peer;
  }

  /** Every peer id it ever had. */
  get ids(): string[] {
    return this.joins.map((j) => j.peer);
  }

  get tail(): string[] {
    return this.lines.slice(-25).map((l) => l.text);
  }

  /** The exit was not asked for: a crash, or giving up by itself. */
  get unprompted(): boolean {
    return this.exit !== undefined && (this.interruptedAt === undefined || this.exit.t < this.interruptedAt);
  }

  /** Resident memory now, from /proc (KiB); undefined once gone. */
  sampleRss(): number | undefined {
    if (!this.running || this.pid === undefined) return undefined;
    const kib = rssKiB(this.pid);
    if (kib !== undefined) this.maxRssKiB = Math.max(this.maxRssKiB, kib);
    return kib;
  }

  /** Ctrl-C: the peer leaves after its current step and exits. */
  interrupt(): void {
    if (!this.running || this.interruptedAt !== undefined) return;
    this.interruptedAt = Date.now();
    this.child.kill('SIGINT');
  }

  kill(): void {
    if (!this.running) return;
    this.killedAt ??= Date.now();
    this.child.kill('SIGKILL');
  }

  /** Ctrl-C, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.interrupt();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  private read(text: string, t: number): void {
    if (this.lines.length >= MAX_LINES) this.lines.splice(0, MAX_LINES / 4);
    this.lines.push({ t, text });
    const step = STEP.exec(text);
    if (step) {
      this.steps.push({
        t,
        step: Number(step[1]),
        trainLoss: Number(step[2]),
        ...(step[3] === undefined ? {} : { valLoss: Number(step[3]) }),
      });
      return;
    }
    const gaveUp = GAVE_UP.exec(text);
    if (gaveUp) {
      this.giveUps.push({ t, step: Number(gaveUp[1]), neighbour: gaveUp[2], reason: gaveUp[3] });
      return;
    }
    const joined = JOINED.exec(text);
    if (joined) {
      this.joins.push({ t, peer: joined[1] });
      return;
    }
    const evicted = EVICTED.exec(text);
    if (evicted) {
      this.evictions.push({ t, reason: evicted[1] });
      return;
    }
    const bootstrapped = BOOTSTRAPPED.exec(text);
    if (bootstrapped) {
      this.bootstraps.push({ t, from: bootstrapped[1], step: Number(bootstrapped[2]) });
      return;
    }
    if (/error|refused|dropped|link to|warning|exception|abort|fatal|segmentation/i.test(text))
      this.complaints.push({ t, text });
  }
}

/** VmRSS of process `pid` in KiB, from /proc; undefined when it cannot be read. */
export function rssKiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}
