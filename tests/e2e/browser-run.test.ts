/**
 * Browser tabs in a run, end to end: the signaling server serving the built client on loopback, headless
 * Chromium tabs opening the join URL (each tab's peer in a Web Worker, WebRTC between tabs and with a Node
 * peer), training the tiny GPT on a ring. Checks go through each tab's DOM and the server's metrics;
 * screenshots land in tests/e2e/artifacts/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gptConfig } from '@demuon/shared/model';
import { RunConfigSchema } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import * as ort from 'onnxruntime-node';
import { type Browser, chromium, type Page } from 'playwright-core';
import SimplePeer from 'simple-peer';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWebClient } from '../../client/scripts/build-web';
import { OrtGradientEngine, type OrtModule } from '../../client/src/engine/ort-engine';
import { NetworkPeer } from '../../client/src/net/network-peer';
import { prepareBrownData } from '../../client/src/node/corpus';
import { OrtNewtonSchulzBackend } from '../../client/src/node/fast-cpu-backend';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';

const ARTIFACTS = fileURLToPath(new URL('./artifacts', import.meta.url));
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];
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
  server = await createSignalingServer({ port: 0, dataDir, webRoot, runs: [RUN], log: silentLogger });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
}, 120_000);

afterAll(async () => {
  for (const s of sockets) s.disconnect();
  await browser?.close();
  await server?.close();
  rmSync(webRoot, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

/** A tab on the join URL; every console error and page error is collected. */
async function openTab(name: string, provider: 'wasm' | 'webgpu' | 'auto') {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const token = server.runs.get(RUN.id)!.secretToken();
  await page.goto(`${server.url}/join/${RUN.id}?token=${token}&provider=${provider}&name=${name}&wait=3`);
  return { page, errors };
}

async function nodePeer() {
  const corpus = prepareBrownData({ vocabSize: 512 });
  const model = gptConfig('tiny', { vocabSize: corpus.tokenizer.vocabSize });
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, { batchSize: RUN.batch });
  const backend = new OrtNewtonSchulzBackend();
  const socket = io(server.url, { transports: ['websocket'], forceNew: true });
  sockets.push(socket);
  const peer = await NetworkPeer.join({
    socket,
    runId: RUN.id,
    token: server.runs.get(RUN.id)!.secretToken(),
    name: 'device',
    platform: 'node',
    engine,
    backend,
    data: { train: corpus.train, val: corpus.val, vocabSize: corpus.tokenizer.vocabSize },
    waitForPeers: 3,
    connect: (options) => new SimplePeer({ ...options, wrtc }),
  });
  return { peer, engine, backend };
}

const field = (page: Page, id: string) => page.locator(`#${id}`).textContent();

it('two wasm tabs and a Node peer train together on a ring; the tabs show it live', async () => {
  const tabs = [await openTab('tab-a', 'wasm'), await openTab('tab-b', 'wasm')];
  const device = await nodePeer();
  await device.peer.train();
  for (const { page } of tabs) {
    await page.waitForFunction(() => document.getElementById('state')?.textContent === 'done', null, {
      timeout: 120_000,
    });
  }
  for (const [i, { page, errors }] of tabs.entries()) {
    expect(await field(page, 'step')).toBe(`${RUN.steps} / ${RUN.steps}`);
    expect(await field(page, 'provider')).toMatch(/^wasm/);
    expect(Number(await field(page, 'val-loss'))).toBeLessThan(Math.log(512));
    expect(await page.locator('#neighbours tbody tr').count()).toBe(2);
    await page.screenshot({ path: join(ARTIFACTS, `peer-dashboard-${i}.png`), fullPage: true });
    expect(errors).toEqual([]);
  }
  // Every peer reported metrics, and their final validation losses agree: the three are in consensus.
  const { points } = (await (await fetch(`${server.url}/api/runs/${RUN.id}/metrics.json`)).json()) as {
    points: { peer: string; step: number; valLoss?: number }[];
  };
  const finals = points.filter((p) => p.step === RUN.steps && p.valLoss !== undefined).map((p) => p.valLoss!);
  console.log(`final validation losses: ${finals.map((v) => v.toFixed(4)).join(', ')}`);
  expect(finals).toHaveLength(3);
  expect(Math.max(...finals) - Math.min(...finals)).toBeLessThan(0.02);
  await device.engine.dispose();
  await device.backend.dispose();
}, 180_000);
