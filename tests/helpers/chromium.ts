/**
 * Headless Chromium as the end-to-end tests and the browser benchmark use it: Debian's build (no browser
 * download is possible), with WebGPU on SwiftShader where the machine has no GPU.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium } from 'playwright-core';

const EXECUTABLE = '/usr/bin/chromium';

export const CHROMIUM_FLAGS = [
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

/** Where the end-to-end tests save their screenshots (git-ignored). */
export const E2E_ARTIFACTS = fileURLToPath(new URL('../e2e/artifacts', import.meta.url));

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: EXECUTABLE, args: CHROMIUM_FLAGS });
}

/** A Chromium whose `freezable` pages can be frozen (see launchFreezableChromium). */
export interface FreezableChromium {
  readonly browser: Browser;
  /** The browser's default context: its pages can be frozen. */
  readonly freezable: BrowserContext;
  close(): Promise<void>;
}

/**
 * Chromium started here and driven over CDP, for tests that freeze a tab with
 * `Page.setWebLifecycleState`. Chromium freezes only a hidden page, and the command hides the page first,
 * unless something captures it: Playwright turns on focus emulation in every page it creates, which counts
 * as a visible capture, so in a browser from `launchChromium` the command answers success and freezes
 * nothing (timers, sockets and workers all go on). Pages of `freezable`, the default context of a browser
 * connected with `noDefaults`, have no focus emulation and freeze as a background tab does. Other contexts
 * (`browser.newContext()`, `browser.newPage()`) behave as in `launchChromium`.
 */
export async function launchFreezableChromium(): Promise<FreezableChromium> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  const child = spawn(
    EXECUTABLE,
    [
      ...CHROMIUM_FLAGS,
      '--headless',
      '--remote-debugging-port=0',
      `--user-data-dir=${profile}`,
      // As Playwright launches it: a tab in the background keeps its timers' pace once thawed.
      '--disable-background-timer-throttling',
      '--disable-backgrounding-occluded-windows',
      '--disable-renderer-backgrounding',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
    await exited;
    // Chromium's helper processes may still be writing to the profile for a moment, and on a loaded
    // machine for longer than the retries: a temporary folder left behind fails no test.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch (error) {
      console.warn(`left the Chromium profile ${profile}: ${(error as Error).message}`);
    }
  };
  try {
    const endpoint = await devToolsEndpoint(child);
    const browser = await chromium.connectOverCDP(endpoint, { noDefaults: true });
    return {
      browser,
      freezable: browser.contexts()[0],
      async close() {
        // Closing a browser connected over CDP only disconnects: Chromium is asked to quit first.
        await (await browser.newBrowserCDPSession()).send('Browser.close').catch(() => {});
        await browser.close().catch(() => {});
        await stop();
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The browser's DevTools WebSocket URL, which Chromium prints on stderr once it listens. */
function devToolsEndpoint(child: ChildProcess, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(`no DevTools endpoint within ${timeoutMs} ms`), timeoutMs);
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`Chromium did not start: ${why}\n${output.slice(-2000)}`));
    };
    child.once('exit', (code) => fail(`it exited with code ${code}`));
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /DevTools listening on (ws:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
}
