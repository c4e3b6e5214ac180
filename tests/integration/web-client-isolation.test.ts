/**
 * The signaling server serves the browser client cross-origin isolated (COOP same-origin, COEP
 * require-corp) on its pages and every file of the build, so that tabs get shared wasm memory and run
 * onnxruntime-web's wasm on several threads.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';

let webRoot: string;
let dataDir: string;
let server: SignalingServer;

beforeAll(async () => {
  webRoot = mkdtempSync(join(tmpdir(), 'isolation-web-'));
  dataDir = mkdtempSync(join(tmpdir(), 'isolation-data-'));
  for (const dir of ['assets', 'ort', 'data']) mkdirSync(join(webRoot, dir));
  writeFileSync(join(webRoot, 'join.html'), '<!doctype html><title>join</title>');
  writeFileSync(join(webRoot, 'run.html'), '<!doctype html><title>run</title>');
  writeFileSync(join(webRoot, 'assets', 'peer-worker-abc.js'), 'export {};');
  writeFileSync(join(webRoot, 'ort', 'ort-wasm-simd-threaded.jsep.mjs'), 'export {};');
  writeFileSync(join(webRoot, 'ort', 'ort-wasm-simd-threaded.jsep.wasm'), new Uint8Array([0, 97, 115, 109]));
  writeFileSync(join(webRoot, 'data', 'brown-512.bin'), new Uint8Array(8));
  server = await createSignalingServer({ port: 0, dataDir, webRoot, log: silentLogger });
});

afterAll(async () => {
  await server?.close();
  rmSync(webRoot, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
});

it('sends COOP and COEP with the pages, the worker, the onnxruntime files and the corpus', async () => {
  for (const path of [
    '/join/default',
    '/runs/default',
    '/',
    '/assets/peer-worker-abc.js',
    '/ort/ort-wasm-simd-threaded.jsep.mjs',
    '/ort/ort-wasm-simd-threaded.jsep.wasm',
    '/data/brown-512.bin',
  ]) {
    const response = await fetch(`${server.url}${path}`);
    expect(response.status, path).toBe(200);
    expect(response.headers.get('cross-origin-opener-policy'), path).toBe('same-origin');
    expect(response.headers.get('cross-origin-embedder-policy'), path).toBe('require-corp');
    await response.arrayBuffer();
  }
  const loader = await fetch(`${server.url}/ort/ort-wasm-simd-threaded.jsep.mjs`);
  expect(loader.headers.get('content-type')).toMatch(/^text\/javascript/);
  await loader.arrayBuffer();
  const wasm = await fetch(`${server.url}/ort/ort-wasm-simd-threaded.jsep.wasm`);
  expect(wasm.headers.get('content-type')).toBe('application/wasm');
  await wasm.arrayBuffer();
});
