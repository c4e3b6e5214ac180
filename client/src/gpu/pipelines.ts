/**
 * Compute pipelines, compiled once per kernel variant (shape, term pattern, …) and kept for the life of
 * the backend: WGSL compilation costs milliseconds to seconds, a dispatch microseconds.
 */
import type { ParamSlot } from './command-batch';

/** What a dispatch binds, in binding order: a whole buffer, a byte window of one, or a parameter slot. */
export type Binding =
  | GPUBuffer
  | { readonly buffer: GPUBuffer; readonly offset: number; readonly size: number };

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();

  constructor(private readonly device: GPUDevice) {}

  /** The pipeline for `key`; `wgsl` is called only the first time. */
  get(key: string, wgsl: () => string): GPUComputePipeline {
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const module = this.device.createShaderModule({ label: key, code: wgsl() });
      pipeline = this.device.createComputePipeline({
        label: key,
        layout: 'auto',
        compute: { module, entryPoint: 'main' },
      });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  get size(): number {
    return this.pipelines.size;
  }
}

/** Records one dispatch of `pipeline` on the open pass, with its bindings in group 0. */
export function dispatch(
  pass: GPUComputePassEncoder,
  device: GPUDevice,
  pipeline: GPUComputePipeline,
  bindings: readonly (Binding | ParamSlot)[],
  workgroups: readonly [number, number?, number?],
): void {
  const entries = bindings.map((b, binding) => ({
    binding,
    resource: 'offset' in b ? { buffer: b.buffer, offset: b.offset, size: b.size } : { buffer: b },
  }));
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
}
