/**
 * A tab's checkpoint store and slots in real Chromium: IndexedDB keeps the latest checkpoint and the one
 * before; an entry that does not decode is reported, passed over and moved aside, never written over;
 * Web Locks give each page of one browser profile its own slot, and a reloaded page the slot it had.
 * The store and slot code is bundled with esbuild and served on loopback (Web Locks need a secure
 * context, which http://127.0.0.1 is).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { RunConfig } from '@demuon/shared/protocol';
import { build } from 'esbuild';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type * as Slots from '../../client/src/web/checkpoint-slot';
import type * as Store from '../../client/src/web/idb-checkpoints';
import { launchChromium } from '../helpers/chromium';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the bundle puts on the page's window. */
type UnderTest = typeof Store & typeof Slots;
declare global {
  interface Window {
    underTest: UnderTest;
    /** The slot this page took. */
    slot?: number;
  }
}

let server: Server;
let origin: string;
let browser: Browser;

beforeAll(async () => {
  const bundle = await build({
    stdin: {
      contents: `
        import * as store from './client/src/web/idb-checkpoints';
        import * as slots from './client/src/web/checkpoint-slot';
        window.underTest = { ...store, ...slots };`,
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  });
  const script = bundle.outputFiles[0].contents;
  server = createServer((req, res) => {
    if (req.url === '/under-test.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(script);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><script type="module" src="/under-test.js"></script>');
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => server?.close(resolve));
});

async function open(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  await page.waitForFunction(() => window.underTest !== undefined);
  return page;
}

it('keeps the latest checkpoint and the one before, and moves entries that do not decode aside', async () => {
  const context = await browser.newContext();
  const page = await open(context);
  const result = await page.evaluate(async () => {
    const { IdbCheckpointStore, CHECKPOINT_DATABASE } = window.underTest;
    // The store checks the header as the format does: a run config (its defaults filled in on save).
    const run = { id: 'r', algorithm: { name: 'demuon', lr: { eta: 0.05 } } } as unknown as RunConfig;
    const checkpoint = (step: number) => ({
      header: {
        runId: 'r',
        fingerprint: 'f',
        run,
        step,
        valLoss: step / 10,
        savedAt: 0,
        tensors: [{ group: 'params', name: 'w', shape: [3] }],
      },
      values: [Float32Array.of(step, step + 0.5, -step)],
    });
    /** Every entry of the database: key → the step it holds, or its bytes' length when it is no checkpoint. */
    const entries = async () => {
      const db = await new Promise<IDBDatabase>((resolve) => {
        const r = indexedDB.open(CHECKPOINT_DATABASE);
        r.onsuccess = () => resolve(r.result);
      });
      const store = db.transaction('checkpoints').objectStore('checkpoints');
      const [keys, values] = await Promise.all(
        [store.getAllKeys(), store.getAll()].map(
          (r) => new Promise<unknown[]>((resolve) => (r.onsuccess = () => resolve(r.result))),
        ),
      );
      db.close();
      return Object.fromEntries(
        keys.map((k, i) => {
          const bytes = values[i] as Uint8Array;
          const step = bytes[0] === 0x44 ? 'checkpoint' : `${bytes.length} other bytes`;
          return [String(k).replace(/\.\d+\./, '.<time>.'), step];
        }),
      );
    };
    const put = async (key: string, value: Uint8Array) => {
      const db = await new Promise<IDBDatabase>((resolve) => {
        const r = indexedDB.open(CHECKPOINT_DATABASE);
        r.onsuccess = () => resolve(r.result);
      });
      const t = db.transaction('checkpoints', 'readwrite');
      t.objectStore('checkpoints').put(value, key);
      await new Promise((resolve) => (t.oncomplete = resolve));
      db.close();
    };
    const saves: number[] = [];
    const store = await IdbCheckpointStore.open('r/slot-0', (saved) => saves.push(saved.step));
    const other = await IdbCheckpointStore.open('r/slot-1');
    const problems: string[] = [];
    const problem = (where: string, reason: string) => problems.push(`${where}: ${reason}`);
    const steps: (number | undefined)[] = [(await store.load(problem))?.header.step];
    await store.save(checkpoint(1));
    await store.save(checkpoint(2));
    await other.save(checkpoint(7));
    const latest = await store.load(problem);
    steps.push(latest?.header.step, (await other.load(problem))?.header.step);
    const values = Array.from(latest!.values[0]);
    const afterTwo = await entries();
    // Storage damages the latest: the one before is taken, and the next save keeps the damaged bytes.
    await put('r/slot-0/latest', Uint8Array.of(1, 2, 3));
    steps.push((await store.load(problem))?.header.step);
    await store.save(checkpoint(3));
    const afterDamage = await entries();
    steps.push((await store.load(problem))?.header.step);
    // And the one before: written over by nothing either.
    await put('r/slot-0/previous', new Uint8Array(40));
    await store.save(checkpoint(4));
    const afterSecondDamage = await entries();
    return {
      steps,
      values,
      saves,
      problems,
      afterTwo,
      afterDamage,
      afterSecondDamage,
      location: store.location,
    };
  });
  expect(result.steps).toEqual([undefined, 2, 7, 1, 3]);
  expect(result.values).toEqual([2, 2.5, -2]);
  expect(result.saves).toEqual([1, 2, 3, 4]);
  expect(result.location).toBe('IndexedDB demuon-checkpoints/r/slot-0');
  expect(result.problems).toEqual([
    'IndexedDB demuon-checkpoints/r/slot-0/latest: not a checkpoint (no DMCK header)',
  ]);
  expect(result.afterTwo).toEqual({
    'r/slot-0/latest': 'checkpoint',
    'r/slot-0/previous': 'checkpoint',
    'r/slot-1/latest': 'checkpoint',
  });
  expect(result.afterDamage).toEqual({
    ...result.afterTwo,
    'r/slot-0/latest.<time>.unreadable': '3 other bytes',
  });
  expect(result.afterSecondDamage).toEqual({
    ...result.afterDamage,
    'r/slot-0/previous.<time>.unreadable': '40 other bytes',
  });
  await context.close();
});

it('gives each page its own slot, and a reloaded page the slot it had', async () => {
  const context = await browser.newContext();
  const take = (page: Page, preferred?: number, waitMs?: number) =>
    page.evaluate(
      async ([p, w]) => {
        window.slot = await window.underTest.takeCheckpointSlot('r', p ?? undefined, { waitMs: w ?? 5000 });
        return window.slot;
      },
      [preferred ?? null, waitMs ?? null] as const,
    );
  const [a, b, c] = [await open(context), await open(context), await open(context)];
  expect(await take(a)).toBe(0);
  expect(await take(b)).toBe(1);
  expect(await take(c)).toBe(2);
  // a closes, and b reloads: b takes its own slot again, not the lowest free one.
  await a.close();
  await b.reload();
  await b.waitForFunction(() => window.underTest !== undefined);
  expect(await take(b, 1)).toBe(1);
  // A page asking for a slot another page holds gets the lowest free one once it has waited.
  const d = await open(context);
  const started = Date.now();
  expect(await take(d, 2, 300)).toBe(0);
  expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  // Another profile has locks of its own.
  const elsewhere = await browser.newContext();
  expect(await take(await open(elsewhere))).toBe(0);
  await elsewhere.close();
  await context.close();
});
