/**
 * The compute of a tab's peer: onnxruntime-web on WebGPU with the WGSL optimizer on onnxruntime's own
 * device, or onnxruntime-web on wasm for the gradients and for Newton–Schulz (the rest of the optimizer is
 * the CPU backend), on several threads where the page is cross-origin isolated.
 */
import type { GptConfig } from '@demuon/shared/model';
import type { Tensor, TensorBackend } from '@demuon/shared/tensor';
import * as ort from 'onnxruntime-web';
import { OrtGradientEngine, type OrtModule } from '../engine/ort-engine';
import { OrtNewtonSchulzCpuBackend } from '../engine/ort-newton-schulz-backend';
import { WebGpuBackend } from '../gpu/backend';
import type { Capabilities } from './messages';

/**
 * The models' matrices are small (a few hundred rows) for many threads to share, and the page, the browser
 * and WebRTC need cores too.
 */
const MAX_WASM_THREADS = 4;

/**
 * Where the build puts onnxruntime's wasm module and its loader (client/scripts/build-web.ts copies them):
 * loaded from their own files, the loader is also what onnxruntime's wasm threads run, rather than this
 * worker's bundle.
 */
const ORT_FILES = '/ort/';

export interface TabEngine {
  readonly engine: OrtGradientEngine;
  readonly backend: TensorBackend<Tensor>;
  readonly capabilities: Capabilities;
}

/**
 * Threads for onnxruntime's wasm: shared wasm memory, hence threads, needs a cross-origin-isolated page.
 * One core is left to the page, the browser and WebRTC: on a two-core machine with other work running, two
 * wasm threads mostly made the small GPT's step slower than one (docs/bench/browser-step.md).
 */
export function wasmThreadCount(): number {
  if (!globalThis.crossOriginIsolated) return 1;
  return Math.max(1, Math.min((navigator.hardwareConcurrency || 1) - 1, MAX_WASM_THREADS));
}

/** onnxruntime on WebGPU with the WGSL optimizer on the same device, or wasm with Newton–Schulz on wasm. */
export async function createEngine(
  model: GptConfig,
  batchSize: number,
  { provider, resident }: { provider: 'auto' | 'webgpu' | 'wasm'; resident: boolean },
): Promise<TabEngine> {
  const module = ort as unknown as OrtModule;
  // Must be set before onnxruntime's first session, which loads the wasm module.
  ort.env.wasm.wasmPaths = new URL(ORT_FILES, self.location.href).href;
  let fallbackReason: string | undefined;
  if (provider !== 'wasm') {
    if (!('gpu' in navigator)) fallbackReason = 'this browser has no WebGPU (navigator.gpu)';
    else {
      try {
        const adapter = await navigator.gpu.requestAdapter();
        if (!adapter) throw new Error('no WebGPU adapter');
        // Only the few nodes outside the WebGPU EP run on wasm: they need no threads of their own.
        ort.env.wasm.numThreads = 1;
        const engine = await OrtGradientEngine.create(module, model, {
          batchSize,
          sessionOptions: { executionProviders: ['webgpu'] },
        });
        // onnxruntime's own device: the WGSL kernels work on the same GPU memory.
        const device = (await ort.env.webgpu.device) as GPUDevice;
        const gpu = new WebGpuBackend(device);
        // Resident: onnxruntime reads the optimizer's parameter buffers and writes its gradient buffers.
        if (resident) engine.beforeGpuRun = () => gpu.flush();
        const info = adapter.info;
        return {
          engine,
          backend: gpu as unknown as TensorBackend<Tensor>,
          capabilities: {
            provider: 'webgpu',
            adapter: {
              vendor: info.vendor,
              architecture: info.architecture,
              device: info.device,
              description: info.description,
            },
            features: [...device.features].sort(),
            limits: limitsOf(device.limits),
            optimizerBackend: "WGSL kernels on onnxruntime's GPUDevice",
            residentParams: resident,
            wasmThreads: ort.env.wasm.numThreads ?? 1,
            crossOriginIsolated: globalThis.crossOriginIsolated === true,
          },
        };
      } catch (error) {
        if (provider === 'webgpu') throw error;
        fallbackReason = `WebGPU failed: ${(error as Error).message}`;
      }
    }
  }
  // Takes effect only if onnxruntime is not yet loaded: after a WebGPU failure it keeps its one thread.
  ort.env.wasm.numThreads = wasmThreadCount();
  const engine = await OrtGradientEngine.create(module, model, {
    batchSize,
    sessionOptions: { executionProviders: ['wasm'] },
  });
  // onnxruntime falls back to one thread (and says so) when the browser has no shared wasm memory.
  const threads = ort.env.wasm.numThreads ?? 1;
  const flavour = `onnxruntime-web (wasm, ${threads} thread${threads === 1 ? '' : 's'})`;
  return {
    engine,
    backend: new OrtNewtonSchulzCpuBackend(module, {
      name: `cpu+${flavour}`,
      sessionOptions: { executionProviders: ['wasm'] },
    }) as unknown as TensorBackend<Tensor>,
    capabilities: {
      provider: 'wasm',
      ...(fallbackReason ? { fallbackReason } : {}),
      features: [],
      limits: {},
      optimizerBackend: `Newton–Schulz on ${flavour}, the rest in JavaScript`,
      residentParams: false,
      wasmThreads: threads,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
    },
  };
}

export function limitsOf(limits: GPUSupportedLimits): Record<string, number> {
  const picked: Record<string, number> = {};
  for (const key of [
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
  ] as const)
    picked[key] = limits[key];
  return picked;
}
