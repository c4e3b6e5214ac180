export { type AssemblerOptions, MessageAssembler, type MessageKey, messageId } from './assembler';
export { MemoryNetwork } from './memory';
export {
  type GossipLink,
  GossipMixer,
  type MessagePart,
  type MixingSchedule,
  type MixingWeights,
  type Neighbourhood,
  neighbourhoodOf,
} from './mixer';
