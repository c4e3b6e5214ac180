export { Lockstep, type LockstepOptions } from './lockstep';
