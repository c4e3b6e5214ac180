/**
 * Collects the GPU work of many backend calls into one command buffer, submitted only when the host must
 * see a result (a read, a reduction, msgn) or when asked. Small per-dispatch parameters go into one
 * uniform buffer per batch, written just before the submit: queue writes are ordered with submits, so
 * the next batch may overwrite it without waiting for the GPU.
 */
import { BufferUsage, MapMode } from './flags';

/** Where one dispatch's parameters lie in the batch's uniform buffer. */
export interface ParamSlot {
  readonly buffer: GPUBuffer;
  readonly offset: number;
  readonly size: number;
}

/** One parameter block: up to 64 numbers, each written as f32 or u32. */
export type ParamValue = number | { readonly u32: number };

const PARAM_BLOCK_BYTES = 256;
const PARAM_BUFFER_BYTES = 256 * 1024;

export class CommandBatch {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly params: GPUBuffer;
  private readonly staging = new ArrayBuffer(PARAM_BUFFER_BYTES);
  private readonly paramAlign: number;
  private paramBytes = 0;
  /** Buffers to destroy once the batch that uses them is submitted (the GPU keeps them until done). */
  private readonly doomed: GPUBuffer[] = [];
  private errors: Promise<GPUError | null>[] = [];
  private scopeOpen = false;

  constructor(
    readonly device: GPUDevice,
    private readonly checkErrors: boolean,
  ) {
    this.paramAlign = Math.max(PARAM_BLOCK_BYTES, device.limits.minUniformBufferOffsetAlignment);
    this.params = device.createBuffer({
      label: 'demuon params',
      size: PARAM_BUFFER_BYTES,
      usage: BufferUsage.UNIFORM | BufferUsage.COPY_DST,
    });
  }

  /** The open compute pass; consecutive dispatches share it. */
  computePass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.open().beginComputePass();
    return this.pass;
  }

  /** The encoder outside any pass, for copies and clears. */
  commands(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return this.open();
  }

  private open(): GPUCommandEncoder {
    if (!this.encoder) {
      if (this.checkErrors && !this.scopeOpen) {
        this.device.pushErrorScope('validation');
        this.scopeOpen = true;
      }
      this.encoder = this.device.createCommandEncoder();
    }
    return this.encoder;
  }

  /** Reserves a uniform block for one dispatch; flushes first when this batch's buffer is full. */
  param(values: readonly ParamValue[]): ParamSlot {
    if (values.length * 4 > PARAM_BLOCK_BYTES) throw new Error('a parameter block holds at most 64 numbers');
    if (this.paramBytes + this.paramAlign > PARAM_BUFFER_BYTES) this.flush();
    this.open(); // the slot belongs to the batch now open
    const offset = this.paramBytes;
    const f32 = new Float32Array(this.staging, offset, values.length);
    const u32 = new Uint32Array(this.staging, offset, values.length);
    for (const [i, v] of values.entries()) {
      if (typeof v === 'number') f32[i] = v;
      else u32[i] = v.u32;
    }
    this.paramBytes += this.paramAlign;
    return { buffer: this.params, offset, size: Math.max(16, Math.ceil(values.length / 4) * 16) };
  }

  /** A buffer to destroy after the current batch has been submitted. */
  destroyAfterSubmit(buffer: GPUBuffer): void {
    if (this.encoder) this.doomed.push(buffer);
    else buffer.destroy();
  }

  /** Encodes an upload of `data` into `target` at `byteOffset`, ordered with the work already batched. */
  upload(target: GPUBuffer, data: Float32Array, byteOffset = 0): void {
    const size = Math.max(4, data.byteLength);
    const staging = this.device.createBuffer({
      size: Math.ceil(size / 4) * 4,
      usage: BufferUsage.COPY_SRC,
      mappedAtCreation: true,
    });
    new Float32Array(staging.getMappedRange()).set(data);
    staging.unmap();
    if (data.byteLength > 0)
      this.commands().copyBufferToBuffer(staging, 0, target, byteOffset, data.byteLength);
    this.destroyAfterSubmit(staging);
  }

  /** Submits everything batched so far. */
  flush(): void {
    if (!this.encoder) return;
    const encoder = this.commands();
    this.encoder = null;
    if (this.paramBytes > 0) this.device.queue.writeBuffer(this.params, 0, this.staging, 0, this.paramBytes);
    this.paramBytes = 0;
    this.device.queue.submit([encoder.finish()]);
    for (const b of this.doomed.splice(0)) b.destroy();
    if (this.scopeOpen) {
      this.errors.push(this.device.popErrorScope());
      this.scopeOpen = false;
    }
  }

  /** Throws the first validation error of the batches submitted so far (only with `checkErrors`). */
  async throwErrors(): Promise<void> {
    const pending = this.errors;
    this.errors = [];
    for (const error of await Promise.all(pending)) {
      if (error) throw new Error(`WebGPU validation error: ${error.message}`);
    }
  }

  /** Copies `byteLength` bytes of `source` to the host, after all batched work. */
  async readBack(source: GPUBuffer, byteLength: number): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(byteLength / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: BufferUsage.MAP_READ | BufferUsage.COPY_DST });
    if (byteLength > 0) this.commands().copyBufferToBuffer(source, 0, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(MapMode.READ);
      await this.throwErrors();
      return staging.getMappedRange(0, byteLength).slice(0);
    } finally {
      staging.destroy();
    }
  }

  destroy(): void {
    this.flush();
    this.params.destroy();
  }
}
