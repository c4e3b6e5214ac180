/**
 * Browser tabs in a run, end to end: the signaling server serving the built client on loopback, headless
 * Chromium tabs opening the join URL (each tab's peer in a Web Worker, WebRTC between tabs and with a Node
 * peer), training the tiny GPT on a ring. Checks go through each tab's DOM and the server's metrics;
 * screenshots land in tests/e2e/artifacts/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gptConfig } from '@demuon/shared/model';
import type { PeerActivity } from '@demuon/shared/peer';
import { RunConfigSchema } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import * as ort from 'onnxruntime-node';
import type { Browser, Page } from 'playwright-core';
import SimplePeer from 'simple-peer';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWebClient } from '../../client/scripts/build-web';
import { OrtGradientEngine, type OrtModule } from '../../client/src/engine/ort-engine';
import { NetworkPeer } from '../../client/src/net/network-peer';
import { SocketIoSignaling } from '../../client/src/net/signaling-socket';
import { prepareBrownData } from '../../client/src/node/corpus';
import { OrtNewtonSchulzBackend } from '../../client/src/node/fast-cpu-backend';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { E2E_ARTIFACTS, launchChromium } from '../helpers/chromium';
import { until } from '../helpers/peer-process';

const ARTIFACTS = E2E_ARTIFACTS;
const RUN = RunConfigSchema.parse({
  id: 'tabs',
  name: 'Tabs and a device',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
  steps: 8,
  batch: 4,
  evalEvery: 4,
  evalBatches: 1,
  seed: 3,
  gossipTimeoutMs: 60_000,
});

const FOUR = RunConfigSchema.parse({
  ...RUN,
  id: 'four',
  name: 'Three WebGPU tabs and a device',
  steps: 6,
  evalEvery: 3,
});

// Membership changes are proposed and committed at a barrier, so pausing and resuming costs no round a
// timeout: the run's long gossip timeout (a connection deadline here) is never waited out.
const PAUSE = RunConfigSchema.parse({
  ...RUN,
  id: 'pause',
  name: 'Pause and resume',
  steps: 14,
  evalEvery: 7,
});

let webRoot: string;
let dataDir: string;
let server: SignalingServer;
let browser: Browser;
const sockets: Socket[] = [];

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'web-client-'));
  dataDir = mkdtempSync(join(tmpdir(), 'browser-run-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildWebClient({ out: webRoot, vocabSizes: [512], quiet: true });
  server = await createSignalingServer({
    port: 0,
    dataDir,
    webRoot,
    runs: [RUN, FOUR, PAUSE],
    log: silentLogger,
  });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await browser?.close();
  await server?.close();
  rmSync(webRoot, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

/** A tab on the join URL; every console error and page error is collected. */
async function openTab(name: string, provider: 'wasm' | 'webgpu' | 'auto', run = RUN, wait = 3) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const token = server.runs.get(run.id)!.secretToken();
  await page.goto(
    `${server.url}/join/${run.id}?token=${token}&provider=${provider}&name=${name}&wait=${wait}`,
  );
  return { page, errors };
}

async function nodePeer(run = RUN, waitForPeers = 3) {
  const corpus = prepareBrownData({ vocabSize: 512 });
  const model = gptConfig('tiny', { vocabSize: corpus.tokenizer.vocabSize });
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, { batchSize: run.batch });
  const backend = new OrtNewtonSchulzBackend();
  const socket = io(server.url, { transports: ['websocket'], forceNew: true });
  sockets.push(socket);
  const peer = await NetworkPeer.join({
    socket: new SocketIoSignaling(socket),
    runId: run.id,
    token: server.runs.get(run.id)!.secretToken(),
    name: 'device',
    platform: 'node',
    engine,
    backend,
    data: { train: corpus.train, val: corpus.val, vocabSize: corpus.tokenizer.vocabSize },
    waitForPeers,
    connect: (options) => new SimplePeer({ ...options, wrtc }),
  });
  return { peer, engine, backend };
}

const field = (page: Page, id: string) => page.locator(`#${id}`).textContent();

/** Resolves once the tab's activity (`#state[data-kind]`) is `kind`. */
const reaches = (page: Page, kind: PeerActivity['kind']) =>
  page.waitForFunction((k) => document.getElementById('state')?.dataset.kind === k, kind, {
    timeout: 300_000,
  });

/**
 * The validation losses the peers reported for the run's last step, once `count` have (a tab shows 'done'
 * as soon as it is, while its last report may still be on its way through the page's socket).
 */
async function finalValidationLosses(run: typeof RUN, count = 3): Promise<number[]> {
  const finals = async () => {
    const { points } = (await (await fetch(`${server.url}/api/runs/${run.id}/metrics.json`)).json()) as {
      points: { peer: string; step: number; valLoss?: number }[];
    };
    return points.filter((p) => p.step === run.steps && p.valLoss !== undefined).map((p) => p.valLoss!);
  };
  return (
    (await until(
      `${count} final validation losses`,
      async () => {
        const losses = await finals();
        return losses.length >= count ? losses : undefined;
      },
      30_000,
    ).catch(() => undefined)) ?? finals()
  );
}

it('a WebGPU tab, a wasm tab and a Node peer train together on a ring; the tabs show it live', async () => {
  const tabs = [await openTab('tab-a', 'webgpu'), await openTab('tab-b', 'wasm')];
  const device = await nodePeer();
  await device.peer.train();
  for (const { page } of tabs) await reaches(page, 'done');
  for (const [i, { page, errors }] of tabs.entries()) {
    expect(await field(page, 'step')).toBe(`${RUN.steps} / ${RUN.steps}`);
    expect(await field(page, 'provider')).toMatch(i === 0 ? /^WebGPU/ : /^wasm/);
    expect(await field(page, 'parameters')).toBe(
      i === 0 ? 'on the GPU (resident)' : 'copied through the CPU each step',
    );
    expect(Number(await field(page, 'val-loss'))).toBeLessThan(Math.log(512));
    expect(Number(await field(page, 'disagreement'))).toBeGreaterThan(0);
    expect(Number(await field(page, 'data-epochs'))).toBeGreaterThan(0);
    expect(await page.locator('#neighbours tbody tr').count()).toBe(2);
    await page.screenshot({ path: join(ARTIFACTS, `peer-dashboard-${i}.png`), fullPage: true });
    // Readable on a phone: nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await page.screenshot({ path: join(ARTIFACTS, `peer-dashboard-phone-${i}.png`), fullPage: true });
    expect(errors).toEqual([]);
  }
  // Every peer reported metrics, and their final validation losses agree: the three are in consensus.
  const finals = await finalValidationLosses(RUN);
  console.log(`final validation losses: ${finals.map((v) => v.toFixed(4)).join(', ')}`);
  expect(finals).toHaveLength(3);
  expect(Math.max(...finals) - Math.min(...finals)).toBeLessThan(0.02);
  await device.engine.dispose();
  await device.backend.dispose();
}, 180_000);

it('three WebGPU tabs and a Node peer on a ring; one tab closes mid-run and the rest finish in consensus', async () => {
  const tabs = [];
  for (const name of ['gpu-a', 'gpu-b', 'gpu-c']) tabs.push(await openTab(name, 'webgpu', FOUR, 4));
  const device = await nodePeer(FOUR, 4);
  const training = device.peer.train();
  const overview = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const overviewErrors: string[] = [];
  overview.on('pageerror', (e) => overviewErrors.push(e.message));
  overview.on('console', (m) => {
    if (m.type() === 'error') overviewErrors.push(m.text());
  });
  await overview.goto(`${server.url}/runs/${FOUR.id}`);

  // The third tab is closed, as a user closes it, once it has trained two steps.
  const [a, b, c] = tabs;
  await c.page.waitForFunction(
    () => Number(document.getElementById('step')?.textContent?.split(' / ')[0]) >= 2,
    null,
    {
      timeout: 300_000,
    },
  );
  await overview.screenshot({ path: join(ARTIFACTS, 'run-overview-four.png'), fullPage: true });
  expect(await overview.locator('#peer-table tbody tr[data-peer]').count()).toBe(4);
  expect(await overview.locator('#topology svg circle[data-peer]').count()).toBe(4);
  await c.page.close();
  // The overview follows: the closed tab's row goes once the server has made the new epoch.
  await overview.waitForFunction(
    () => document.querySelectorAll('#peer-table tbody tr[data-peer]').length === 3,
    null,
    {
      timeout: 60_000,
    },
  );
  await overview.screenshot({ path: join(ARTIFACTS, 'run-overview-live.png'), fullPage: true });
  await training;
  for (const { page } of [a, b]) await reaches(page, 'done');
  for (const [i, { page, errors }] of [a, b].entries()) {
    expect(await field(page, 'step')).toBe(`${FOUR.steps} / ${FOUR.steps}`);
    expect(await field(page, 'provider')).toBe('WebGPU');
    expect(await field(page, 'members')).toBe('3');
    await page.screenshot({ path: join(ARTIFACTS, `peer-dashboard-webgpu-${i}.png`), fullPage: true });
    expect(errors).toEqual([]);
  }
  const finals = await finalValidationLosses(FOUR);
  console.log(`final validation losses after a tab left: ${finals.map((v) => v.toFixed(4)).join(', ')}`);
  expect(finals).toHaveLength(3);
  expect(Math.max(...finals) - Math.min(...finals)).toBeLessThan(0.02);

  await overview.screenshot({ path: join(ARTIFACTS, 'run-overview-end.png'), fullPage: true });
  expect(overviewErrors).toEqual([]);
  await device.engine.dispose();
  await device.backend.dispose();
}, 600_000);

it('a tab that pauses leaves the run, and on resume rejoins with a neighbour’s state and finishes', async () => {
  const [a, b] = [await openTab('pausing', 'wasm', PAUSE), await openTab('steady', 'wasm', PAUSE)];
  const device = await nodePeer(PAUSE, 3);
  const training = device.peer.train();
  await a.page.waitForFunction(
    () => Number(document.getElementById('step')?.textContent?.split(' / ')[0]) >= 3,
    null,
    {
      timeout: 120_000,
    },
  );
  await a.page.click('#pause');
  await reaches(a.page, 'paused');
  expect(await field(a.page, 'state')).toBe('paused');
  expect(await a.page.locator('#pause').textContent()).toBe('Resume');
  // The others go on without it, in a smaller epoch.
  await b.page.waitForFunction(() => document.getElementById('members')?.textContent === '2', null, {
    timeout: 120_000,
  });
  await a.page.click('#pause');
  await a.page.waitForFunction(() => document.getElementById('state')?.dataset.kind === 'training', null, {
    timeout: 120_000,
  });
  await training;
  for (const { page } of [a, b]) await reaches(page, 'done');
  expect(await field(a.page, 'step')).toBe(`${PAUSE.steps} / ${PAUSE.steps}`);
  expect(await a.page.locator('#log').innerText()).toMatch(/took parameters and optimizer state from/);
  const finals = await finalValidationLosses(PAUSE);
  console.log(`final validation losses after a pause: ${finals.map((v) => v.toFixed(4)).join(', ')}`);
  expect(finals).toHaveLength(3);
  expect(Math.max(...finals) - Math.min(...finals)).toBeLessThan(0.02);
  for (const { errors } of [a, b]) expect(errors).toEqual([]);
  await device.engine.dispose();
  await device.backend.dispose();
}, 300_000);
