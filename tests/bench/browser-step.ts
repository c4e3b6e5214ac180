/**
 * Step time of a browser peer in headless Chromium: WebGPU (SwiftShader on a machine without a GPU, the
 * real adapter where there is one) against wasm, for the tiny and small GPT, split into gradient /
 * optimizer (Newton–Schulz and updates) / waiting on gossip. Two tabs of the same kind train one run on the
 * signaling server, on loopback; the figures are medians over both tabs' steps after a warm-up.
 * Prints a table and writes docs/bench/browser-step.{md,json}.
 *
 *   npm run bench:browser [-- --presets tiny,small --steps 8]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GPT_PRESETS, type GptPreset } from '@demuon/shared/model';
import type { StepTiming } from '@demuon/shared/peer';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { buildWebClient } from '../../client/scripts/build-web';
import { oneOf, positiveInt } from '../../client/src/node/cli-args';
import { createSignalingServer, silentLogger } from '../../signaling-server/src';
import { launchChromium } from '../helpers/chromium';
import { median } from '../helpers/median';

const { values: args } = parseArgs({
  options: {
    presets: { type: 'string', default: 'tiny,small' },
    steps: { type: 'string', default: '6' },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
  },
});
const presets = args.presets
  .split(',')
  .map((p) => oneOf('--presets', p, Object.keys(GPT_PRESETS) as GptPreset[]));
const steps = positiveInt('--steps', args.steps);
const WARMUP = 2;
/** WebGPU with parameters resident on the GPU, WebGPU with them copied through the CPU each step, wasm. */
const MODES = [
  { label: 'webgpu, resident', query: 'provider=webgpu' },
  { label: 'webgpu, copied', query: 'provider=webgpu&resident=0' },
  { label: 'wasm', query: 'provider=wasm' },
] as const;

const webRoot = mkdtempSync(join(tmpdir(), 'bench-web-'));
const dataDir = mkdtempSync(join(tmpdir(), 'bench-browser-'));
await buildWebClient({
  out: webRoot,
  vocabSizes: [...new Set(presets.map((p) => GPT_PRESETS[p].vocabSize))],
  quiet: true,
});
const server = await createSignalingServer({ port: 0, dataDir, webRoot, log: silentLogger });
const browser = await launchChromium();

const rows: ({ preset: GptPreset; provider: string; adapter: string; steps: number } & StepTiming & {
    stepMs: number;
  })[] = [];
for (const preset of presets) {
  for (const [m, mode] of MODES.entries()) {
    const run = RunConfigSchema.parse({
      id: `${preset}-${m}`,
      model: { preset },
      topology: 'complete',
      algorithm: { name: 'demuon', lr: { eta: 0.02, schedule: 'linear' } },
      steps,
      batch: 8,
      evalEvery: 1_000_000,
      evalBatches: 1,
    });
    const created = await fetch(`${server.url}/api/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify(run),
    });
    if (!created.ok) throw new Error(`creating run ${run.id}: ${await created.text()}`);
    const token = server.runs.get(run.id)!.secretToken();
    const pages = await Promise.all([0, 1].map(() => browser.newPage()));
    const samples: StepTiming[] = [];
    for (const page of pages) {
      await page.exposeFunction('reportStep', (s: { step: number; timing: StepTiming }) => {
        if (s.step > WARMUP) samples.push(s.timing);
      });
      await page.addInitScript(() =>
        document.addEventListener('peer-step', (e) =>
          (window as unknown as { reportStep(d: unknown): void }).reportStep((e as CustomEvent).detail),
        ),
      );
      await page.goto(`${server.url}/join/${run.id}?token=${token}&${mode.query}&wait=2`);
    }
    for (const page of pages)
      await page.waitForFunction(() => document.getElementById('state')?.textContent === 'done', null, {
        timeout: 1_800_000,
      });
    const adapter = (await pages[0].locator('#adapter').textContent()) ?? '';
    for (const page of pages) await page.close();
    const gradientMs = median(samples.map((s) => s.gradientMs));
    const optimizerMs = median(samples.map((s) => s.optimizerMs));
    const waitingMs = median(samples.map((s) => s.waitingMs));
    rows.push({
      preset,
      provider: mode.label,
      adapter: mode.label.startsWith('webgpu') ? adapter : '–',
      steps: samples.length,
      gradientMs,
      optimizerMs,
      waitingMs,
      stepMs: median(samples.map((s) => s.gradientMs + s.optimizerMs + s.waitingMs)),
    });
    console.log(`${preset} ${mode.label}: ${JSON.stringify(rows.at(-1))}`);
  }
}
await browser.close();
await server.close();
rmSync(webRoot, { recursive: true, force: true });
rmSync(dataDir, { recursive: true, force: true });

const f = (x: number) => x.toFixed(0);
const table = [
  '| preset | gradients on | adapter | gradient (ms) | optimizer (ms) | waiting (ms) | step (ms) | steps |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.preset} | ${r.provider} | ${r.adapter} | ${f(r.gradientMs)} | ${f(r.optimizerMs)} | ${f(r.waitingMs)} | ${f(r.stepMs)} | ${r.steps} |`,
  ),
].join('\n');
console.log(table);
mkdirSync(args.out, { recursive: true });
writeFileSync(
  join(args.out, 'browser-step.md'),
  `# Step time of a browser peer: WebGPU vs wasm

\`npm run bench:browser\`: two headless Chromium tabs of the same kind train one run (complete graph, DeMuon,
batch 8, fp32 gossip over WebRTC on loopback), ${steps} steps, the first ${WARMUP} left out; medians over both tabs.
WebGPU: onnxruntime-web's WebGPU EP for gradients and the WGSL kernels on its GPUDevice for the optimizer,
with the parameters and gradients resident in GPU buffers (onnxruntime reads and writes the optimizer's
buffers), or copied through the CPU each step (\`&resident=0\`: parameters read back, uploaded as inputs,
gradients read back and written again). wasm: onnxruntime-web on wasm (one thread) and the CPU backend in
JavaScript. Both tabs share this machine.

${table}

On a machine without a GPU the WebGPU adapter is SwiftShader, a software renderer: these rows show that the
path works, not how fast a GPU is.
`,
);
writeFileSync(
  join(args.out, 'browser-step.json'),
  `${JSON.stringify({ steps, warmup: WARMUP, rows }, null, 2)}\n`,
);
process.exit(0);
