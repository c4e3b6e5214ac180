export {
  type AdamWStep,
  type NewtonSchulzOptions,
  type NewtonSchulzSchedule,
  NS_SCHEDULES,
  newtonSchulzTriples,
  type Tensor,
  type TensorBackend,
} from './backend';
export {
  decode,
  decodeInto,
  ENCODING_SIZE,
  encode,
  encodedLength,
  encodeInto,
  FP16_MAX,
  WIRE_ENCODINGS,
  type WireEncoding,
} from './codec';
export { CpuBackend, type CpuTensor, newtonSchulz } from './cpu';
