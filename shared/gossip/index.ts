export { MemoryNetwork } from './memory';
export { type GossipLink, GossipMixer, type MixingSchedule, type MixingWeights } from './mixer';
