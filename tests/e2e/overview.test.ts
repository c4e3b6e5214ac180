/**
 * The run overview page (/runs/<id>) end to end: the signaling server serving the built client, four
 * socket.io members reporting metrics (losses, timing, link statistics), and headless Chromium reading
 * the page. Checks go through the DOM hooks documented in client/src/web/overview/main.ts; screenshots at
 * laptop and phone sizes land in tests/e2e/artifacts/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENTS, type Metrics } from '@demuon/shared/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWebClient } from '../../client/scripts/build-web';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { TestClient } from '../../signaling-server/testing/test-client';
import { E2E_ARTIFACTS, launchChromium } from '../helpers/chromium';

const ARTIFACTS = E2E_ARTIFACTS;
const RUN = {
  id: 'overview',
  name: 'Overview demo',
  model: { preset: 'tiny' },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
  steps: 100,
};

let webRoot: string;
let dataDir: string;
let server: SignalingServer;
let browser: Browser;
const members: TestClient[] = [];

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'overview-web-'));
  dataDir = mkdtempSync(join(tmpdir(), 'overview-data-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  const [, started] = await Promise.all([
    buildWebClient({ out: webRoot, vocabSizes: [512], quiet: true }),
    createSignalingServer({
      port: 0,
      dataDir,
      webRoot,
      runs: [RUN],
      heartbeatTimeoutMs: 30_000,
      log: silentLogger,
    }),
    launchChromium().then((b) => {
      browser = b;
    }),
  ]);
  server = started;
}, 120_000);

afterAll(async () => {
  for (const m of members) m.close();
  await browser?.close();
  await server?.close();
  rmSync(webRoot, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

type Link = Metrics['links'][number];

function report(member: TestClient, step: number, valLoss: number | undefined, links: Link[] = []) {
  const metrics: Metrics = {
    step,
    epoch: member.current!.epoch,
    trainLoss: 6 - step / 20 + members.indexOf(member) * 0.05,
    ...(valLoss !== undefined ? { valLoss } : {}),
    bytesSent: step * 150_000,
    bytesReceived: step * 140_000,
    timing: { gradientMs: 40, optimizerMs: 12, waitingMs: 8 + members.indexOf(member) * 10 },
    links,
  };
  return member.request(EVENTS.metrics, metrics);
}

const link = (peer: string, state: Link['state'], extra: Partial<Link> = {}): Link => ({
  peer,
  state,
  bytesSent: 1e6,
  bytesReceived: 1e6,
  drops: 0,
  rttMs: 3,
  bytesPerSecond: 2e6,
  ...extra,
});

/** A page on `path` that collects every console error and page error. */
async function open(path: string, viewport: { width: number; height: number }) {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${server.url}${path}`);
  return { page, errors };
}

const cell = (page: Page, peer: string, field: string) =>
  page.locator(`#peer-table tbody tr[data-peer="${peer}"] [data-field="${field}"]`).textContent();

it('shows the peers, the graph with link health, the curves, and updates live', async () => {
  const token = server.runs.get(RUN.id)!.secretToken();
  for (const name of ['laptop', 'phone', 'desktop', 'tablet']) {
    const member = await TestClient.connect(server.url);
    members.push(member);
    await member.join(RUN.id, token, {
      name,
      platform: 'browser',
      backend: name === 'phone' ? 'wasm' : 'webgpu',
    });
    member.heartbeats(1000);
  }
  for (const m of members) await m.epoch(members.length);
  const [a, b, c, d] = members;
  // History: every peer at steps 5..20, validation losses at 10 and 20 that differ across peers.
  for (const step of [5, 10, 15, 20]) {
    for (const [i, m] of members.entries()) {
      const val = step % 10 === 0 ? 5.5 - step / 20 + i * 0.1 : undefined;
      const links =
        step === 20
          ? [
              [link(b.peerId, 'open'), link(d.peerId, 'connecting')],
              [link(a.peerId, 'open'), link(c.peerId, 'open', { drops: 3 })],
              [],
              [link(c.peerId, 'closed')],
            ][i]
          : [];
      expect(await report(m, step, val, links)).toEqual({ ok: true });
    }
  }

  const laptop = await open(`/runs/${RUN.id}`, { width: 1280, height: 800 });
  const { page } = laptop;
  await page.locator('#status[data-state="live"]').waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#peer-table tbody tr[data-peer]').length === 4);
  expect(await page.locator('#run-title').textContent()).toBe(RUN.name);
  expect(await page.locator('#run-members').textContent()).toBe('4 / 64');
  expect(await cell(page, a.peerId, 'name')).toBe('laptop');
  expect(await cell(page, b.peerId, 'backend')).toBe('wasm');
  expect(await cell(page, a.peerId, 'step')).toBe('20');
  expect(await cell(page, c.peerId, 'val-loss')).toBe((5.5 - 1 + 0.2).toFixed(3));
  expect(await cell(page, d.peerId, 'timing')).toContain('40.0 / 12.0 / 38.0');
  expect(await cell(page, a.peerId, 'status')).toBe('live');

  // The ring: four nodes, four undirected edges coloured by what the ends reported.
  expect(await page.locator('#topology svg circle[data-peer]').count()).toBe(4);
  expect(await page.locator('#topology .edge[data-from][data-to]').count()).toBe(4);
  const edgeState = (x: TestClient, y: TestClient) =>
    page
      .locator(
        `#topology .edge[data-from="${x.peerId}"][data-to="${y.peerId}"], ` +
          `#topology .edge[data-from="${y.peerId}"][data-to="${x.peerId}"]`,
      )
      .getAttribute('data-state');
  expect(await edgeState(a, b)).toBe('open');
  expect(await edgeState(a, d)).toBe('connecting');
  expect(await edgeState(b, c)).toBe('degraded');
  expect(await edgeState(c, d)).toBe('closed');
  // Node colours follow the validation losses: the lowest and the highest differ.
  const fills = await page
    .locator('#topology svg circle[data-peer]')
    .evaluateAll((cs) => cs.map((c) => c.getAttribute('fill')));
  expect(new Set(fills).size).toBe(4);

  // The curves hold the whole history (loaded from metrics.json), with the spread note.
  await page.waitForFunction(
    () => (window as unknown as { __overview: { points: number } }).__overview.points === 16,
  );
  expect(await page.locator('#val-loss-chart canvas').count()).toBe(1);
  expect(await page.locator('#spread-chart').getAttribute('data-kind')).toBe('val-spread');
  expect(await page.locator('#spread-note').textContent()).toContain('no consensus error');
  expect(await page.locator('#export-csv').getAttribute('href')).toBe(`/api/runs/${RUN.id}/metrics.csv`);

  // Live: a new report moves the table and the curves.
  await report(a, 30, 3.9, [link(b.peerId, 'open'), link(d.peerId, 'open')]);
  await page.waitForFunction((peer) => {
    const cell = document.querySelector(`#peer-table tr[data-peer="${peer}"] [data-field="step"]`);
    return cell?.textContent === '30';
  }, a.peerId);
  expect(await cell(page, a.peerId, 'val-loss')).toBe('3.900');
  expect(await edgeState(a, d)).toBe('open');
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(ARTIFACTS, 'overview-laptop.png'), fullPage: true });
  expect(laptop.errors).toEqual([]);

  const phone = await open(`/runs/${RUN.id}`, { width: 390, height: 844 });
  await phone.page.locator('#status[data-state="live"]').waitFor();
  await phone.page.waitForFunction(
    () => document.querySelectorAll('#peer-table tbody tr[data-peer]').length === 4,
  );
  await phone.page.waitForTimeout(300);
  expect(await phone.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await phone.page.screenshot({ path: join(ARTIFACTS, 'overview-phone.png'), fullPage: true });
  expect(phone.errors).toEqual([]);
  await page.close();
  await phone.page.close();
}, 60_000);

it('creates a run from the form, showing the join URL or the server error', async () => {
  const { page, errors } = await open(`/runs/${RUN.id}`, { width: 1280, height: 800 });
  await page.locator('#status[data-state="live"]').waitFor();
  await page.locator('#create-run summary').click();
  const form = page.locator('#create-run-form');
  await form.locator('[name="id"]').fill('made-here');
  await form.locator('[name="name"]').fill('Made on the page');
  await form.locator('[name="preset"]').selectOption('tiny');
  await form.locator('[name="topology"]').fill('exp');
  await form.locator('[name="algorithm"]').selectOption('gt-nsgdm');
  await form.locator('[name="lr"]').fill('0.01');
  await form.locator('[name="steps"]').fill('300');
  await form.locator('[name="encoding"]').selectOption('bf16');
  await form.locator('[name="maxPeers"]').fill('8');
  await form.locator('[name="adminToken"]').fill('not-the-token');
  await form.locator('button[type="submit"]').click();
  const result = page.locator('#create-run-result');
  await page.locator('#create-run-result[data-outcome="error"]').waitFor();
  expect(await result.textContent()).toContain('wrong admin token');

  await form.locator('[name="adminToken"]').fill(server.adminToken);
  await form.locator('button[type="submit"]').click();
  await page.locator('#create-run-result[data-outcome="ok"]').waitFor();
  const joinUrl = await page.locator('#created-join-url').getAttribute('href');
  const token = server.runs.get('made-here')!.secretToken();
  expect(joinUrl).toBe(`${server.url}/join/made-here?token=${token}`);
  const created = server.runs.get('made-here')!.config;
  expect(created).toMatchObject({
    name: 'Made on the page',
    model: { preset: 'tiny' },
    topology: { kind: 'exp' },
    algorithm: { name: 'gt-nsgdm', lr: { eta: 0.01, schedule: 'linear' } },
    steps: 300,
    encoding: 'bf16',
    maxPeers: 8,
  });
  // The same id again: the server's refusal is shown as it is.
  await form.locator('button[type="submit"]').click();
  await page.locator('#create-run-result[data-outcome="error"]').waitFor();
  expect(await result.textContent()).toMatch(/409/);
  await page.screenshot({ path: join(ARTIFACTS, 'overview-create-run.png'), fullPage: true });
  // The browser logs the refused requests (401, 409) themselves; nothing else may be logged.
  expect(errors.filter((e) => !/status of 40[19]/.test(e))).toEqual([]);
  await page.close();
});

it('says so for an unknown run', async () => {
  const { page, errors } = await open('/runs/no-such-run', { width: 390, height: 844 });
  await page.locator('#status[data-state="unknown-run"]').waitFor();
  expect(await page.locator('#run-error').isVisible()).toBe(true);
  expect(await page.locator('#run-error').textContent()).toContain('No run “no-such-run”');
  expect(await page.locator('#dashboard').isVisible()).toBe(false);
  await page.screenshot({ path: join(ARTIFACTS, 'overview-unknown-run.png'), fullPage: true });
  expect(errors).toEqual([]);
  await page.close();
});

it('shows the members away across a server restart, and resumed when they come back', async () => {
  const { page, errors } = await open(`/runs/${RUN.id}`, { width: 1280, height: 800 });
  await page.locator('#status[data-state="live"]').waitFor();
  await page.waitForFunction(
    () => (window as unknown as { __overview: { points: number } }).__overview.points === 17,
  );
  const { port } = server;
  const ids = members.map((m) => m.peerId);
  const secret = members[0].secret;
  await server.close();
  await page.locator('#status:not([data-state="live"])').waitFor();
  server = await createSignalingServer({
    port,
    dataDir,
    webRoot,
    runs: [RUN],
    heartbeatTimeoutMs: 30_000,
    log: silentLogger,
  });
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 15_000 });
  await page.waitForFunction(
    () => document.querySelectorAll('#peer-table [data-field="status"][data-status="away"]').length === 4,
  );
  expect(await page.locator('#topology circle[data-away="true"]').count()).toBe(4);

  const back = await TestClient.connect(server.url);
  members.push(back);
  await back.join(RUN.id, server.runs.get(RUN.id)!.secretToken(), {
    name: 'laptop',
    resume: { peerId: ids[0], secret },
  });
  back.heartbeats(1000);
  await page.waitForFunction(
    (peer) =>
      document
        .querySelector(`#peer-table tr[data-peer="${peer}"] [data-field="status"]`)
        ?.getAttribute('data-status') === 'resumed',
    ids[0],
  );
  // The history came back from the restarted server's metrics file: the curves are still complete.
  await page.waitForFunction(
    () => (window as unknown as { __overview: { points: number } }).__overview.points === 17,
  );
  await page.screenshot({ path: join(ARTIFACTS, 'overview-after-restart.png'), fullPage: true });
  // While the server was down the browser logs the refused WebSocket connections; nothing else.
  expect(errors.filter((e) => !/WebSocket connection .* failed/.test(e))).toEqual([]);
  await page.close();
});
