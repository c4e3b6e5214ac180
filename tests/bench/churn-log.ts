/**
 * The churn benchmark's record of its peer processes, and the figures drawn from it. Each `npm run peer`
 * process keeps every line it printed, timed on arrival, and what was done to it (frozen, thawed,
 * interrupted) and how it ended. Whether a peer was working or disrupted at a given time is known from
 * those records, since the benchmark itself froze and interrupted it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PEER = fileURLToPath(new URL('../../client/src/node/peer.ts', import.meta.url));

/** "joined run 'churn' as Xy12ab" */
const JOINED = /^joined run '[^']*' as (\S+)$/;
/** "evicted: peer Xy12ab was reported missing by …; join again to continue" */
const EVICTED = /^evicted: (.*)$/;
/** "step 12/100000 epoch 3 (4 peers): train 5.1234 val 5.2000 | gradient 80 ms, …" */
const STEP = /^step (\d+)\/\d+ epoch \d+ \(\d+ peers?\): train \S+(?: val (\S+))?/;
/** "step 40: gave up on neighbour Xy12ab (silent); the server routes around it" */
const GAVE_UP = /^step (\d+): gave up on neighbour (\S+) \(([\w-]+)\)/;
/** "took parameters and optimizer state from Xy12ab for step 40" */
const BOOTSTRAPPED = /^took parameters and optimizer state from (\S+) for step (\d+)$/;
/** Lines shown of a process that failed. */
const TAIL_LINES = 30;

export type PeerEvent =
  | { readonly kind: 'joined'; readonly t: number; readonly peer: string }
  | { readonly kind: 'evicted'; readonly t: number; readonly reason: string }
  | { readonly kind: 'step'; readonly t: number; readonly step: number; readonly valLoss?: number }
  | {
      readonly kind: 'gave-up';
      readonly t: number;
      readonly step: number;
      readonly neighbour: string;
      readonly reason: string;
    }
  | { readonly kind: 'bootstrapped'; readonly t: number; readonly from: string; readonly step: number };

export interface Freeze {
  readonly stoppedAt: number;
  readonly plannedMs: number;
  thawedAt?: number;
}

/** One `npm run peer` process: its timed events, what was done to it, and how it ended. */
export class PeerProcess {
  readonly events: PeerEvent[] = [];
  /** Everything it printed, stdout and stderr, each line with the time it arrived. */
  readonly lines: { readonly t: number; readonly text: string }[] = [];
  readonly freezes: Freeze[] = [];
  interruptedAt: number | undefined;
  /** When it was killed for not leaving after Ctrl-C. */
  killedAt: number | undefined;
  exit: { readonly t: number; readonly code: number | null; readonly signal: string | null } | undefined;
  readonly exited: Promise<void>;
  private readonly child: ChildProcess;

  constructor(
    readonly name: string,
    args: readonly string[],
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', PEER, '--name', name, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a freeze stops the supervisor and the peer it runs, as a closed lid does.
      detached: true,
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        this.exit = { t: Date.now(), code, signal };
        resolve();
      }),
    );
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.on('data', (chunk) => {
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) this.read(line, Date.now());
      });
    }
  }

  get frozen(): boolean {
    return this.freezes.at(-1)?.thawedAt === undefined && this.freezes.length > 0;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  /** The peer id of its current membership; undefined before its first join and after an eviction. */
  get member(): string | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i];
      if (e.kind === 'joined') return e.peer;
      if (e.kind === 'evicted') return undefined;
    }
    return undefined;
  }

  /** A member that has trained since it joined, neither frozen nor on its way out. */
  get working(): boolean {
    if (!this.running || this.frozen || this.interruptedAt !== undefined) return false;
    for (let i = this.events.length - 1; i >= 0; i--) {
      const kind = this.events[i].kind;
      if (kind === 'step') return true;
      if (kind === 'joined' || kind === 'evicted') return false;
    }
    return false;
  }

  /** Its last lines, for the report of a failure. */
  get tail(): string[] {
    return this.lines.slice(-TAIL_LINES).map((l) => l.text);
  }

  /** The step lines it printed, in order. */
  steps(): Extract<PeerEvent, { kind: 'step' }>[] {
    return this.events.filter((e) => e.kind === 'step');
  }

  freeze(plannedMs: number): void {
    this.signalGroup('SIGSTOP');
    this.freezes.push({ stoppedAt: Date.now(), plannedMs });
  }

  thaw(): void {
    if (!this.frozen) return;
    this.signalGroup('SIGCONT');
    this.freezes.at(-1)!.thawedAt = Date.now();
  }

  /** Ctrl-C: the peer leaves after its current step and exits. */
  interrupt(): void {
    if (!this.running || this.interruptedAt !== undefined) return;
    this.thaw();
    this.interruptedAt = Date.now();
    this.child.kill('SIGINT');
  }

  kill(): void {
    if (!this.running) return;
    this.killedAt = Date.now();
    this.signalGroup('SIGKILL');
  }

  private signalGroup(signal: NodeJS.Signals): void {
    process.kill(-this.child.pid!, signal);
  }

  /**
   * How it was disrupted at some time in [from, to], if it was: 'frozen' (stopped, or thawed less than
   * `graceMs` before), or 'gone' (interrupted or exited). Freezes over before `memberSince` do not count:
   * a membership that began after the thaw starts afresh.
   */
  disruptionBetween(
    from: number,
    to: number,
    graceMs: number,
    memberSince = Number.NEGATIVE_INFINITY,
  ): 'frozen' | 'gone' | undefined {
    if (this.interruptedAt !== undefined && this.interruptedAt <= to) return 'gone';
    if (this.exit !== undefined && this.exit.t <= to) return 'gone';
    const frozen = this.freezes.some((f) => {
      const thawed = f.thawedAt ?? Number.POSITIVE_INFINITY;
      return f.stoppedAt <= to && thawed + graceMs >= from && thawed >= memberSince;
    });
    return frozen ? 'frozen' : undefined;
  }

  private read(line: string, t: number): void {
    this.lines.push({ t, text: line });
    const event = parseLine(line, t);
    if (event) this.events.push(event);
  }
}

function parseLine(line: string, t: number): PeerEvent | undefined {
  const step = STEP.exec(line);
  if (step) {
    const val = step[2] === undefined ? {} : { valLoss: Number(step[2]) };
    return { kind: 'step', t, step: Number(step[1]), ...val };
  }
  const gaveUp = GAVE_UP.exec(line);
  if (gaveUp) return { kind: 'gave-up', t, step: Number(gaveUp[1]), neighbour: gaveUp[2], reason: gaveUp[3] };
  const joined = JOINED.exec(line);
  if (joined) return { kind: 'joined', t, peer: joined[1] };
  const evicted = EVICTED.exec(line);
  if (evicted) return { kind: 'evicted', t, reason: evicted[1] };
  const bootstrapped = BOOTSTRAPPED.exec(line);
  if (bootstrapped) return { kind: 'bootstrapped', t, from: bootstrapped[1], step: Number(bootstrapped[2]) };
  return undefined;
}

/** One membership of a process: from its `joined run` line to its eviction, its exit, or the end. */
export interface Membership {
  readonly process: PeerProcess;
  readonly peer: string;
  readonly joinedAt: number;
  /** The `evicted:` line that ended it, if one did. */
  readonly eviction?: Extract<PeerEvent, { kind: 'evicted' }>;
  /** When it ended: the server's removal where seen (a frozen peer hears of it only once it thaws). */
  readonly endedAt?: number;
}

export function memberships(processes: readonly PeerProcess[], removedAt: ReadonlyMap<string, number>) {
  const all: Membership[] = [];
  for (const process of processes) {
    let open: { peer: string; joinedAt: number } | undefined;
    const close = (eviction?: Extract<PeerEvent, { kind: 'evicted' }>) => {
      if (!open) return;
      const candidates = [removedAt.get(open.peer), eviction?.t, eviction ? undefined : process.exit?.t];
      const ends = candidates.filter((t): t is number => t !== undefined);
      all.push({
        process,
        ...open,
        ...(eviction ? { eviction } : {}),
        ...(ends.length > 0 ? { endedAt: Math.min(...ends) } : {}),
      });
      open = undefined;
    };
    for (const e of process.events) {
      if (e.kind === 'joined') {
        close();
        open = { peer: e.peer, joinedAt: e.t };
      } else if (e.kind === 'evicted') close(e);
    }
    close();
  }
  return all;
}

/** When `process` last joined before `t`. */
function joinedBefore(process: PeerProcess, t: number): number {
  const joins = process.events.filter((e) => e.kind === 'joined' && e.t <= t);
  return joins.at(-1)?.t ?? Number.NEGATIVE_INFINITY;
}

/** What an `evicted:` line says happened, from its wording (server/src/membership.ts, run.ts, …). */
export function evictionCause(reason: string): string {
  if (reason.startsWith('no heartbeat')) return 'heartbeat timeout';
  if (reason.includes('was reported missing by')) return 'reported by its neighbours';
  if (reason.includes('did not answer the epoch proposal')) return 'no answer to a proposal';
  if (reason.startsWith('no state from')) return 'its bootstrap source went away';
  return 'other';
}

/** The q-quantile (0..1) of `xs` by the nearest rank; NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * A thawed peer needs a moment for its next heartbeat and the messages queued while it was stopped: an
 * eviction or a give-up that comes this soon after SIGCONT still comes from the freeze.
 */
export const THAW_GRACE_MS = 3000;
/**
 * The longest a round waits on a neighbour before it gives up: the connection deadline (the run's
 * gossipTimeoutMs, 15 s by default; 'stuck' takes max(8 step times, 10 s), 'silent' 3 s). A give-up on a
 * neighbour that was frozen or gone at any time this long before it is expected.
 */
export const GIVE_UP_LOOKBACK_MS = 15_000;

/** What a scenario left behind: the processes, the measured window and the server's removals. */
export interface ScenarioRecord {
  readonly processes: readonly PeerProcess[];
  /** The measured window: churn (or none, for the baseline) runs from its start to its end. */
  readonly windowStart: number;
  readonly windowEnd: number;
  /** Events up to here count (after it, every peer is told to leave). */
  readonly countUntil: number;
  /** When each peer id was first seen missing from the run's members (polled). */
  readonly removedAt: ReadonlyMap<string, number>;
}

type Disruption = 'frozen' | 'gone' | 'working';
/** "no state from Xy12ab (closed)": a late joiner whose source of parameters went away. */
const BOOTSTRAP_SOURCE = /^no state from (\S+) \(/;
/** The benchmark sees an exit or a removal a moment after the neighbours notice it. */
const NOTICE_MARGIN_MS = 1000;

/** Everything the report says about one scenario, times in seconds from the window's start. */
export function scenarioFigures(record: ScenarioRecord) {
  const { processes, windowStart, windowEnd, countUntil } = record;
  const counted = (t: number) => t >= windowStart && t <= countUntil;
  const s = (t: number) => Number(((t - windowStart) / 1000).toFixed(2));
  const all = memberships(processes, record.removedAt);
  const byPeer = new Map(all.map((m) => [m.peer, m]));

  // What had become of a peer id by time t, as far as its neighbours could tell.
  const whatWas = (peer: string, t: number): Disruption | 'unknown' => {
    const m = byPeer.get(peer);
    if (!m) return 'unknown';
    const by = t + NOTICE_MARGIN_MS;
    if (m.endedAt !== undefined && m.endedAt <= by) return 'gone';
    const from = Math.max(m.joinedAt, t - GIVE_UP_LOOKBACK_MS);
    return m.process.disruptionBetween(from, by, THAW_GRACE_MS, m.joinedAt) ?? 'working';
  };

  const evictions = all
    .filter((m) => m.eviction && counted(m.endedAt!))
    .map((m) => {
      const { reason, t } = m.eviction!;
      const source = BOOTSTRAP_SOURCE.exec(reason)?.[1];
      return {
        process: m.process.name,
        peer: m.peer,
        at: s(m.endedAt!),
        heardAt: s(t),
        cause: evictionCause(reason),
        of: (m.process.disruptionBetween(m.endedAt!, m.endedAt!, THAW_GRACE_MS, m.joinedAt) ??
          'working') as Disruption,
        // A late joiner gives up on joining when its source of state goes away: the source is what matters.
        ...(source
          ? { source, sourceProcess: byPeer.get(source)?.process.name, sourceWas: whatWas(source, t) }
          : {}),
        reason,
      };
    });
  const working = (was: Disruption | 'unknown' | undefined) => was === 'working' || was === 'unknown';
  const restarts = evictions.filter((e) => e.source !== undefined);

  // Steps a peer printed while it was not a member: after its `evicted:` line, before it joined again; and
  // (stale) after the server had removed it but before it heard so, or without ever hearing so.
  const notMember: { process: string; step: number; at: number }[] = [];
  const afterRemoval: { process: string; peer: string; step: number; at: number }[] = [];
  for (const m of all) {
    const { process, eviction } = m;
    const nextJoin = process.events.find((e) => e.kind === 'joined' && e.t > (eviction?.t ?? m.joinedAt))?.t;
    const removed = record.removedAt.get(m.peer);
    const left =
      process.interruptedAt !== undefined && removed !== undefined && process.interruptedAt <= removed;
    const staleUntil = eviction?.t ?? nextJoin ?? Number.POSITIVE_INFINITY;
    for (const e of process.events) {
      if (e.kind !== 'step' || !counted(e.t)) continue;
      if (eviction && e.t > eviction.t && (nextJoin === undefined || e.t < nextJoin))
        notMember.push({ process: process.name, step: e.step, at: s(e.t) });
      else if (removed !== undefined && !left && e.t > removed && e.t <= staleUntil && e.t > m.joinedAt)
        afterRemoval.push({ process: process.name, peer: m.peer, step: e.step, at: s(e.t) });
    }
  }

  const giveUps = processes.flatMap((p) =>
    p.events
      .filter((e): e is Extract<PeerEvent, { kind: 'gave-up' }> => e.kind === 'gave-up' && counted(e.t))
      .map((e) => ({
        process: p.name,
        step: e.step,
        at: s(e.t),
        reason: e.reason,
        neighbour: e.neighbour,
        neighbourProcess: byPeer.get(e.neighbour)?.process.name,
        neighbourWas: whatWas(e.neighbour, e.t),
        // A peer that was itself frozen finds its own deadlines passed, and its links dropped, on waking.
        reporterWas: p.disruptionBetween(e.t, e.t, THAW_GRACE_MS, joinedBefore(p, e.t)) ?? 'working',
      })),
  );
  const giveUpsByReason: Record<string, { onFrozenOrGone: number; onWorking: number; byThawed: number }> = {};
  for (const g of giveUps) {
    const row = giveUpsByReason[g.reason] ?? { onFrozenOrGone: 0, onWorking: 0, byThawed: 0 };
    giveUpsByReason[g.reason] = row;
    if (!working(g.neighbourWas)) row.onFrozenOrGone++;
    else if (g.reporterWas === 'working') row.onWorking++;
    else row.byThawed++;
  }

  // A freeze the peer's membership did not survive (the server removed it, or it died meanwhile), and from
  // SIGCONT to its next `joined run` line and its first step after that.
  const rejoins: {
    process: string;
    frozenS: number;
    evicted: boolean;
    joinS?: number;
    firstStepS?: number;
  }[] = [];
  let freezesSurvived = 0;
  for (const p of processes) {
    for (const f of p.freezes) {
      if (f.thawedAt === undefined || !counted(f.stoppedAt)) continue;
      const thawed = f.thawedAt;
      const m = all.find(
        (m) =>
          m.process === p &&
          m.joinedAt <= f.stoppedAt &&
          m.endedAt !== undefined &&
          m.endedAt >= f.stoppedAt &&
          m.endedAt <= thawed + THAW_GRACE_MS,
      );
      if (!m || (m.process.interruptedAt !== undefined && m.process.interruptedAt <= m.endedAt!)) {
        freezesSurvived++;
        continue;
      }
      const heard = m.eviction?.t;
      const joined =
        heard === undefined ? undefined : p.events.find((e) => e.kind === 'joined' && e.t >= heard);
      const step = joined && p.events.find((e) => e.kind === 'step' && e.t >= joined.t);
      const secs = (t: number) => Number(((t - thawed) / 1000).toFixed(2));
      rejoins.push({
        process: p.name,
        frozenS: Number(((thawed - f.stoppedAt) / 1000).toFixed(2)),
        evicted: heard !== undefined,
        ...(joined ? { joinS: secs(joined.t) } : {}),
        ...(step ? { firstStepS: secs(step.t) } : {}),
      });
    }
  }
  const joinTimes = rejoins.flatMap((r) => (r.joinS === undefined ? [] : [r.joinS]));
  const firstStepTimes = rejoins.flatMap((r) => (r.firstStepS === undefined ? [] : [r.firstStepS]));

  // The longest a member went without a step while it was neither frozen nor leaving: a round that never
  // ends shows here (bootstrapping counts, from the `joined run` line).
  let longestStall: { s: number; process: string; afterStep?: number; until: 'step' | 'end' } = {
    s: 0,
    process: '',
    until: 'end',
  };
  for (const m of all) {
    const end = Math.min(m.endedAt ?? countUntil, countUntil);
    let from = { t: Math.max(m.joinedAt, windowStart), step: undefined as number | undefined };
    const steps = m.process.steps().filter((e) => e.t > from.t && e.t <= end);
    for (const [i, to] of [
      ...steps.map((e) => ({ t: e.t, step: e.step })),
      { t: end, step: undefined },
    ].entries()) {
      const gap = to.t - from.t;
      const disrupted = m.process.disruptionBetween(from.t, to.t, THAW_GRACE_MS, m.joinedAt);
      if (gap / 1000 > longestStall.s && !disrupted) {
        longestStall = {
          s: Number((gap / 1000).toFixed(1)),
          process: m.process.name,
          ...(from.step !== undefined ? { afterStep: from.step } : {}),
          until: i < steps.length ? 'step' : 'end',
        };
      }
      from = to;
    }
  }

  // Progress of the run (its largest step) and the steps all peers trained, per minute of the window.
  const steps = processes.flatMap((p) => p.steps());
  const largestStepBy = (t: number) => Math.max(0, ...steps.filter((e) => e.t <= t).map((e) => e.step));
  const minutes = (windowEnd - windowStart) / 60_000;
  const inWindow = steps.filter((e) => e.t > windowStart && e.t <= windowEnd);

  return {
    windowS: s(windowEnd),
    runStepsPerMinute: (largestStepBy(windowEnd) - largestStepBy(windowStart)) / minutes,
    peerStepsPerMinute: inWindow.length / minutes,
    evictions,
    workingEvicted: evictions.filter((e) => e.source === undefined && e.of === 'working').length,
    restarts: restarts.length,
    restartsFromWorkingSource: restarts.filter((e) => working(e.sourceWas)).length,
    stepsWhileNotMember: notMember,
    stepsAfterRemoval: afterRemoval,
    giveUps,
    giveUpsByReason,
    longestStall,
    freezesSurvived,
    rejoins,
    rejoinJoinS: { p50: quantile(joinTimes, 0.5), p99: quantile(joinTimes, 0.99) },
    rejoinFirstStepS: { p50: quantile(firstStepTimes, 0.5), p99: quantile(firstStepTimes, 0.99) },
    bootstraps: processes.flatMap((p) => p.events.filter((e) => e.kind === 'bootstrapped' && counted(e.t)))
      .length,
  };
}
