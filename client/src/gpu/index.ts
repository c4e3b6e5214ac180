// Browser-safe exports; Node code gets a device from './node-device' (requestNodeGpuDevice).
export { type GpuTensor, WebGpuBackend, type WebGpuBackendOptions } from './backend';
export { type NewtonSchulzTuning, newtonSchulzTile } from './newton-schulz';
