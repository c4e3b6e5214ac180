/**
 * Tabs as real devices treat them, end to end: headless Chromium tabs on the join URL (each peer in a Web
 * Worker on onnxruntime-web's wasm) and an in-process Node peer train the server's default run (`npm start`:
 * ring, DeMuon, iid Brown) with few steps.
 *
 * - A tab whose page is CPU-throttled 4× (DevTools) is waited for, never evicted, and the run
 *   trains together to its last step. Chromium throttles a page's main thread only (the DevTools protocol
 *   refuses to throttle a worker), so what slows down is the page's side of the peer: its signaling socket
 *   and heartbeats, the WebRTC connections whose every frame it relays, and the dashboard.
 * - A tab frozen as Chromium freezes a background tab (`Page.setWebLifecycleState`) for longer than the
 *   server's heartbeat timeout: the others go on without it, and once thawed it finds out it was evicted,
 *   joins again under a new id with a neighbour's state, and the run ends in consensus. Chromium closes a
 *   frozen page's WebSocket, and (nearly always, see below) freezes its worker with it.
 *
 * Screenshots of the throttled and of the rejoined tab land in tests/e2e/artifacts/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gptConfig } from '@demuon/shared/model';
import type { PeerActivity } from '@demuon/shared/peer';
import { type RunConfig, RunConfigSchema, type RunState } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import * as ort from 'onnxruntime-node';
import type { BrowserContext, Page } from 'playwright-core';
import SimplePeer from 'simple-peer';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWebClient } from '../../client/scripts/build-web';
import { OrtGradientEngine, type OrtModule } from '../../client/src/engine/ort-engine';
import { PeerRunner } from '../../client/src/net/peer-runner';
import { SocketIoSignaling } from '../../client/src/net/signaling-socket';
import { prepareBrownData } from '../../client/src/node/corpus';
import { OrtNewtonSchulzBackend } from '../../client/src/node/fast-cpu-backend';
import { createSignalingServer, type SignalingServer } from '../../signaling-server/src';
import { heartbeatIntervalMs, suspicionBoundMs } from '../../signaling-server/src/limits';
import { DEFAULT_RUN_INPUT } from '../../signaling-server/src/run-configs';
import { E2E_ARTIFACTS, type FreezableChromium, launchFreezableChromium } from '../helpers/chromium';
import { until } from '../helpers/peer-process';

/**
 * The default run as `npm start` makes it, with `steps` steps. The model is the tiny preset instead of the
 * default's small one: a small step takes seconds on wasm and three peers share two cores here (on small,
 * the three had not all finished their first step after two minutes), and the frozen tab's test needs
 * dozens of steps (the others go on while it is frozen, and it must rejoin before they finish).
 */
function defaultRun(steps: number): RunConfig {
  return RunConfigSchema.parse({ ...DEFAULT_RUN_INPUT, model: { preset: 'tiny' }, steps });
}

/** Test 2's server: a peer not heard from for this long is removed (the default is 10 s). */
const HEARTBEAT_TIMEOUT_MS = 4000;
/** A neighbour the server has not heard from for this long is silent: rounds give up on it. */
const SUSPICION_MS = suspicionBoundMs(heartbeatIntervalMs(HEARTBEAT_TIMEOUT_MS));
/** The peers wait for three before training: two tabs and the device. */
const PEERS = 3;
/** The console errors a frozen tab may have: Chromium closes a frozen page's WebSocket, and says so again
 * when the page, thawed, sends on it before it learns. */
const FROZEN_SOCKET_CLOSED =
  /^(WebSocket connection to '.*' failed: Page entered Back-Forward Cache|WebSocket is already in CLOSING or CLOSED state)\.$/;

let webRoot: string;
let chromium: FreezableChromium;
let corpus: ReturnType<typeof prepareBrownData>;
const servers: SignalingServer[] = [];
const dataDirs: string[] = [];
const sockets: Socket[] = [];
const runners: { stop(): void }[] = [];

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'tab-liveness-web-'));
  mkdirSync(E2E_ARTIFACTS, { recursive: true });
  const vocabSize = gptConfig(defaultRun(1).model.preset).vocabSize;
  await buildWebClient({ out: webRoot, vocabSizes: [vocabSize], quiet: true });
  corpus = prepareBrownData({ vocabSize });
  chromium = await launchFreezableChromium();
}, 180_000);

afterAll(async () => {
  for (const r of runners) r.stop();
  for (const s of sockets) s.disconnect();
  await chromium?.close();
  for (const server of servers) await server.close();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  rmSync(webRoot, { recursive: true, force: true });
});

/** A server for `run`, whose log lines are kept (with the seconds since it started) for failure messages. */
async function startServer(run: RunConfig, heartbeatTimeoutMs?: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'tab-liveness-'));
  dataDirs.push(dataDir);
  const lines: string[] = [];
  const startedAt = Date.now();
  const keep = (level: string) => (message: string) =>
    lines.push(`${((Date.now() - startedAt) / 1000).toFixed(1)} s ${level}: ${message}`);
  const server = await createSignalingServer({
    port: 0,
    dataDir,
    webRoot,
    runs: [run],
    log: { info: keep('info'), warn: keep('warn') },
    ...(heartbeatTimeoutMs !== undefined ? { heartbeatTimeoutMs } : {}),
  });
  servers.push(server);
  return Object.assign(server, { lines });
}

/** What a tab records in its page, from before its scripts run: activities, steps, lifecycle events. */
interface Recorded {
  __kinds: string[];
  __steps: { step: number; waitingMs: number; stepMs: number; at: number }[];
  __lifecycle: string[];
}

type Tab = { name: string; page: Page; errors: string[] };

/** A wasm tab on the join URL, in `context` or a context of its own; console and page errors are collected. */
async function openTab(server: SignalingServer, run: RunConfig, name: string, context?: BrowserContext) {
  const page = context ? await context.newPage() : await chromium.browser.newPage();
  await page.setViewportSize({ width: 1280, height: 900 });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => {
    const w = window as unknown as Recorded;
    w.__kinds = [];
    w.__steps = [];
    w.__lifecycle = [];
    document.addEventListener('peer-step', (event) => {
      const { step, timing } = (event as CustomEvent).detail;
      const stepMs = timing.gradientMs + timing.optimizerMs + timing.waitingMs;
      w.__steps.push({ step, waitingMs: timing.waitingMs, stepMs, at: Date.now() });
    });
    for (const type of ['freeze', 'resume']) document.addEventListener(type, () => w.__lifecycle.push(type));
    new MutationObserver(() => {
      const kind = document.getElementById('state')?.dataset.kind;
      if (kind && w.__kinds.at(-1) !== kind) w.__kinds.push(kind);
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-kind'] });
  });
  const token = server.runs.get(run.id)!.secretToken();
  await page.goto(`${server.url}/join/${run.id}?token=${token}&provider=wasm&name=${name}&wait=${PEERS}`);
  return { name, page, errors } satisfies Tab;
}

const recorded = <K extends keyof Recorded>(page: Page, key: K) =>
  page.evaluate((k) => (window as unknown as Recorded)[k], key as keyof Recorded) as Promise<Recorded[K]>;

const field = (page: Page, id: string) => page.locator(`#${id}`).textContent();

/**
 * Page conditions are polled on a timer, not on animation frames: a thawed page stays hidden (Chromium
 * does not show it again), and a hidden page draws no frames.
 */
const POLL = { polling: 250 } as const;

/** Resolves once the tab's activity is `kind`. */
const reaches = (page: Page, kind: PeerActivity['kind'], timeout = 240_000) =>
  page.waitForFunction((k) => document.getElementById('state')?.dataset.kind === k, kind, {
    ...POLL,
    timeout,
  });

/** The Node peer (a PeerRunner, so that an eviction would show as a rejoin), training in the background. */
async function startDevice(server: SignalingServer, run: RunConfig) {
  const model = gptConfig(run.model.preset, { vocabSize: corpus.tokenizer.vocabSize });
  // One thread: the two tabs need the other core.
  const sessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, {
    batchSize: run.batch,
    sessionOptions,
  });
  const backend = new OrtNewtonSchulzBackend(sessionOptions);
  const socket = io(server.url, { transports: ['websocket'], forceNew: true });
  sockets.push(socket);
  const kinds: string[] = [];
  const steps: Recorded['__steps'] = [];
  const runner = new PeerRunner({
    socket: new SocketIoSignaling(socket),
    runId: run.id,
    token: server.runs.get(run.id)!.secretToken(),
    name: 'device',
    platform: 'node',
    engine,
    backend,
    data: { train: corpus.train, val: corpus.val, vocabSize: corpus.tokenizer.vocabSize },
    waitForPeers: PEERS,
    connect: (options) => new SimplePeer({ ...options, wrtc }),
    onActivity: (a) => kinds.push(a.kind),
    onStep: ({ step, timing }) =>
      steps.push({
        step: step + 1,
        waitingMs: timing.waitingMs,
        stepMs: timing.gradientMs + timing.optimizerMs + timing.waitingMs,
        at: Date.now(),
      }),
  });
  runners.push(runner);
  const outcome = runner.run();
  return {
    runner,
    outcome,
    kinds,
    steps,
    async dispose() {
      socket.disconnect();
      await engine.dispose();
      await backend.dispose();
    },
  };
}

/** Every run-state snapshot the server broadcasts for a run, as the overview receives them. */
class RunWatch {
  private readonly socket: Socket;
  private latest: RunState | undefined;
  private readonly waiters = new Set<() => void>();
  /** Every member id seen in any snapshot, with its name. */
  readonly seen = new Map<string, string | undefined>();
  /** The longest the server went without hearing from each member id, in the latest snapshot of it. */
  readonly longestGapMs = new Map<string, number>();

  constructor(server: SignalingServer, runId: string) {
    this.socket = io(server.url, { transports: ['websocket'], forceNew: true });
    sockets.push(this.socket);
    this.socket.on('run-state', (state: RunState) => {
      this.latest = state;
      for (const m of state.members) {
        this.seen.set(m.peer, m.name);
        this.longestGapMs.set(m.peer, m.longestGapMs);
      }
      for (const wake of [...this.waiters]) wake();
    });
    this.socket.emit('watch', { runId });
  }

  /** Resolves with `check`'s first defined value on a snapshot; fails after `timeoutMs`. */
  until<T>(what: string, check: (state: RunState) => T | undefined, timeoutMs = 120_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const look = () => {
        const value = this.latest && check(this.latest);
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(look);
      };
      this.waiters.add(look);
      look();
    });
  }

  close(): void {
    this.socket.disconnect();
  }
}

type Point = { peer: string; step: number; epoch: number; valLoss?: number; disagreement?: number };

async function metrics(server: SignalingServer, runId: string): Promise<Point[]> {
  const response = await fetch(`${server.url}/api/runs/${runId}/metrics.json`);
  return ((await response.json()) as { points: Point[] }).points;
}

async function runState(server: SignalingServer, runId: string): Promise<RunState> {
  const response = await fetch(`${server.url}/api/runs/${runId}`);
  return ((await response.json()) as { state: RunState }).state;
}

/** The largest step each peer has reported (progress, every step), as the run state says. */
async function reportedSteps(server: SignalingServer, runId: string, peers: string[]): Promise<number[]> {
  const { members } = await runState(server, runId);
  return peers.map((peer) => members.find((m) => m.peer === peer)?.step ?? 0);
}

/** The largest step each peer has reported metrics for (at most one report a second, and eval steps). */
async function lastSteps(server: SignalingServer, runId: string, peers: string[]): Promise<number[]> {
  const points = await metrics(server, runId);
  return peers.map((peer) => Math.max(0, ...points.filter((p) => p.peer === peer).map((p) => p.step)));
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Wall-clock time of a fixed amount of work on the page's main thread, in ms: 20 slices of a busy loop. */
function mainThreadMs(page: Page): Promise<number> {
  return page.evaluate(async () => {
    let total = 0;
    let x = 0;
    for (let slice = 0; slice < 20; slice++) {
      const started = performance.now();
      for (let k = 0; k < 500_000; k++) x = (x + k * k) % 1_000_003;
      total += performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    return x >= 0 ? total : -1;
  });
}

it('a tab throttled 4× trains with a wasm tab and a Node peer to the end; nobody is evicted', async () => {
  const run = defaultRun(16);
  const server = await startServer(run);
  const watch = new RunWatch(server, run.id);
  const throttled = await openTab(server, run, 'throttled');
  const steady = await openTab(server, run, 'steady');
  const cdp = await throttled.page.context().newCDPSession(throttled.page);
  await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
  const device = await startDevice(server, run);

  // All three train together; the run state names them with the ids they joined with.
  const ids = await watch.until('three members training', (s) =>
    s.members.length === PEERS && s.members.every((m) => (m.step ?? 0) >= 1)
      ? new Map(s.members.map((m) => [m.name, m.peer]))
      : undefined,
  );
  expect(await field(throttled.page, 'peer-id')).toBe(ids.get('throttled'));
  expect(await field(steady.page, 'peer-id')).toBe(ids.get('steady'));
  expect(device.runner.peer?.peerId).toBe(ids.get('device'));
  // Halfway, the run state still has the same three members.
  await throttled.page.waitForFunction(
    (half) => Number(document.getElementById('step')?.textContent?.split(' / ')[0]) >= half,
    run.steps / 2,
    { ...POLL, timeout: 240_000 },
  );
  const halfway = await runState(server, run.id);
  const replaced = halfway.members.filter((m) => ids.get(m.name ?? '') !== m.peer);
  if (replaced.length > 0) {
    // Who came back under a new id, and why: the server's log and that member's own.
    const logs = await Promise.all(
      replaced.map(async ({ name }) =>
        name === 'device'
          ? device.kinds.join(' → ')
          : [throttled, steady]
              .find((tab) => tab.name === name)
              ?.page.locator('#log')
              .innerText(),
      ),
    );
    const who = replaced.map((m, i) => `${m.name} (${ids.get(m.name ?? '')} → ${m.peer}):\n${logs[i]}`);
    expect.fail(`members replaced by halfway: ${who.join('\n')}\nserver:\n${server.lines.join('\n')}`);
  }
  expect(new Set(halfway.members.map((m) => m.peer))).toEqual(new Set(ids.values()));

  expect(await device.outcome).toEqual({ kind: 'done' });
  // How late the throttled page's beats came, beside the others': what its suspicion bound stretches for.
  const gaps = [...ids].map(([name, id]) => `${name} ${watch.longestGapMs.get(id)} ms`);
  console.log(`the longest the server went without hearing from each: ${gaps.join(', ')}`);
  for (const { page } of [throttled, steady]) await reaches(page, 'done');
  await throttled.page.screenshot({
    path: join(E2E_ARTIFACTS, 'tab-throttled-dashboard.png'),
    fullPage: true,
  });
  watch.close();

  // Nobody was evicted: no tab rejoined, the device did not, and no other member id ever appeared.
  expect(device.runner.rejoins).toBe(0);
  expect(device.kinds).not.toContain('rejoining');
  for (const { name, page, errors } of [throttled, steady]) {
    // Its log says who evicted it and why, if anyone did.
    const log = await page.locator('#log').innerText();
    expect(await recorded(page, '__kinds'), `${name}: ${log}`).not.toContain('rejoining');
    expect(log, name).not.toMatch(/evicted/);
    expect(await field(page, 'step')).toBe(`${run.steps} / ${run.steps}`);
    expect(errors).toEqual([]);
  }
  expect(new Set(watch.seen.keys())).toEqual(new Set(ids.values()));

  // They trained together: every point is one of the three, in one epoch, and each peer's disagreement
  // with its neighbours is above 0 and ends smaller than it started.
  const points = await metrics(server, run.id);
  expect(new Set(points.map((p) => p.peer))).toEqual(new Set(ids.values()));
  expect(new Set(points.map((p) => p.epoch)).size).toBe(1);
  for (const peer of ids.values()) {
    const disagreement = points
      .filter((p) => p.peer === peer && p.disagreement !== undefined)
      .sort((a, b) => a.step - b.step)
      .map((p) => p.disagreement!);
    console.log(`${peer}: disagreement ${disagreement.map((d) => d.toExponential(2)).join(', ')}`);
    expect(disagreement.length).toBeGreaterThan(1);
    expect(Math.min(...disagreement)).toBeGreaterThan(0);
    expect(disagreement.at(-1)!).toBeLessThan(disagreement[0]);
  }
  const finals = points.filter((p) => p.step === run.steps && p.valLoss !== undefined).map((p) => p.valLoss!);
  console.log(`final validation losses: ${finals.map((v) => v.toFixed(4)).join(', ')}`);
  expect(finals).toHaveLength(PEERS);
  expect(Math.max(...finals)).toBeLessThan(Math.log(corpus.tokenizer.vocabSize));

  // What the throttling does to the page's thread, now that the peers are idle (medians of three, taken in
  // turns). Not a check: Chromium throttles by making the thread spin in a signal handler sent every
  // 200 µs, at most 3 ms at a time, so on a loaded machine, where that signal comes late, the slowdown
  // shrinks (1.3× to 7.5× here).
  const times: [number[], number[]] = [[], []];
  for (let i = 0; i < 3; i++) {
    times[0].push(await mainThreadMs(throttled.page));
    times[1].push(await mainThreadMs(steady.page));
  }
  const [slowMs, fastMs] = times.map(median);
  console.log(
    `the same work on the page's thread: throttled ${slowMs.toFixed(0)} ms, other ${fastMs.toFixed(0)} ms`,
  );
  await device.dispose();
}, 300_000);

it('a tab frozen past the heartbeat timeout is routed around, rejoins by itself once thawed, and the run ends in consensus', async () => {
  const run = defaultRun(60);
  const server = await startServer(run, HEARTBEAT_TIMEOUT_MS);
  const watch = new RunWatch(server, run.id);
  // The tab to freeze in the context whose pages can be frozen; the other in a context of its own.
  const frozen = await openTab(server, run, 'frozen', chromium.freezable);
  const steady = await openTab(server, run, 'steady');
  const device = await startDevice(server, run);

  const ids = await watch.until('three members past their second step', (s) =>
    s.members.length === PEERS && s.members.every((m) => (m.step ?? 0) >= 2)
      ? new Map(s.members.map((m) => [m.name, m.peer]))
      : undefined,
  );
  const frozenId = ids.get('frozen')!;
  const others = [ids.get('steady')!, ids.get('device')!];
  expect(await field(frozen.page, 'peer-id')).toBe(frozenId);

  // A timer in the tab's worker, to see whether the worker freezes with its page.
  const worker = frozen.page.workers().find((w) => w.url().includes('peer-worker'));
  expect(worker).toBeDefined();
  await worker!.evaluate(() => {
    const scope = self as unknown as { __ticks: number[] };
    scope.__ticks = [];
    setInterval(() => scope.__ticks.push(Date.now()), 100);
  });

  const cdp = await frozen.page.context().newCDPSession(frozen.page);
  const [before, metricsBefore] = [
    await reportedSteps(server, run.id, others),
    await lastSteps(server, run.id, others),
  ];
  await cdp.send('Page.setWebLifecycleState', { state: 'frozen' });
  const frozenAt = Date.now();

  // The server removes it; the others go on training while it stays frozen past the heartbeat timeout.
  await watch.until('the frozen tab to be removed', (s) =>
    s.members.some((m) => m.peer === frozenId) ? undefined : true,
  );
  const removedMs = Date.now() - frozenAt;
  // Each of the others trains 3 steps while it is frozen, by its own count and by the server's: its
  // progress in the run state, and new metrics.
  const stepsSince = async (at: number) => [
    (await recorded(steady.page, '__steps')).filter((s) => s.at > at).length,
    device.steps.filter((s) => s.at > at).length,
  ];
  await until(
    'the others to train 3 more steps, and the heartbeat timeout to pass',
    async () => {
      const own = await stepsSince(frozenAt);
      const reported = await reportedSteps(server, run.id, others);
      const measured = await lastSteps(server, run.id, others);
      const moved =
        own.every((n) => n >= 3) &&
        reported.every((s, i) => s >= before[i] + 3) &&
        measured.every((s, i) => s > metricsBefore[i]);
      return moved && Date.now() - frozenAt > HEARTBEAT_TIMEOUT_MS + 1000 ? true : undefined;
    },
    120_000,
  );
  const during = await reportedSteps(server, run.id, others);
  expect(await runState(server, run.id).then((s) => s.members.map((m) => m.peer).sort())).toEqual(
    [...others].sort(),
  );

  await cdp.send('Page.setWebLifecycleState', { state: 'active' });
  const thawedAt = Date.now();
  const frozenMs = thawedAt - frozenAt;
  console.log(
    `frozen ${frozenMs} ms, removed after ${removedMs} ms; the others went from steps ${before} to ${during}`,
  );

  // The page froze (freeze and resume events). Its worker nearly always freezes with it (the timer in it
  // stands still as long as the page is frozen), but once in some thirty freezes here it went on ticking:
  // logged, not checked. Either way the worker hears nothing while its page is frozen.
  expect(await recorded(frozen.page, '__lifecycle')).toEqual(['freeze', 'resume']);
  const ticks = await worker!.evaluate(() => (self as unknown as { __ticks: number[] }).__ticks);
  const longestGap = Math.max(...ticks.slice(1).map((t, i) => t - ticks[i]));
  console.log(
    `the worker's 100 ms timer paused for ${longestGap} ms at most (the page was frozen ${frozenMs} ms)`,
  );

  // Thawed, the tab finds out it was evicted and joins again, under a new id, as a late joiner.
  await frozen.page
    .waitForFunction(
      () => {
        const kinds = (window as unknown as Recorded).__kinds;
        return kinds.includes('rejoining') && kinds.lastIndexOf('training') > kinds.indexOf('rejoining');
      },
      null,
      { ...POLL, timeout: 120_000 },
    )
    .catch(async (error: Error) => {
      const kinds = (await recorded(frozen.page, '__kinds')).join(' → ');
      const log = await frozen.page.locator('#log').innerText();
      throw new Error(
        `the thawed tab did not rejoin (${error.message}); its activities: ${kinds}; its log:\n${log}`,
      );
    });
  const rejoinedId = await watch.until('the thawed tab to be a member again under a new id', (s) => {
    const member = s.members.find((m) => m.name === 'frozen');
    return member && member.peer !== frozenId ? member.peer : undefined;
  });
  expect(await field(frozen.page, 'peer-id')).toBe(rejoinedId);
  expect((await runState(server, run.id)).members.some((m) => m.peer === rejoinedId)).toBe(true);
  const kinds = await recorded(frozen.page, '__kinds');
  console.log(`the frozen tab's activities: ${kinds.join(' → ')}`);
  expect(kinds.slice(kinds.indexOf('rejoining'))).toContain('bootstrapping');

  expect(await device.outcome).toEqual({ kind: 'done' });
  for (const { page } of [frozen, steady]) await reaches(page, 'done');
  await frozen.page.screenshot({ path: join(E2E_ARTIFACTS, 'tab-rejoined-dashboard.png'), fullPage: true });
  watch.close();
  expect(await frozen.page.locator('#log').innerText()).toMatch(/took parameters and optimizer state from/);

  // The others were never evicted, and no round of theirs waited for the frozen tab past the deadline:
  // silence for the suspicion bound, noticed at the next look (every 2 step times, at least 1 s).
  expect(device.runner.rejoins).toBe(0);
  expect(device.kinds).not.toContain('rejoining');
  expect(await recorded(steady.page, '__kinds')).not.toContain('rejoining');
  // One rejoin only; should there be more, the tab's log says why.
  expect(new Set(watch.seen.keys()), await frozen.page.locator('#log').innerText()).toEqual(
    new Set([...others, frozenId, rejoinedId]),
  );
  for (const [name, steps] of [
    ['steady', await recorded(steady.page, '__steps')],
    ['device', device.steps],
  ] as const) {
    const whileFrozen = steps.filter((s) => s.at > frozenAt && s.at <= thawedAt);
    const longest = Math.max(...whileFrozen.map((s) => s.waitingMs));
    const deadline = SUSPICION_MS + Math.max(1000, 2 * median(steps.map((s) => s.stepMs)));
    console.log(`${name}: ${whileFrozen.length} steps while frozen, longest wait ${longest.toFixed(0)} ms`);
    expect(whileFrozen.length).toBeGreaterThanOrEqual(3);
    // A loaded machine's allowance on top of the deadline: still far less than the freeze.
    expect(longest).toBeLessThan(deadline + HEARTBEAT_TIMEOUT_MS);
    expect(longest).toBeLessThan(frozenMs);
  }

  // All three finish in consensus: the same validation loss, within a small spread.
  const points = await metrics(server, run.id);
  const finals = [...others, rejoinedId].map(
    (peer) => points.find((p) => p.peer === peer && p.step === run.steps)?.valLoss,
  );
  console.log(`final validation losses: ${finals.map((v) => v?.toFixed(4)).join(', ')}`);
  expect(finals.every((v) => v !== undefined)).toBe(true);
  expect(Math.max(...(finals as number[])) - Math.min(...(finals as number[]))).toBeLessThan(0.02);
  const lastDisagreement = (peer: string) =>
    points.filter((p) => p.peer === peer && p.disagreement !== undefined).at(-1)?.disagreement;
  console.log(
    `last disagreements: ${[...others, rejoinedId].map((p) => lastDisagreement(p)?.toExponential(2))}`,
  );

  expect(steady.errors).toEqual([]);
  // The frozen tab's only console error is Chromium's word that it closed the frozen page's WebSocket.
  expect(frozen.errors.filter((e) => !FROZEN_SOCKET_CLOSED.test(e))).toEqual([]);
  await device.dispose();
}, 300_000);
