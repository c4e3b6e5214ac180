export { describeActivity, type PeerActivity } from './activity';
export {
  EpochTimeline,
  neighbourhoodAt,
  neighboursOf,
  PROPOSAL_LOOKAHEAD,
  sameMembers,
} from './epoch-timeline';
export { Lockstep, type LockstepOptions } from './lockstep';
export { type NodeData, type NodeDataOptions, planNodeData } from './node-data';
export { createNodeTraining, type NodeTraining, type NodeTrainingOptions } from './node-training';
export { type CheckpointClaim, PeerCheckpoints } from './peer-checkpoints';
export { PeerLoop, type PeerLoopOptions, type StepReport, type StepTiming } from './peer-loop';
export { judge, NeighbourMissed, RoundWatchdog, type RoundWatchdogOptions } from './round-watchdog';
export {
  readState,
  receiveState,
  type StateKey,
  type StateLink,
  sendState,
  transferredTensors,
  writeState,
} from './state-transfer';
export { StatusBoard, type TimedStatus } from './status-board';
