/**
 * What the hostile benchmark measures of a phase's window: samples taken while it runs (this process's
 * RSS, since it hosts the server, every peer's and the hostile member's RSS, event-loop delay, CPU time),
 * and the figures drawn afterwards from the peers' lines (steps, validation loss, evictions, exits, rounds
 * that gave up, the longest stall) and the attacks' tallies.
 */

import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { HostileMemberProcess } from './hostile-member-process';
import type { BenchPeer } from './hostile-peers';
import { type AttackClass, MiB, minutes, type PhaseSpec, peers, SAMPLE_MS } from './hostile-settings';
import type { TallyData } from './hostile-tally';

/** One attack slot of the hostile phase: when it began in the window (s), how long it ran (s). */
export interface Slot {
  cls: AttackClass;
  atS: number;
  s: number;
  sent: number;
}

/** Samples through a phase's window, every SAMPLE_MS. */
export class WindowSampler {
  /** [seconds into the window, this process's RSS in MiB]. */
  readonly rss: [number, number][] = [];
  readonly loop = monitorEventLoopDelay({ resolution: 20 });
  /** The CPU time this process used in the window, once it ended. */
  cpu: NodeJS.CpuUsage = { user: 0, system: 0 };
  private readonly cpuStart = process.cpuUsage();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly windowStart: number,
    /** The peer processes of the phase now (byzantine ones come and go). */
    private readonly processes: () => readonly BenchPeer[],
    private readonly member: HostileMemberProcess,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.loop.enable();
  }

  /** Ends the window: its CPU time, a last sample. */
  stop(): void {
    this.cpu = process.cpuUsage(this.cpuStart);
    this.dispose();
    this.sample();
  }

  /** Stops sampling (also when the phase failed). */
  dispose(): void {
    this.loop.disable();
    clearInterval(this.timer);
  }

  private sample(): void {
    this.rss.push([
      Number(((Date.now() - this.windowStart) / 1000).toFixed(1)),
      MiB(process.memoryUsage().rss),
    ]);
    for (const p of this.processes()) p.sampleRss();
    this.member.sampleRss();
  }
}

export interface PhaseWindow {
  spec: PhaseSpec;
  honest: readonly BenchPeer[];
  byzantine: readonly BenchPeer[];
  /** When the peers were started. */
  started: number;
  windowStart: number;
  windowEnd: number;
  /** When the peers were told to leave. */
  stoppedAt: number;
  attacks: Record<string, TallyData>;
  slots: Slot[];
}

export type PhaseResult = ReturnType<typeof measureWindow>;

/** The figures of a phase's window, as the report and hostile.json show them. */
export function measureWindow(phase: PhaseWindow, sampler: WindowSampler) {
  const { spec, honest, byzantine, started, windowStart, windowEnd, stoppedAt, attacks, slots } = phase;
  const { rss, loop, cpu } = sampler;
  const inWindow = (t: number) => t > windowStart && t <= windowEnd;
  const hostileIds = new Set([
    ...Object.values(attacks).flatMap((a) => a.ids),
    ...byzantine.flatMap((p) => p.ids),
  ]);
  const stepsInWindow = honest.map((p) => p.steps.filter((e) => inWindow(e.t)).length);
  const largestBy = (t: number) =>
    Math.max(0, ...honest.flatMap((p) => p.steps.filter((e) => e.t <= t).map((e) => e.step)));
  const evals = new Map<number, number[]>();
  for (const p of honest)
    for (const e of p.steps)
      if (e.valLoss !== undefined && e.t <= windowEnd)
        evals.set(e.step, [...(evals.get(e.step) ?? []), e.valLoss]);
  const curve = [...evals.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([step, vals]) => ({
      step,
      mean: vals.reduce((a, b) => a + b, 0) / vals.length,
      peers: vals.length,
    }));
  const final = curve.filter((c) => c.peers >= Math.ceil(peers / 2)).at(-1);
  const giveUps = honest.flatMap((p) => p.giveUps.filter((g) => inWindow(g.t)));
  const evictions = honest.flatMap((p) =>
    p.evictions
      .filter((e) => e.t > windowStart && e.t <= stoppedAt)
      .map((e) => ({
        peer: p.name,
        atS: Number(((e.t - windowStart) / 1000).toFixed(1)),
        reason: e.reason,
      })),
  );
  const exits = [...honest, ...byzantine].map((p) => ({
    process: p.name,
    honest: honest.includes(p),
    code: p.exit?.code ?? null,
    signal: p.exit?.signal ?? null,
    unprompted: p.unprompted,
    killed: p.killedAt !== undefined,
    atS: p.exit ? Number(((p.exit.t - windowStart) / 1000).toFixed(1)) : null,
    ...(p.unprompted || p.killedAt !== undefined || (p.exit?.code ?? 0) !== 0 ? { tail: p.tail } : {}),
  }));
  const rssValues = rss.map(([, v]) => v);
  /** The longest an honest peer went without a step in the window, and what the hostile member did then. */
  const longestGap = () => {
    let best = { s: 0, peer: '', fromS: 0, afterStep: 0, during: [] as string[] };
    for (const p of honest) {
      const times = p.steps.filter((e) => inWindow(e.t));
      for (let k = 1; k < times.length; k++) {
        const gap = (times[k].t - times[k - 1].t) / 1000;
        if (gap <= best.s) continue;
        const fromS = (times[k - 1].t - windowStart) / 1000;
        const during = slots.filter((x) => x.atS < fromS + gap && x.atS + x.s > fromS).map((x) => x.cls);
        best = {
          s: Number(gap.toFixed(1)),
          peer: p.name,
          fromS: Number(fromS.toFixed(1)),
          afterStep: times[k - 1].step,
          during,
        };
      }
    }
    return best;
  };
  const complaints = new Map<string, number>();
  for (const p of honest)
    for (const c of p.complaints)
      if (inWindow(c.t)) {
        const key = c.text.replace(/\b[\w-]{6,}\b/g, (w) => (/\d/.test(w) ? '…' : w)).slice(0, 100);
        complaints.set(key, (complaints.get(key) ?? 0) + 1);
      }
  return {
    run: spec.run,
    hostile: spec.hostile,
    robustMixing: spec.config.robustMixing ?? null,
    warmupS: Number(((windowStart - started) / 1000).toFixed(1)),
    windowS: Number(((windowEnd - windowStart) / 1000).toFixed(1)),
    honestStepsPerMinutePerPeer: stepsInWindow.reduce((a, b) => a + b, 0) / peers / minutes,
    honestStepsPerMinuteByPeer: Object.fromEntries(
      honest.map((p, i) => [p.name, stepsInWindow[i] / minutes]),
    ),
    runStepsPerMinute: (largestBy(windowEnd) - largestBy(windowStart)) / minutes,
    largestStep: largestBy(windowEnd),
    finalVal: final ?? null,
    valCurve: curve,
    serverRssMiB: {
      min: Math.min(...rssValues),
      max: Math.max(...rssValues),
      last: rssValues.at(-1) ?? Number.NaN,
      samples: rss,
    },
    serverCpuS: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
    serverEventLoopDelayMs: {
      p50: Number((loop.percentile(50) / 1e6).toFixed(1)),
      p99: Number((loop.percentile(99) / 1e6).toFixed(1)),
      max: Number((loop.max / 1e6).toFixed(1)),
    },
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
    peerRssMaxMiB: MiB(Math.max(0, ...honest.map((p) => p.maxRssKiB)) * 1024),
    peerRssMaxByPeer: Object.fromEntries(honest.map((p) => [p.name, MiB(p.maxRssKiB * 1024)])),
    byzantineRssMaxMiB: MiB(Math.max(0, ...byzantine.map((p) => p.maxRssKiB)) * 1024),
    honestEvictions: evictions,
    honestExitsUnprompted: exits.filter((e) => e.honest && e.unprompted),
    exits,
    giveUps: {
      onHostile: giveUps.filter((g) => hostileIds.has(g.neighbour)).length,
      onHonest: giveUps.filter((g) => !hostileIds.has(g.neighbour)).length,
      byReason: giveUps.reduce<Record<string, number>>((acc, g) => {
        const key = `${hostileIds.has(g.neighbour) ? 'hostile' : 'honest'} ${g.reason}`;
        acc[key] = (acc[key] ?? 0) + 1;
        return acc;
      }, {}),
    },
    honestComplaints: Object.fromEntries([...complaints.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15)),
    bootstraps: honest.reduce((n, p) => n + p.bootstraps.filter((b) => inWindow(b.t)).length, 0),
    longestStepGap: longestGap(),
    hostileIds: [...hostileIds],
    slots,
    attacks,
  };
}
