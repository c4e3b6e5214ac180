/**
 * The run's model from the overview, end to end: two headless peers (`npm run peer`) train; the overview
 * in headless Chromium collects their parameters over WebRTC links the server only signals, downloads X̄ as
 * a zipped model folder that `evaluate` measures again, in a fresh onnxruntime-node session, at the loss
 * its card records; and its Try box streams text sampled from X̄.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { unzipSync } from 'fflate';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWebClient } from '../../client/scripts/build-web';
import { readModelDir } from '../../client/src/node/model-dir';
import { evaluateModel } from '../../client/src/node/model-eval';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { launchChromium } from '../helpers/chromium';
import { killPeers, startPeer, tail, until } from '../helpers/peer-process';
import { generateInTryBox } from '../helpers/try-box';

const RUN = RunConfigSchema.parse({
  id: 'overview-model',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05 } },
  steps: 100_000,
  batch: 4,
  evalEvery: 1000,
  evalBatches: 2,
  seed: 4,
});

let webRoot: string;
let dataDir: string;
let out: string;
let server: SignalingServer;
let browser: Browser;
const children: ChildProcess[] = [];

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'overview-model-web-'));
  dataDir = mkdtempSync(join(tmpdir(), 'overview-model-'));
  out = mkdtempSync(join(tmpdir(), 'overview-model-out-'));
  await buildWebClient({ out: webRoot, vocabSizes: [512], quiet: true });
  server = await createSignalingServer({ port: 0, dataDir, webRoot, runs: [RUN], log: silentLogger });
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await killPeers(children);
  await browser?.close();
  await server?.close();
  for (const dir of [webRoot, dataDir, out]) rmSync(dir, { recursive: true, force: true });
});

it('downloads X̄ of the members as a model folder, and the Try box streams text from it', async () => {
  const args = (name: string) => [
    ...['--server', server.url, '--run', RUN.id, `--token=${server.runs.get(RUN.id)!.secretToken()}`],
    ...['--name', name, '--wait-for', '2', '--backend', 'cpu', '--threads', '1'],
  ];
  const peers = ['a', 'b'].map((name) => startPeer(args(name), children));
  await until(
    'both peers to train',
    () => (peers.every((p) => /step 3\//.test(p.output)) ? true : undefined),
    90_000,
    () => peers.map((p) => tail(p, 10)).join('\n'),
  );

  const page = await browser.newPage({ acceptDownloads: true });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}/runs/${RUN.id}`);
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: 90_000 }),
    page.click('#download-model'),
  ]);
  await page.waitForSelector('#model-status[data-state="done"]', { timeout: 30_000 });
  const zip = join(out, download.suggestedFilename());
  await download.saveAs(zip);
  for (const [name, bytes] of Object.entries(unzipSync(readFileSync(zip)))) {
    mkdirSync(dirname(join(out, name)), { recursive: true });
    writeFileSync(join(out, name), bytes);
  }
  const model = readModelDir(join(out, download.suggestedFilename().replace(/\.zip$/, '')));
  expect(model.card.source).toEqual({ kind: 'average', peers: 2 });
  expect(model.card.step).toBeGreaterThanOrEqual(3);
  const again = await evaluateModel(model);
  console.log(
    `overview download: ${download.suggestedFilename()}, card loss ${model.card.validation.loss.toFixed(6)}, evaluate ${again.loss.toFixed(6)}; ${await page.locator('#model-status').textContent()}`,
  );
  expect(Math.abs(again.loss - model.card.validation.loss)).toBeLessThan(1e-4);

  // The Try box: text grows token by token from X̄ collected at this Generate.
  const tried = await generateInTryBox(page, 'The jury said', 40);
  console.log(`Try box on the overview: ${tried.status}`);
  expect(tried.tokens).toBe(40);
  const lengths = tried.growth.map((g) => g.length);
  expect(lengths).toEqual([...lengths].sort((a, b) => a - b));
  expect(new Set(lengths).size).toBeGreaterThanOrEqual(10);
  expect(tried.growth.at(-1)!.at).toBeGreaterThan(tried.growth[0].at);
  expect(tried.text.length).toBeGreaterThanOrEqual(40);
  expect(errors).toEqual([]);
  for (const p of peers) expect(p.output).toMatch(/sent this peer's parameters to c-/);
}, 240_000);
