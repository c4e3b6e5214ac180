/**
 * A tab's own checkpoints and its Try box, end to end: the signaling server serving the built client on
 * loopback, headless Chromium tabs on wasm training the tiny GPT alone in their runs. A reloaded tab
 * takes its checkpoint slot back from IndexedDB and resumes its emptied run at the saved step with the
 * saved parameters; the Try box streams text sampled from the tab's parameters while it trains on.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunConfigSchema } from '@demuon/shared/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWebClient } from '../../client/scripts/build-web';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { E2E_ARTIFACTS, launchChromium } from '../helpers/chromium';
import { generateInTryBox } from '../helpers/try-box';

const BASE = {
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
  // Far more than a test trains: the tabs are still training when the checks are done.
  steps: 2000,
  batch: 4,
  evalEvery: 1000,
  evalBatches: 1,
  seed: 3,
};
const RELOAD = RunConfigSchema.parse({ ...BASE, id: 'reload', checkpointEvery: 3 });
const TRY = RunConfigSchema.parse({ ...BASE, id: 'try' });
const TRY_GPU = RunConfigSchema.parse({ ...BASE, id: 'try-gpu' });

let webRoot: string;
let dataDir: string;
let server: SignalingServer;
let browser: Browser;

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'tab-resume-web-'));
  dataDir = mkdtempSync(join(tmpdir(), 'tab-resume-'));
  await buildWebClient({ out: webRoot, vocabSizes: [512], quiet: true });
  server = await createSignalingServer({
    port: 0,
    dataDir,
    webRoot,
    runs: [RELOAD, TRY, TRY_GPU],
    log: silentLogger,
  });
  browser = await launchChromium();
  mkdirSync(E2E_ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  rmSync(webRoot, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

declare global {
  interface Window {
    /** The step numbers ("k" of "k / K") of this document's step events, in order. */
    stepsSeen?: number[];
  }
}

/** A tab alone in `run`; its console and page errors are collected. */
async function openTab(run: typeof RELOAD, provider: 'wasm' | 'webgpu' = 'wasm') {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  // Before the page's own scripts, in every document of the tab (a reload included).
  await page.addInitScript(() => {
    window.stepsSeen = [];
    document.addEventListener('peer-step', (event) =>
      window.stepsSeen!.push((event as CustomEvent<{ step: number }>).detail.step),
    );
  });
  const token = server.runs.get(run.id)!.secretToken();
  await page.goto(`${server.url}/join/${run.id}?token=${token}&provider=${provider}&wait=1&name=alone`);
  return { page, errors };
}

/** The step of the tab's latest checkpoint, once it is at least `atLeast`. */
async function savedStep(page: Page, atLeast: number): Promise<number> {
  const saved = await page.waitForFunction(
    (n) => {
      const match = /step (\d+) saved/.exec(document.getElementById('checkpoint')?.textContent ?? '');
      return match && Number(match[1]) >= n ? Number(match[1]) : null;
    },
    atLeast,
    { timeout: 45_000 },
  );
  return (await saved.jsonValue()) as number;
}

it('a tab alone in its run is reloaded and resumes from its checkpoint in the browser', async () => {
  const { page, errors } = await openTab(RELOAD);
  // Two saves: the second keeps the first as the previous one.
  const before = await savedStep(page, 2 * RELOAD.checkpointEvery);
  expect(await page.locator('#checkpoint').textContent()).toMatch(
    /^slot 0 · step \d+ saved at .+ \(.+ in \d+ ms\)$/,
  );
  console.log(`before the reload: ${await page.locator('#checkpoint').textContent()}`);

  await page.reload();
  const resumed = await page.waitForFunction(
    () =>
      /resumed from the checkpoint at step (\d+): validation loss (\S+) \(saved: (\S+)\)/
        .exec(document.getElementById('log')?.textContent ?? '')
        ?.slice(1) ?? null,
    null,
    { timeout: 45_000 },
  );
  const [step, loss, savedLoss] = (await resumed.jsonValue()) as string[];
  const resumedAt = Number(step);
  // The newest save it made (one more may have come between the look and the reload).
  expect(resumedAt).toBeGreaterThanOrEqual(before);
  expect(resumedAt % RELOAD.checkpointEvery).toBe(0);
  // The restored parameters are the saved ones: the same loss on the same validation batches.
  expect(loss).toBe(savedLoss);
  // Its first step after the reload is the saved step ("k / K" counts steps done, hence +1).
  await page.waitForFunction(() => (window.stepsSeen?.length ?? 0) > 0, null, { timeout: 30_000 });
  expect(await page.evaluate(() => window.stepsSeen![0])).toBe(resumedAt + 1);
  // It took its own slot again, and goes on saving there.
  expect(await page.locator('#checkpoint').textContent()).toMatch(/^slot 0/);
  const { points } = (await (await fetch(`${server.url}/api/runs/${RELOAD.id}/metrics.json`)).json()) as {
    points: { peer: string; step: number }[];
  };
  const peerId = await page.locator('#peer-id').textContent();
  const after = points.filter((p) => p.peer === peerId).map((p) => p.step);
  expect(Math.min(...after)).toBe(resumedAt + 1);
  console.log(`resumed at step ${resumedAt} with validation loss ${loss} (saved: ${savedLoss})`);
  expect(errors).toEqual([]);
  await page.close();
}, 90_000);

it('the Try box streams text sampled from the tab’s parameters while it goes on training', async () => {
  const TOKENS = 60;
  const { page, errors } = await openTab(TRY);
  await page.waitForFunction(() => (window.stepsSeen?.length ?? 0) >= 3, null, { timeout: 45_000 });
  const stepsBefore = await page.evaluate(() => window.stepsSeen!.length);
  const { status, growth, text, tokens } = await generateInTryBox(page, 'The jury said', TOKENS);
  console.log(`Try box on a wasm tab: ${status}`);
  expect(status).toMatch(new RegExp(`^${TOKENS} tokens in .* from the parameters after step \\d+`));
  expect(tokens).toBe(TOKENS);
  expect(await page.locator('#try-output .try-prompt').textContent()).toBe('The jury said');
  // The text came token by token: it grew in many steps, at different times, and ends with at least a
  // character per token (byte-level tokens of an ASCII corpus).
  const lengths = growth.map((g) => g.length);
  expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
  expect(new Set(lengths).size).toBeGreaterThanOrEqual(10);
  expect(growth.at(-1)!.at).toBeGreaterThan(growth[0].at);
  expect(text.length).toBeGreaterThanOrEqual(TOKENS);
  const card = page.locator('#try-card');
  await card.screenshot({ path: join(E2E_ARTIFACTS, 'try-the-model.png') });
  // Readable on a phone: nothing wider than the screen, once the page has laid itself out again.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForFunction(() => document.documentElement.scrollWidth <= 390, null, { timeout: 10_000 });
  await card.screenshot({ path: join(E2E_ARTIFACTS, 'try-the-model-phone.png') });
  // Training went on meanwhile.
  await page.waitForFunction((n) => window.stepsSeen!.length > n, stepsBefore, { timeout: 30_000 });
  expect(await page.locator('#state').getAttribute('data-kind')).toBe('training');
  expect(errors).toEqual([]);
  await page.close();
}, 90_000);

it('on a WebGPU tab the Try box samples from the parameters the optimizer keeps on the GPU', async () => {
  const TOKENS = 30;
  const { page, errors } = await openTab(TRY_GPU, 'webgpu');
  await page.waitForFunction(() => (window.stepsSeen?.length ?? 0) >= 2, null, { timeout: 45_000 });
  expect(await page.locator('#parameters').textContent()).toBe('on the GPU (resident)');
  const { status, tokens, text } = await generateInTryBox(page, '', TOKENS);
  console.log(`Try box on a WebGPU tab: ${status}`);
  expect(status).toMatch(new RegExp(`^${TOKENS} tokens in .* from the parameters after step [1-9]\\d*,`));
  expect(tokens).toBe(TOKENS);
  expect(text.length).toBeGreaterThanOrEqual(TOKENS);
  expect(errors).toEqual([]);
  await page.close();
}, 90_000);
