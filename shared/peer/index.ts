export { describeActivity, type PeerActivity } from './activity';
export { Lockstep, type LockstepOptions } from './lockstep';
export { PeerLoop, type PeerLoopOptions, type StepReport, type StepTiming } from './peer-loop';
