export { type AssemblerOptions, MessageAssembler, type MessageKey, messageId } from './assembler';
export { type Attack, AttackSchema, attackingLink, corrupt, parseAttack } from './attacks';
export { MemoryNetwork } from './memory';
export {
  type GossipLink,
  GossipMixer,
  type GossipMixerOptions,
  type MessagePart,
  type MixingSchedule,
  type MixingWeights,
  type Neighbourhood,
  neighbourhoodOf,
} from './mixer';
export { clipScales, distance, NeighbourClipper, type RobustMixing, RobustMixingSchema } from './robust';
