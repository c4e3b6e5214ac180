export {
  type AdamWStep,
  type NewtonSchulzOptions,
  type NewtonSchulzSchedule,
  NS_SCHEDULES,
  newtonSchulzTriples,
  type Tensor,
  type TensorBackend,
} from './backend';
export { CpuBackend, type CpuTensor, newtonSchulz } from './cpu';
