/**
 * The tensor backend of a headless peer: the WGSL kernels on a real GPU through Dawn when there is one,
 * else the CPU backend with Newton–Schulz on onnxruntime-node. A software adapter (SwiftShader, lavapipe)
 * is slower than the CPU backend, so `auto` takes WebGPU only on hardware; `webgpu` insists on it.
 */
import type { Tensor, TensorBackend } from '@demuon/shared/tensor';
import type { InferenceSession } from 'onnxruntime-node';
import { WebGpuBackend } from '../gpu/backend';
import { hasGpuDeviceNode, requestNodeGpuDevice } from '../gpu/node-device';
import { OrtNewtonSchulzBackend } from './fast-cpu-backend';

export const NODE_BACKENDS = ['auto', 'cpu', 'webgpu'] as const;
export type NodeBackendChoice = (typeof NODE_BACKENDS)[number];

export interface NodeBackend {
  readonly backend: TensorBackend<Tensor> & { dispose(): void | Promise<void> };
  /** What was chosen and why, for the peer's log. */
  readonly description: string;
}

const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|software/i;

/** `sessionOptions` go to the CPU backend's onnxruntime sessions. */
export async function createNodeBackend(
  choice: NodeBackendChoice,
  sessionOptions: InferenceSession.SessionOptions = {},
): Promise<NodeBackend> {
  const cpu = (why: string): NodeBackend => ({
    backend: new OrtNewtonSchulzBackend(sessionOptions),
    description: `CPU (Newton–Schulz on onnxruntime-node)${why}`,
  });
  if (choice === 'cpu') return cpu(', as asked');
  if (choice === 'auto' && !hasGpuDeviceNode()) return cpu(': no GPU');
  let gpu: Awaited<ReturnType<typeof requestNodeGpuDevice>>;
  try {
    gpu = await requestNodeGpuDevice({ swiftShaderFallback: choice === 'webgpu' });
  } catch (error) {
    if (choice === 'webgpu') throw error;
    return cpu(`: no WebGPU adapter (${(error as Error).message})`);
  }
  const { vendor, architecture, device, description } = gpu.adapterInfo;
  const adapter = [vendor, architecture, device, description].filter(Boolean).join(' ') || 'unknown adapter';
  if (choice === 'auto' && SOFTWARE_ADAPTER.test(adapter)) {
    gpu.device.destroy();
    return cpu(`: the only adapter is a software one (${adapter})`);
  }
  return { backend: new WebGpuBackend(gpu.device), description: `WebGPU through Dawn on ${adapter}` };
}
