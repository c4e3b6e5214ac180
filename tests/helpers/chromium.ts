/**
 * Headless Chromium as the end-to-end tests and the browser benchmark use it: Debian's build (no browser
 * download is possible), with WebGPU on SwiftShader where the machine has no GPU.
 */
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

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
  return chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_FLAGS });
}
