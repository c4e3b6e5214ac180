/**
 * Newton–Schulz benchmark: msgn time and GFLOP/s per shape for
 *   (a) the WGSL kernels (WebGpuBackend) and (b) the ONNX graph on onnxruntime-web's WebGPU EP, both in
 *       headless Chromium on one shared GPUDevice (ORT's), measured alternately;
 *   (c) CpuBackend (the reference loops) and onnxruntime-node running the same graph, in Node, alternately.
 * Prints a table and writes docs/bench/newton-schulz.{md,json}.
 *
 *   npx tsx tests/bench/newton-schulz.ts [--shapes 256x256,256x1024] [--schedule ns5|polar5] [--batch 1]
 *     [--repeats N] [--gpu] [--no-browser] [--no-node] [--cpu-max-gflop 5] [--chromium /usr/bin/chromium]
 *
 * Without --gpu, Chromium runs WebGPU on SwiftShader (no GPU on these machines), where only the small
 * shapes run by default. The goal on a real GPU (--gpu) is (a) at least 2× faster than (b).
 *
 * FLOPs: nominal, per matrix and iteration with r = min(rows, cols), c = max(rows, cols):
 * X·Xᵀ 2r²c + A·A 2r³ + B·X 2r²c = 4r²c + 2r³, times steps and batch. Elementwise work is not counted,
 * nor do the symmetric kernels get credit for the triangle they skip: GFLOP/s is this count over time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildNewtonSchulzGraph } from '@demuon/shared/optim';
import { CpuBackend, type NewtonSchulzSchedule, newtonSchulzTriples } from '@demuon/shared/tensor';
import { Rng } from '@demuon/shared/util';
import * as ortNode from 'onnxruntime-node';
import { oneOf, positiveInt, positiveNumber } from '../../client/src/node/cli-args';
import { median } from '../helpers/median';
import { runInBrowser } from './newton-schulz-browser';
import type { PageCase } from './newton-schulz-page';

const SMALL_SHAPES = '256x256,256x1024,1024x256';
const ALL_SHAPES = `${SMALL_SHAPES},768x3072`;

const { values: args } = parseArgs({
  options: {
    shapes: { type: 'string' },
    schedule: { type: 'string', default: 'ns5' },
    steps: { type: 'string', default: '5' },
    batch: { type: 'string', default: '1' },
    repeats: { type: 'string' },
    gpu: { type: 'boolean', default: false },
    'no-browser': { type: 'boolean', default: false },
    'no-node': { type: 'boolean', default: false },
    'cpu-max-gflop': { type: 'string', default: '5' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
  },
});
const swiftShader = !args.gpu;
const schedule = oneOf<NewtonSchulzSchedule>('--schedule', args.schedule, ['ns5', 'polar5']);
const steps = positiveInt('--steps', args.steps);
newtonSchulzTriples({ schedule, steps }); // validates steps for the schedule
const batch = positiveInt('--batch', args.batch);
const repeats = positiveInt('--repeats', args.repeats ?? (swiftShader ? '3' : '10'));
const cpuMaxGflop = positiveNumber('--cpu-max-gflop', args['cpu-max-gflop']);
const shapes = (args.shapes ?? (swiftShader ? SMALL_SHAPES : ALL_SHAPES)).split(',').map((s) => {
  const m = /^(\d+)x(\d+)$/.exec(s.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new Error(`--shapes: '${s}' is not ROWSxCOLS`);
  return [Number(m[1]), Number(m[2])] as const;
});

const nominalFlops = (rows: number, cols: number) => {
  const [r, c] = [Math.min(rows, cols), Math.max(rows, cols)];
  return batch * steps * (4 * r * r * c + 2 * r ** 3);
};
const gflops = (rows: number, cols: number, ms: number) => nominalFlops(rows, cols) / ms / 1e6;

if (swiftShader) {
  console.log(
    `WebGPU on SwiftShader (software): shapes ${shapes.map((s) => s.join('×')).join(', ')}` +
      `${args.shapes ? '' : ' (the small ones only; 768×3072 needs --shapes or --gpu)'}, ${repeats} repeats.`,
  );
}
const inputs = shapes.map(([rows, cols], i) => {
  const rng = new Rng(100 + i);
  return Float32Array.from({ length: batch * rows * cols }, () => rng.normal());
});
const graphs = shapes.map(([rows, cols]) => buildNewtonSchulzGraph({ rows, cols, batch, schedule, steps }));

// (a) and (b): the browser.
let adapter = 'not run';
const browser: { wgslMs: number[]; ortMs: number[]; maxAbsDiff: number }[] = [];
if (!args['no-browser']) {
  const b64 = (bytes: Uint8Array) =>
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  const cases: PageCase[] = shapes.map(([rows, cols], i) => ({
    rows,
    cols,
    batch,
    graph: b64(graphs[i].bytes),
    input: b64(new Uint8Array(inputs[i].buffer)),
  }));
  const result = await runInBrowser(
    { cases, schedule, steps, repeats },
    { swiftShader, executablePath: args.chromium, onConsole: (line) => console.log(`  browser ${line}`) },
  );
  adapter = result.adapter;
  browser.push(...result.cases);
  console.log(`browser adapter: ${adapter}`);
}

// (c): Node.
const node: { cpuMs: number[]; ortMs: number[]; maxAbsDiff: number }[] = [];
if (!args['no-node']) {
  const cpu = new CpuBackend();
  for (const [i, [rows, cols]] of shapes.entries()) {
    const size = rows * cols;
    const session = await ortNode.InferenceSession.create(graphs[i].bytes);
    const feed = { G: new ortNode.Tensor('float32', inputs[i], [batch, rows, cols]) };
    const runOrt = async () => (await session.run(feed)).X.data as Float32Array;
    const withCpu = nominalFlops(rows, cols) / 1e9 <= cpuMaxGflop;
    const ins = Array.from({ length: batch }, (_, b) =>
      cpu.tensor([rows, cols], inputs[i].subarray(b * size, (b + 1) * size)),
    );
    const outs = ins.map((t) => cpu.tensor(t.shape));
    const runCpu = () => cpu.msgn(ins, outs, { schedule, steps });
    const ortOut = await runOrt();
    let maxAbsDiff = Number.NaN;
    if (withCpu) {
      await runCpu();
      maxAbsDiff = 0;
      for (const [b, t] of outs.entries()) {
        for (let k = 0; k < size; k++)
          maxAbsDiff = Math.max(maxAbsDiff, Math.abs(t.data[k] - ortOut[b * size + k]));
      }
    }
    const cpuMs: number[] = [];
    const ortMs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      for (const which of r % 2 ? ['ort', 'cpu'] : ['cpu', 'ort']) {
        if (which === 'cpu' && !withCpu) continue;
        const t0 = performance.now();
        await (which === 'ort' ? runOrt() : runCpu());
        (which === 'ort' ? ortMs : cpuMs).push(performance.now() - t0);
      }
    }
    await session.release();
    node.push({ cpuMs, ortMs, maxAbsDiff });
    console.log(
      `node ${rows}×${cols} done${withCpu ? '' : ` (CpuBackend skipped: over ${cpuMaxGflop} GFLOP)`}`,
    );
  }
}

const rows = shapes.map(([r, c], i) => {
  const ms = {
    wgsl: median(browser[i]?.wgslMs ?? []),
    ortWebGpu: median(browser[i]?.ortMs ?? []),
    cpu: median(node[i]?.cpuMs ?? []),
    ortNode: median(node[i]?.ortMs ?? []),
  };
  return {
    shape: `${r}×${c}`,
    batch,
    gflop: nominalFlops(r, c) / 1e9,
    ms,
    gflops: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, gflops(r, c, v)])),
    ortWebGpuOverWgsl: ms.ortWebGpu / ms.wgsl,
    cpuOverOrtNode: ms.cpu / ms.ortNode,
    maxAbsDiff: {
      wgslVsOrtWebGpu: browser[i]?.maxAbsDiff ?? null,
      cpuVsOrtNode: node[i]?.maxAbsDiff ?? null,
    },
    samples: { browser: browser[i] ?? null, node: node[i] ?? null },
  };
});

const f = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const table = [
  '| shape | GFLOP | (a) WGSL ms | GFLOP/s | (b) ORT WebGPU ms | GFLOP/s | (b)/(a) | (c) CpuBackend ms | GFLOP/s | (c) ORT node ms | GFLOP/s | CpuBackend / ORT node |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ...rows.map(
    (r) =>
      `| ${r.shape}${batch > 1 ? ` ×${batch}` : ''} | ${f(r.gflop, 2)} | ${f(r.ms.wgsl)} | ${f(r.gflops.wgsl, 3)} | ${f(r.ms.ortWebGpu)} | ${f(r.gflops.ortWebGpu, 3)} | ${f(r.ortWebGpuOverWgsl, 2)} | ${f(r.ms.cpu)} | ${f(r.gflops.cpu, 3)} | ${f(r.ms.ortNode)} | ${f(r.gflops.ortNode, 3)} | ${f(r.cpuOverOrtNode, 2)} |`,
  ),
].join('\n');
const notes = [
  `Newton–Schulz ${schedule}, ${steps} steps, batch ${batch}; medians of ${repeats} alternating runs per pair.`,
  `WebGPU adapter (Chromium, shared by (a) and (b)): ${adapter}${swiftShader ? ' — SwiftShader is a software rasterizer: compare ratios, not absolute speed; only small shapes by default.' : ''}`,
  `Node: ${cpus().length}× ${cpus()[0]?.model ?? 'unknown CPU'}. Timings to GPU completion (onSubmittedWorkDone), inputs and outputs resident on the device.`,
  'FLOPs: nominal 4r²c + 2r³ per matrix and iteration (r = min side, c = max side), for every column alike.',
  `Largest |(a) − (b)| per shape: ${rows.map((r) => `${r.shape} ${r.maxAbsDiff.wgslVsOrtWebGpu?.toExponential(1) ?? '–'}`).join(', ')}.`,
];
mkdirSync(args.out, { recursive: true });
const json = { schedule, steps, batch, repeats, swiftShader, adapter, cpu: cpus()[0]?.model, rows };
writeFileSync(join(args.out, 'newton-schulz.json'), `${JSON.stringify(json, null, 2)}\n`);
writeFileSync(join(args.out, 'newton-schulz.md'), `${table}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`);
console.log(`\n${table}\n\n${notes.join('\n')}\n\nwritten to ${args.out}/newton-schulz.{md,json}`);
