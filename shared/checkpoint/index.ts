export { checkCompatible, checkpointTensors, configFingerprint } from './compatible';
export {
  CHECKPOINT_VERSION,
  type Checkpoint,
  CheckpointError,
  type CheckpointHeader,
  CheckpointHeaderSchema,
  decodeCheckpoint,
  encodeCheckpoint,
  readCheckpoint,
} from './format';
export type { CheckpointStore } from './store';
