export {
  chunkElements,
  encodeTensorFrames,
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  FRAME_VERSION,
  type Frame,
  type FrameHeader,
  MAX_FRAME_BYTES,
  parseFrame,
  runHash,
} from './frame';
