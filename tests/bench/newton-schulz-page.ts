/**
 * The browser half of the Newton–Schulz benchmark (bundled by newton-schulz-browser.ts): on one GPUDevice,
 * ORT's WebGPU EP runs the ONNX graph and the WGSL kernels run msgn, alternately, on the same inputs.
 * Both are timed to GPU completion (onSubmittedWorkDone), with inputs and outputs resident on the GPU.
 */
import * as ort from 'onnxruntime-web/webgpu';
import { WebGpuBackend } from '../../client/src/gpu/backend';

export interface PageCase {
  readonly rows: number;
  readonly cols: number;
  readonly batch: number;
  /** The ONNX graph of item 3, base64. */
  readonly graph: string;
  /** Input [batch, rows, cols], base64 of float32 little-endian. */
  readonly input: string;
}

export interface PageConfig {
  readonly cases: readonly PageCase[];
  readonly schedule: 'ns5' | 'polar5';
  readonly steps: number;
  readonly repeats: number;
}

export interface PageResult {
  readonly adapter: string;
  readonly cases: { wgslMs: number[]; ortMs: number[]; maxAbsDiff: number }[];
}

declare global {
  interface Window {
    runNewtonSchulzBench(config: PageConfig): Promise<PageResult>;
  }
}

const STORAGE = 0x80 | 0x08 | 0x04; // STORAGE | COPY_DST | COPY_SRC

const decode = (b64: string) => Uint8Array.from(atob(b64), (ch) => ch.charCodeAt(0));

window.runNewtonSchulzBench = async (config: PageConfig): Promise<PageResult> => {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = '/ort/';
  ort.env.logLevel = 'warning';
  let backend: WebGpuBackend | null = null;
  // Kept to the end: releasing ORT's last session may take its device, which the WGSL backend shares.
  const sessions: ort.InferenceSession[] = [];
  const results: PageResult['cases'][number][] = [];
  for (const c of config.cases) {
    const session = await ort.InferenceSession.create(decode(c.graph), {
      executionProviders: ['webgpu'],
      preferredOutputLocation: 'gpu-buffer',
    });
    sessions.push(session);
    // ORT's device, created with the first session: the WGSL kernels run on the very same one.
    const device = await ort.env.webgpu.device;
    backend ??= new WebGpuBackend(device);
    const data = new Float32Array(decode(c.input).buffer);
    const size = c.rows * c.cols;
    const gpuInput = device.createBuffer({ size: data.byteLength, usage: STORAGE });
    device.queue.writeBuffer(gpuInput, 0, data);
    const feed = ort.Tensor.fromGpuBuffer(gpuInput, { dataType: 'float32', dims: [c.batch, c.rows, c.cols] });
    const ins = Array.from({ length: c.batch }, (_, b) =>
      backend!.tensor([c.rows, c.cols], data.subarray(b * size, (b + 1) * size)),
    );
    const outs = ins.map((t) => backend!.tensor(t.shape));
    const options = { schedule: config.schedule, steps: config.steps };

    const runOrt = async () => {
      const out = await session.run({ G: feed });
      await device.queue.onSubmittedWorkDone();
      return out.X;
    };
    const runWgsl = async () => {
      await backend!.msgn(ins, outs, options);
      await backend!.sync();
    };
    // Warm-up (pipeline compilation, allocation), and the check that both compute the same thing.
    const first = await runOrt();
    const ortValues = (await first.getData()) as Float32Array;
    first.dispose();
    await runWgsl();
    let maxAbsDiff = 0;
    for (const [b, t] of outs.entries()) {
      const mine = await backend.read(t);
      for (let i = 0; i < size; i++)
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(mine[i] - ortValues[b * size + i]));
    }

    const wgslMs: number[] = [];
    const ortMs: number[] = [];
    for (let r = 0; r < config.repeats; r++) {
      // Alternate which goes first, so that drift of the machine hits both alike.
      for (const which of r % 2 ? ['ort', 'wgsl'] : ['wgsl', 'ort']) {
        const t0 = performance.now();
        if (which === 'ort') (await runOrt()).dispose();
        else await runWgsl();
        (which === 'ort' ? ortMs : wgslMs).push(performance.now() - t0);
      }
    }
    results.push({ wgslMs, ortMs, maxAbsDiff });
    for (const t of [...ins, ...outs]) backend.release(t);
    gpuInput.destroy();
  }
  for (const s of sessions) await s.release();
  const info = backend?.device.adapterInfo;
  return {
    adapter: info ? `${info.vendor} ${info.architecture} ${info.description}`.trim() : 'unknown',
    cases: results,
  };
};
