/**
 * The tensor backend of a headless peer: the WGSL kernels on a real GPU through Dawn when there is one,
 * else the CPU backend with Newton–Schulz on onnxruntime-node. A software adapter (SwiftShader, lavapipe)
 * is slower than the CPU backend, so `auto` takes WebGPU only on hardware; `webgpu` insists on it.
 */
import type { Tensor, TensorBackend } from '@demuon/shared/tensor';
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

export async function createNodeBackend(choice: NodeBackendChoice): Promise<NodeBackend> {
  if (choice === 'cpu') return cpu('CPU (Newton–Schulz on onnxruntime-node), as asked');
  if (choice === 'auto' && !hasGpuDeviceNode()) return cpu('CPU (Newton–Schulz on onnxruntime-node): no GPU');
  let gpu: Awaited<ReturnType<typeof requestNodeGpuDevice>>;
  try {
    gpu = await requestNodeGpuDevice({ swiftShaderFallback: choice === 'webgpu' });
  } catch (error) {
    if (choice === 'webgpu') throw error;
    return cpu(`CPU (Newton–Schulz on onnxruntime-node): no WebGPU adapter (${(error as Error).message})`);
  }
  const { vendor, architecture, device, description } = gpu.adapterInfo;
  const adapter = [vendor, architecture, device, description].filter(Boolean).join(' ') || 'unknown adapter';
  if (choice === 'auto' && SOFTWARE_ADAPTER.test(adapter)) {
    gpu.device.destroy();
    return cpu(`CPU (Newton–Schulz on onnxruntime-node): the only adapter is a software one (${adapter})`);
  }
  return { backend: new WebGpuBackend(gpu.device), description: `WebGPU through Dawn on ${adapter}` };
}

function cpu(description: string): NodeBackend {
  return { backend: new OrtNewtonSchulzBackend(), description };
}
