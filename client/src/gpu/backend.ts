/**
 * The WebGPU TensorBackend: tensors are storage buffers on an injected GPUDevice (a browser's, the one
 * onnxruntime-web created, or Dawn's in Node), and every op is a WGSL kernel. Ops that produce tensors
 * are only encoded; the batch goes to the GPU when the host needs a value (read, sumSquares), after msgn,
 * or on `flush`/`sync`. Nothing here touches globals, so it runs wherever a GPUDevice exists.
 */
import type { AdamWStep, NewtonSchulzOptions, Tensor, TensorBackend } from '@demuon/shared/tensor';
import { CommandBatch } from './command-batch';
import {
  ADAMW_WGSL,
  combineWgsl,
  ELEMENTWISE_WORKGROUP,
  SUM_PARTIALS,
  SUM_SQUARES_WGSL,
} from './elementwise-wgsl';
import { STORAGE_USAGE } from './flags';
import { NewtonSchulzKernels, type NewtonSchulzTuning } from './newton-schulz';
import { type Binding, dispatch, PipelineCache } from './pipelines';

export interface GpuTensor extends Tensor {
  readonly buffer: GPUBuffer;
}

export interface WebGpuBackendOptions {
  /** Wrap each submitted batch in a validation error scope and throw its errors (tests; costs a little). */
  readonly checkErrors?: boolean;
  readonly newtonSchulz?: NewtonSchulzTuning;
  /**
   * Largest byte range one storage binding covers in elementwise ops; larger tensors are processed in
   * windows. Default: the device's maxStorageBufferBindingSize. Lower it only to test the windowing.
   */
  readonly maxBindingBytes?: number;
}

/** Bytes of a tensor's buffer: whole vec4s, so kernels may read and write 4 values at a time. */
const bufferBytes = (size: number) => Math.max(16, Math.ceil(size / 4) * 16);

export class WebGpuBackend implements TensorBackend<GpuTensor> {
  readonly name = 'webgpu';
  private readonly batch: CommandBatch;
  private readonly pipelines: PipelineCache;
  private readonly ns: NewtonSchulzKernels;
  /** Largest byte window of a buffer that one binding may cover, a multiple of the offset alignment. */
  private readonly window: number;

  constructor(
    readonly device: GPUDevice,
    options: WebGpuBackendOptions = {},
  ) {
    this.batch = new CommandBatch(device, options.checkErrors ?? false);
    this.pipelines = new PipelineCache(device);
    this.ns = new NewtonSchulzKernels(this.batch, this.pipelines, options.newtonSchulz);
    const align = device.limits.minStorageBufferOffsetAlignment;
    const limit = Math.min(options.maxBindingBytes ?? Infinity, device.limits.maxStorageBufferBindingSize);
    this.window = Math.floor(limit / align) * align;
    if (this.window < align) throw new Error(`maxBindingBytes must be at least ${align}, got ${limit}`);
  }

  tensor(shape: readonly number[], data?: Float32Array): GpuTensor {
    const size = shape.reduce((a, b) => a * b, 1);
    if (data && data.length !== size) {
      throw new Error(`tensor of shape [${shape}] needs ${size} values, got ${data.length}`);
    }
    const buffer = this.device.createBuffer({
      label: `tensor [${shape}]`,
      size: bufferBytes(size),
      usage: STORAGE_USAGE,
      mappedAtCreation: data !== undefined,
    });
    if (data) {
      new Float32Array(buffer.getMappedRange()).set(data);
      buffer.unmap();
    }
    return { shape: [...shape], size, buffer };
  }

  write(t: GpuTensor, data: Float32Array): void {
    if (data.length !== t.size) throw new Error(`write: tensor holds ${t.size} values, got ${data.length}`);
    this.batch.upload(t.buffer, data);
  }

  async read(t: GpuTensor): Promise<Float32Array> {
    return new Float32Array(await this.batch.readBack(t.buffer, 4 * t.size));
  }

  release(t: GpuTensor): void {
    this.batch.destroyAfterSubmit(t.buffer);
  }

  combine(out: GpuTensor, terms: ReadonlyArray<readonly [number, GpuTensor]>): void {
    for (const [, t] of terms) {
      if (t.size !== out.size) throw new Error(`combine: sizes differ (${t.size} vs ${out.size})`);
    }
    if (terms.length === 0) {
      this.batch.commands().clearBuffer(out.buffer);
      return;
    }
    // One read binding per distinct tensor besides the accumulator, so a pass takes this many terms.
    const perPass = Math.min(8, this.device.limits.maxStorageBuffersPerShaderStage - 1);
    const chunks: (readonly [number, GpuTensor])[][] = [];
    for (let k = 0; k < terms.length; k += perPass) chunks.push(terms.slice(k, k + perPass));
    // Later passes add to what earlier ones wrote; if `out` is a term its old value must survive until
    // its own pass, so then the sum builds up in a scratch buffer.
    const inPlace = chunks.length === 1 || !terms.some(([, t]) => t === out);
    const acc = inPlace ? out.buffer : this.scratch(out.size);
    for (const [i, chunk] of chunks.entries()) {
      const carried: (readonly [number, GpuTensor | 'acc'])[] = i === 0 ? chunk : [[1, 'acc'], ...chunk];
      this.combinePass(acc, out, carried);
    }
    if (!inPlace) {
      this.batch.commands().copyBufferToBuffer(acc, 0, out.buffer, 0, bufferBytes(out.size));
      this.batch.destroyAfterSubmit(acc);
    }
  }

  async sumSquares(ts: readonly GpuTensor[]): Promise<number[]> {
    const slots = ts.map((t) => this.windows(t.size));
    const total = slots.reduce((a, w) => a + w.length, 0);
    if (total === 0) return [];
    const partials = this.device.createBuffer({
      label: 'sumSquares partials',
      size: 4 * SUM_PARTIALS * total,
      usage: STORAGE_USAGE,
    });
    const pipeline = this.pipelines.get('sumsq', () => SUM_SQUARES_WGSL);
    let slot = 0;
    for (const [i, t] of ts.entries()) {
      for (const w of slots[i]) {
        const param = this.batch.param([{ u32: w.values }, { u32: slot++ }]);
        const src = { buffer: t.buffer, offset: w.offset, size: w.size };
        dispatch(this.batch.computePass(), this.device, pipeline, [src, partials, param], [SUM_PARTIALS]);
      }
    }
    let values: Float32Array;
    try {
      values = new Float32Array(await this.batch.readBack(partials, 4 * SUM_PARTIALS * total));
    } finally {
      partials.destroy();
    }
    // The last few additions in float64 on the host: cheap, and closer to the CPU reference.
    let at = 0;
    return slots.map((w) => {
      let s = 0;
      for (let k = 0; k < w.length * SUM_PARTIALS; k++) s += values[at++];
      return s;
    });
  }

  async msgn(
    ins: readonly GpuTensor[],
    outs: readonly GpuTensor[],
    options: NewtonSchulzOptions,
  ): Promise<void> {
    if (ins.length !== outs.length) throw new Error('msgn: as many outputs as inputs are needed');
    const mats = ins.map((g, i) => {
      if (g.shape.length !== 2) throw new Error(`msgn: needs 2-D tensors, got shape [${g.shape}]`);
      if (outs[i].size !== g.size) throw new Error('msgn: output size differs from input size');
      return { input: g.buffer, output: outs[i].buffer, rows: g.shape[0], cols: g.shape[1] };
    });
    if (mats.length === 0) return;
    this.ns.encode(mats, options);
    this.batch.flush();
    await this.batch.throwErrors();
  }

  adamw(x: GpuTensor, m: GpuTensor, v: GpuTensor, g: GpuTensor, hp: AdamWStep): void {
    for (const t of [m, v, g]) {
      if (t.size !== x.size) throw new Error(`adamw: sizes differ (${t.size} vs ${x.size})`);
    }
    if (new Set([x.buffer, m.buffer, v.buffer, g.buffer]).size !== 4) {
      throw new Error('adamw: x, m, v and g must be four different tensors');
    }
    const pipeline = this.pipelines.get('adamw', () => ADAMW_WGSL);
    const c1 = 1 - hp.beta1 ** hp.step;
    const c2 = 1 - hp.beta2 ** hp.step;
    const shrink = 1 - hp.lr * hp.weightDecay;
    for (const w of this.windows(x.size)) {
      const n4 = w.size / 16;
      const param = this.batch.param([{ u32: n4 }, hp.lr, hp.beta1, hp.beta2, hp.eps, shrink, c1, c2]);
      const bind = (t: GpuTensor): Binding => ({ buffer: t.buffer, offset: w.offset, size: w.size });
      dispatch(
        this.batch.computePass(),
        this.device,
        pipeline,
        [bind(x), bind(m), bind(v), bind(g), param],
        [workgroupsFor(n4)],
      );
    }
  }

  /** Submits the ops encoded so far without waiting for them. */
  flush(): void {
    this.batch.flush();
  }

  /** Submits and waits until the GPU has finished everything: for timing, and to surface errors. */
  async sync(): Promise<void> {
    this.batch.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.batch.throwErrors();
  }

  /** Frees the backend's own buffers (not the tensors, not the device). */
  dispose(): void {
    this.ns.destroy();
    this.batch.destroy();
  }

  /** The batched groups msgn would form for these shapes: tile edge, padded Gram-side shape, batch. */
  planNewtonSchulz(shapes: readonly (readonly [number, number])[]) {
    return this.ns.plan(shapes);
  }

  /** Number of distinct compiled kernels, for tests of the pipeline cache. */
  get pipelineCount(): number {
    return this.pipelines.size;
  }

  private combinePass(
    acc: GPUBuffer,
    out: GpuTensor,
    terms: ReadonlyArray<readonly [number, GpuTensor | 'acc']>,
  ) {
    // Binding 0 is the accumulator (read and written); each other distinct buffer gets one read binding.
    const reads: GPUBuffer[] = [];
    const pattern = terms.map(([, t]) => {
      const buffer = t === 'acc' ? acc : t.buffer;
      if (buffer === acc) return 0;
      const at = reads.indexOf(buffer);
      return at >= 0 ? at + 1 : reads.push(buffer);
    });
    const coefs = terms.map(([c]) => c);
    while (coefs.length % 4 !== 0) coefs.push(0);
    const pipeline = this.pipelines.get(`combine:${pattern.join(',')}`, () => combineWgsl(pattern));
    for (const w of this.windows(out.size)) {
      const n4 = w.size / 16;
      const param = this.batch.param([{ u32: n4 }, 0, 0, 0, ...coefs]);
      const bind = (buffer: GPUBuffer): Binding => ({ buffer, offset: w.offset, size: w.size });
      dispatch(
        this.batch.computePass(),
        this.device,
        pipeline,
        [bind(acc), ...reads.map(bind), param],
        [workgroupsFor(n4)],
      );
    }
  }

  private scratch(size: number): GPUBuffer {
    return this.device.createBuffer({
      label: 'combine scratch',
      size: bufferBytes(size),
      usage: STORAGE_USAGE,
    });
  }

  /** Byte windows covering a tensor's buffer, each small enough for one storage binding. */
  private windows(size: number): { offset: number; size: number; values: number }[] {
    const total = bufferBytes(size);
    const out = [];
    for (let offset = 0; offset < total; offset += this.window) {
      const bytes = Math.min(this.window, total - offset);
      out.push({ offset, size: bytes, values: Math.max(0, Math.min(bytes / 4, size - offset / 4)) });
    }
    return out;
  }
}

function workgroupsFor(n4: number): number {
  return Math.max(1, Math.min(4096, Math.ceil(n4 / ELEMENTWISE_WORKGROUP)));
}
