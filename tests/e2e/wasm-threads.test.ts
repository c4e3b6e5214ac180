/**
 * A tab without WebGPU, end to end: the signaling server serves the built client cross-origin isolated,
 * so the tab's worker runs onnxruntime-web's wasm on several threads (one per core, up to four), for the
 * gradients and for Newton–Schulz, and trains the tiny GPT alone to the end of its run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunConfigSchema } from '@demuon/shared/protocol';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWebClient } from '../../client/scripts/build-web';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { launchChromium } from '../helpers/chromium';

const RUN = RunConfigSchema.parse({
  id: 'wasm-threads',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
  steps: 4,
  batch: 4,
  evalEvery: 4,
  evalBatches: 1,
});

let webRoot: string;
let dataDir: string;
let server: SignalingServer;
let browser: Browser;

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'wasm-threads-web-'));
  dataDir = mkdtempSync(join(tmpdir(), 'wasm-threads-'));
  await buildWebClient({ out: webRoot, vocabSizes: [512], quiet: true });
  server = await createSignalingServer({ port: 0, dataDir, webRoot, runs: [RUN], log: silentLogger });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(webRoot, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

it('a wasm tab is cross-origin isolated, runs onnxruntime on threads and trains', async () => {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const token = server.runs.get(RUN.id)!.secretToken();
  await page.goto(`${server.url}/join/${RUN.id}?token=${token}&provider=wasm&wait=1`);
  expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  await page.waitForFunction(() => document.getElementById('state')?.textContent === 'done', null, {
    timeout: 240_000,
  });
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threads = Math.min(cores, 4);
  expect(await page.locator('#optimizer-backend').textContent()).toBe(
    `Newton–Schulz on onnxruntime-web (wasm, ${threads} thread${threads === 1 ? '' : 's'}), the rest in JavaScript`,
  );
  expect(Number(await page.locator('#val-loss').textContent())).toBeGreaterThan(0);
  expect(errors).toEqual([]);
  await page.close();
}, 300_000);
