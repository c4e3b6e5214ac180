/**
 * WebGPU's bit flags by value. The spec fixes them, and using them directly keeps the backend free of the
 * `GPUBufferUsage`/`GPUMapMode` globals, which Dawn in Node does not install unless asked to.
 */
export const BufferUsage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export const MapMode = { READ: 0x0001 } as const;

/** Usage of every tensor and workspace buffer: bound as storage, copied in and out. */
export const STORAGE_USAGE = BufferUsage.STORAGE | BufferUsage.COPY_SRC | BufferUsage.COPY_DST;
