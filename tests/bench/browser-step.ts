/**
 * Step time of a browser peer in headless Chromium against a Node peer's, in one run of this script:
 * WebGPU (SwiftShader on a machine without a GPU, the real adapter where there is one), wasm as the
 * signaling server serves it (cross-origin isolated: one wasm thread per core but one, up to four), as a
 * tab on a 3-core machine would run (two threads, on this machine's cores) and on one thread (the
 * isolation headers stripped), and `npm run peer` on the CPU backend, for the tiny and small GPT, each step split into
 * gradient / optimizer (Newton–Schulz and updates) / waiting on gossip. Peers of one kind train a run on the
 * signaling server, on loopback: one alone (the machine to itself, as a tab on its own laptop), and two
 * (sharing the machine, gossiping over WebRTC). The figures are medians over the peers' steps after a
 * warm-up. Prints tables and writes docs/bench/browser-step.{md,json}.
 *
 *   npm run bench:browser [-- --presets tiny,small --steps 6 --peers 1,2
 *                            --kinds webgpu,webgpu-copied,wasm,wasm-3cores,wasm-1,node]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GPT_PRESETS, type GptPreset } from '@demuon/shared/model';
import type { StepTiming } from '@demuon/shared/peer';
import { RunConfigSchema } from '@demuon/shared/protocol';
import { type Browser, chromium } from 'playwright-core';
import { buildWebClient } from '../../client/scripts/build-web';
import { oneOf, positiveInt } from '../../client/src/node/cli-args';
import { createSignalingServer, silentLogger } from '../../signaling-server/src';
import { CHROMIUM_FLAGS } from '../helpers/chromium';
import { median } from '../helpers/median';
import { runNodePeers } from './browser-step-node-peers';

/**
 * The kinds of peer measured: tabs by their join-URL options, whether the page is cross-origin isolated
 * (else onnxruntime runs one wasm thread) and how many cores the tab's worker is told the machine has (it
 * picks its wasm threads from that), and headless Node peers.
 */
const KINDS = {
  webgpu: { label: 'tab, webgpu, resident', tab: { query: 'provider=webgpu', isolated: true } },
  'webgpu-copied': {
    label: 'tab, webgpu, copied',
    tab: { query: 'provider=webgpu&resident=0', isolated: true },
  },
  wasm: { label: 'tab, wasm, isolated', tab: { query: 'provider=wasm', isolated: true } },
  'wasm-3cores': {
    label: 'tab, wasm, told 3 cores',
    tab: { query: 'provider=wasm', isolated: true, cores: 3 },
  },
  'wasm-1': { label: 'tab, wasm, not isolated', tab: { query: 'provider=wasm', isolated: false } },
  node: { label: 'Node peer', tab: undefined },
} as const;
type Kind = keyof typeof KINDS;

const { values: args } = parseArgs({
  options: {
    presets: { type: 'string', default: 'tiny,small' },
    steps: { type: 'string', default: '6' },
    peers: { type: 'string', default: '1,2' },
    kinds: { type: 'string', default: Object.keys(KINDS).join(',') },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
  },
});
const presets = args.presets
  .split(',')
  .map((p) => oneOf('--presets', p, Object.keys(GPT_PRESETS) as GptPreset[]));
const kinds = args.kinds.split(',').map((k) => oneOf('--kinds', k, Object.keys(KINDS) as Kind[]));
const steps = positiveInt('--steps', args.steps);
const peerCounts = args.peers.split(',').map((n) => positiveInt('--peers', n));
const WARMUP = 2;

interface Row extends StepTiming {
  readonly preset: GptPreset;
  readonly kind: Kind;
  readonly peer: string;
  /** Peers in the run, all on this machine. */
  readonly peers: number;
  /** The adapter (WebGPU), the wasm threads and whether the page was isolated, or the Node backend. */
  readonly device: string;
  readonly stepMs: number;
  readonly steps: number;
}

/** The machine's 1-minute load average before and after: figures from a busy machine say so. */
const load = { before: loadavg()[0], after: Number.NaN };
const webRoot = mkdtempSync(join(tmpdir(), 'bench-web-'));
const dataDir = mkdtempSync(join(tmpdir(), 'bench-browser-'));
await buildWebClient({
  out: webRoot,
  vocabSizes: [...new Set(presets.map((p) => GPT_PRESETS[p].vocabSize))],
  quiet: true,
});
const server = await createSignalingServer({ port: 0, dataDir, webRoot, log: silentLogger });
// A page or worker answered by the benchmark's routes has no known address: Chromium's local-network checks
// would then refuse its requests to the server on loopback.
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [...CHROMIUM_FLAGS, '--disable-features=LocalNetworkAccessChecks'],
});

/** `peers` tabs of one kind train the run; their step timings after warm-up, and what a tab reports. */
async function measureTabs(
  browser: Browser,
  run: { id: string; token: string; peers: number },
  tab: { query: string; isolated: boolean; cores?: number },
) {
  const pages = await Promise.all(Array.from({ length: run.peers }, () => browser.newPage()));
  const samples: StepTiming[] = [];
  for (const page of pages) {
    // Without the isolation headers the page gets no shared wasm memory: onnxruntime runs one thread.
    if (!tab.isolated)
      await page.route('**/join/**', async (route) => {
        const response = await route.fetch();
        const headers = { ...response.headers() };
        delete headers['cross-origin-opener-policy'];
        delete headers['cross-origin-embedder-policy'];
        await route.fulfill({ response, headers });
      });
    // The worker's navigator says what the machine has: a tab picks its wasm threads from it.
    if (tab.cores)
      await page.route('**/assets/peer-worker-*.js', async (route) => {
        const response = await route.fetch();
        const cores = `Object.defineProperty(WorkerNavigator.prototype, 'hardwareConcurrency', { get: () => ${tab.cores} });`;
        await route.fulfill({ response, body: `${cores}\n${await response.text()}` });
      });
    await page.exposeFunction('reportStep', (s: { step: number; timing: StepTiming }) => {
      if (s.step > WARMUP) samples.push(s.timing);
    });
    await page.addInitScript(() =>
      document.addEventListener('peer-step', (e) =>
        (window as unknown as { reportStep(d: unknown): void }).reportStep((e as CustomEvent).detail),
      ),
    );
    await page.goto(`${server.url}/join/${run.id}?token=${run.token}&${tab.query}&wait=${run.peers}`);
  }
  for (const page of pages) {
    // Done, or the error the page shows (the run would never end).
    await page.waitForFunction(
      () =>
        document.getElementById('state')?.textContent === 'done' || !document.getElementById('error')?.hidden,
      null,
      { timeout: 3_600_000 },
    );
    if (await page.locator('#error').isVisible())
      throw new Error(`a tab of run ${run.id} failed: ${await page.locator('#error').textContent()}`);
  }
  const isolated = await pages[0].evaluate(() => globalThis.crossOriginIsolated);
  const adapter = (await pages[0].locator('#adapter').textContent()) ?? '';
  const optimizer = (await pages[0].locator('#optimizer-backend').textContent()) ?? '';
  for (const page of pages) await page.close();
  const device = tab.query.includes('webgpu')
    ? adapter
    : `${optimizer}; ${isolated ? '' : 'not '}cross-origin isolated`;
  return { samples, device };
}

const rows: Row[] = [];
for (const preset of presets) {
  for (const peers of peerCounts) {
    for (const kind of kinds) {
      const run = RunConfigSchema.parse({
        id: `${preset}-${kind}-${peers}`,
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
      const { tab } = KINDS[kind];
      const { samples, device } = tab
        ? await measureTabs(browser, { id: run.id, token, peers }, tab)
        : await runNodePeers({ server: server.url, runId: run.id, token, peers, warmup: WARMUP }).then(
            (r) => ({
              samples: r.samples,
              device: r.backend,
            }),
          );
      rows.push({
        preset,
        kind,
        peer: KINDS[kind].label,
        peers,
        device,
        steps: samples.length,
        gradientMs: median(samples.map((s) => s.gradientMs)),
        optimizerMs: median(samples.map((s) => s.optimizerMs)),
        waitingMs: median(samples.map((s) => s.waitingMs)),
        stepMs: median(samples.map((s) => s.gradientMs + s.optimizerMs + s.waitingMs)),
      });
      console.log(`${preset} ${kind} ×${peers}: ${JSON.stringify(rows.at(-1))}`);
    }
  }
}
load.after = loadavg()[0];
await browser.close();
await server.close();
rmSync(webRoot, { recursive: true, force: true });
rmSync(dataDir, { recursive: true, force: true });

/** A tab's step and its compute (gradient + optimizer) over the Node peer's, per preset and peer count. */
const ratios = rows.flatMap((r) => {
  const node = rows.find((n) => n.preset === r.preset && n.peers === r.peers && n.kind === 'node');
  if (!node || r.kind === 'node') return [];
  return [
    {
      preset: r.preset,
      peers: r.peers,
      peer: r.peer,
      step: r.stepMs / node.stepMs,
      compute: (r.gradientMs + r.optimizerMs) / (node.gradientMs + node.optimizerMs),
    },
  ];
});

/** The options of this run, as typed after `npm run bench:browser`. */
const command = process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : '';
const f = (x: number) => x.toFixed(0);
const table = [
  '| preset | peers | peer | device | gradient (ms) | optimizer (ms) | waiting (ms) | step (ms) | steps |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.preset} | ${r.peers} | ${r.peer} | ${r.device || '–'} | ${f(r.gradientMs)} | ${f(r.optimizerMs)} | ${f(r.waitingMs)} | ${f(r.stepMs)} | ${r.steps} |`,
  ),
].join('\n');
const ratioTable = [
  '| preset | peers | tab | step ÷ Node step | (gradient + optimizer) ÷ Node’s |',
  '|---|---|---|---|---|',
  ...ratios.map(
    (r) => `| ${r.preset} | ${r.peers} | ${r.peer} | ${r.step.toFixed(2)} | ${r.compute.toFixed(2)} |`,
  ),
].join('\n');
console.log(table);
console.log(ratioTable);
mkdirSync(args.out, { recursive: true });
writeFileSync(
  join(args.out, 'browser-step.md'),
  `# Step time of a browser peer: WebGPU, wasm, and a Node peer

\`\`\`sh
npm run bench:browser${command}
\`\`\`

Peers of one kind train one run (complete graph, DeMuon, batch 8, fp32 gossip over WebRTC on loopback),
${steps} steps, the first ${WARMUP} left out; medians over the peers' steps. One peer alone has this machine to
itself, as a tab on its own laptop would; two peers share it, so a peer's waiting includes its neighbour's
computing.

- WebGPU tabs: onnxruntime-web's WebGPU EP for gradients and the WGSL kernels on its GPUDevice for the
  optimizer, with the parameters and gradients resident in GPU buffers (onnxruntime reads and writes the
  optimizer's buffers), or copied through the CPU each step (\`&resident=0\`).
- wasm tabs: onnxruntime-web on wasm for gradients and Newton–Schulz, the rest of the optimizer in
  JavaScript. \`isolated\`: as the signaling server serves the page (COOP and COEP), cross-origin
  isolated, so one wasm thread per core but one, up to four; \`told 3 cores\`: the same, with the tab's
  worker told the machine has three cores, so two threads whatever this machine has; \`not isolated\`:
  those headers stripped, as a server without them would, so one thread.
- Node peers: \`npm run peer -- --backend cpu\`, gradients and Newton–Schulz on onnxruntime-node with its
  default threads.

${table}

${ratioTable}

Machine: ${process.platform} ${process.arch}, Node ${process.version}, ${cpus().length} cores; load average
${load.before.toFixed(1)} before the run and ${load.after.toFixed(1)} after (other work on the machine slows the peers
unevenly, threaded ones most).${
    kinds.some((k) => k.startsWith('webgpu'))
      ? `
On a machine without a GPU the WebGPU adapter is SwiftShader, a software renderer: these rows show that the
path works, not how fast a GPU is.`
      : ''
  }
`,
);
writeFileSync(
  join(args.out, 'browser-step.json'),
  `${JSON.stringify({ steps, warmup: WARMUP, cores: cpus().length, load, rows, ratios }, null, 2)}\n`,
);
process.exit(0);
