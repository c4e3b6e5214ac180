/**
 * A GPUDevice in Node through Dawn (the `webgpu` npm package), for headless peers, the simulator and the
 * tests. Kept out of index.ts so that browser bundles never see the native module.
 *
 * Without a GPU, Dawn needs a software Vulkan driver: Debian's `chromium` package ships SwiftShader, which
 * Dawn reaches through the system Vulkan loader (`apt-get install chromium libvulkan1`). The loader reads
 * `VK_ICD_FILENAMES` when Dawn creates its instance, so it must be set before that: in the shell
 * (`VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node …`), with `{ vulkanIcd }`, or by
 * this function, which points it at SwiftShader for this process when the variable is unset and either
 * the machine has no GPU device node or the system's drivers give no adapter.
 */
import { existsSync, readdirSync } from 'node:fs';

/**
 * Each device's Dawn instance. The device does not keep it alive by itself, and once the instance is
 * garbage-collected SwiftShader's worker threads crash the process (futex errors, failed mutex assertions).
 */
const instances = new WeakMap<GPUDevice, GPU>();

export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeGpuOptions {
  /** A Vulkan ICD manifest to use instead of the system's drivers (sets VK_ICD_FILENAMES). */
  readonly vulkanIcd?: string;
  /** Fall back to SwiftShader when no other adapter is found (default true). */
  readonly swiftShaderFallback?: boolean;
  readonly powerPreference?: GPUPowerPreference;
}

export interface NodeGpu {
  readonly device: GPUDevice;
  readonly adapterInfo: GPUAdapterInfo;
}

/**
 * Requests an adapter and a device with the adapter's largest buffer and workgroup-memory limits.
 * Throws, saying what to install or set, when no adapter can be had.
 */
export async function requestNodeGpuDevice(options: NodeGpuOptions = {}): Promise<NodeGpu> {
  if (options.vulkanIcd) process.env.VK_ICD_FILENAMES = options.vulkanIcd;
  const fallback = (options.swiftShaderFallback ?? true) && !options.vulkanIcd && existsSync(SWIFTSHADER_ICD);
  // With no GPU device node, the system's Vulkan drivers can only be software ones (Mesa's lavapipe, too
  // old for Dawn on Debian 12): go straight to SwiftShader rather than load two software rasterizers.
  if (fallback && !process.env.VK_ICD_FILENAMES && !hasGpuDeviceNode())
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  let [gpu, adapter] = await requestAdapter(options);
  if (!adapter && fallback && process.env.VK_ICD_FILENAMES !== SWIFTSHADER_ICD) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    [gpu, adapter] = await requestAdapter(options);
  }
  if (!adapter) {
    throw new Error(
      'no WebGPU adapter in Node: install a Vulkan driver, or for the SwiftShader software one ' +
        '`apt-get install chromium libvulkan1` and set VK_ICD_FILENAMES=' +
        `${SWIFTSHADER_ICD} (VK_ICD_FILENAMES is now ${process.env.VK_ICD_FILENAMES ?? 'unset'})`,
    );
  }
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
  instances.set(device, gpu);
  return { device, adapterInfo: adapter.info };
}

/** Whether the machine shows a GPU to userspace (a DRM render node or an NVIDIA device). */
export function hasGpuDeviceNode(): boolean {
  const list = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);
  return (
    list('/dev/dri').some((f) => f.startsWith('renderD')) || list('/dev').some((f) => /^nvidia\d/.test(f))
  );
}

async function requestAdapter(options: NodeGpuOptions): Promise<[GPU, GPUAdapter | null]> {
  // Imported here, not at the top: the native module loads only when a device is wanted.
  const { create } = await import('webgpu');
  const gpu = create([]);
  const adapter = await gpu.requestAdapter(
    options.powerPreference ? { powerPreference: options.powerPreference } : {},
  );
  return [gpu, adapter];
}
