// WebGPU typings (GPUDevice, GPUBuffer, …) for everything under client/: browsers, ORT's device and Dawn
// in Node all hand us objects of these types. A reference here keeps tsconfig.json untouched.
/// <reference types="@webgpu/types" />
