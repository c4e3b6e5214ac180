/**
 * Tabs without WebGPU, end to end: the signaling server serves the built client cross-origin isolated, so
 * a tab's worker runs onnxruntime-web's wasm on threads (one per core but one, up to four), for the
 * gradients and for Newton–Schulz. Two such tabs, one as this machine is and one told it has three cores,
 * train the tiny GPT together to the end of a run.
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

/** A wasm tab on the run; `cores` is what its worker is told the machine has, else the truth. */
async function wasmTab(cores?: number) {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  if (cores)
    await page.route('**/assets/peer-worker-*.js', async (route) => {
      const response = await route.fetch();
      const told = `Object.defineProperty(WorkerNavigator.prototype, 'hardwareConcurrency', { get: () => ${cores} });`;
      await route.fulfill({ response, body: `${told}\n${await response.text()}` });
    });
  const token = server.runs.get(RUN.id)!.secretToken();
  await page.goto(`${server.url}/join/${RUN.id}?token=${token}&provider=wasm&wait=2`);
  return { page, errors };
}

it('wasm tabs are cross-origin isolated, run onnxruntime on one thread per core but one, and train', async () => {
  // One tab as this machine is, one told it has three cores: two wasm threads, whatever the cores here.
  const tabs = [await wasmTab(), await wasmTab(3)];
  for (const { page } of tabs) {
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    await page.waitForFunction(() => document.getElementById('state')?.textContent === 'done', null, {
      timeout: 240_000,
    });
  }
  const cores = await tabs[0].page.evaluate(() => navigator.hardwareConcurrency);
  for (const [i, threads] of [Math.max(1, Math.min(cores - 1, 4)), 2].entries()) {
    const { page, errors } = tabs[i];
    expect(await page.locator('#optimizer-backend').textContent()).toBe(
      `Newton–Schulz on onnxruntime-web (wasm, ${threads} thread${threads === 1 ? '' : 's'}), the rest in JavaScript`,
    );
    expect(Number(await page.locator('#val-loss').textContent())).toBeGreaterThan(0);
    expect(errors).toEqual([]);
  }
  // Both trained one run and ended averaging their parameters: the same validation loss, to round-off of
  // threaded against single-threaded sums.
  const losses = await Promise.all(
    tabs.map(async ({ page }) => Number(await page.locator('#val-loss').textContent())),
  );
  expect(Math.abs(losses[0] - losses[1])).toBeLessThan(1e-3);
  for (const { page } of tabs) await page.close();
}, 300_000);
