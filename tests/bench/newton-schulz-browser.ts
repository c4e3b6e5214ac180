/**
 * Runs the browser half of the Newton–Schulz benchmark: bundles newton-schulz-page.ts with esbuild,
 * serves it and onnxruntime-web's wasm files on loopback, and drives headless Chromium (Debian's, through
 * playwright-core) with WebGPU enabled, on SwiftShader unless a real adapter is asked for.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { PageConfig, PageResult } from './newton-schulz-page';

const here = dirname(fileURLToPath(import.meta.url));
const ortDist = join(here, '../../node_modules/onnxruntime-web/dist');

const BASE_FLAGS = [
  '--no-sandbox',
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const SWIFTSHADER_FLAGS = [
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

export interface BrowserOptions {
  readonly swiftShader: boolean;
  readonly executablePath: string;
  /** Called with ORT's and the page's console warnings and errors. */
  readonly onConsole?: (line: string) => void;
}

export async function runInBrowser(config: PageConfig, options: BrowserOptions): Promise<PageResult> {
  const bundle = await build({
    entryPoints: [join(here, 'newton-schulz-page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'error',
  });
  const script = bundle.outputFiles[0].contents;
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><script type="module" src="/page.js"></script>');
    } else if (url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(script);
    } else if (/^\/ort\/[\w.-]+$/.test(url)) {
      try {
        const body = readFileSync(join(ortDist, url.slice(5)));
        const type = url.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
        res.writeHead(200, { 'content-type': type });
        res.end(body);
      } catch {
        res.writeHead(404).end();
      }
    } else {
      res.writeHead(url === '/favicon.ico' ? 204 : 404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const browser = await chromium.launch({
    executablePath: options.executablePath,
    args: [...BASE_FLAGS, ...(options.swiftShader ? SWIFTSHADER_FLAGS : [])],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'warning' || m.type() === 'error') options.onConsole?.(`[${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => options.onConsole?.(`[pageerror] ${e.message}`));
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => typeof window.runNewtonSchulzBench === 'function');
    return await page.evaluate((c) => window.runNewtonSchulzBench(c), config);
  } finally {
    await browser.close();
    server.close();
  }
}
