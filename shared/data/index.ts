export { BpeTokenizer, type BpeTokenizerJson, type BpeTrainOptions } from './bpe';
export { type CorpusDocument, parseBrownCategories, parseBrownDocument } from './brown';
export { type CorpusBundle, decodeCorpusBundle, encodeCorpusBundle } from './bundle';
export { pretokenize } from './pretokenize';
export {
  type Batch,
  BatchSampler,
  type BatchSamplerOptions,
  type BatchShape,
  type FixedBatchesOptions,
  fixedBatches,
} from './sampler';
export {
  describeShardPlan,
  formatShardScheme,
  type NodeShard,
  parseShardScheme,
  planShards,
  type ShardOptions,
  type ShardPlan,
  type ShardScheme,
  type TokenizedDocument,
} from './shards';
export { type Split, type SplitOptions, splitByDocument } from './split';
export { decodeUtf8, encodeUtf8 } from './utf8';
