/**
 * What node i of N trains on: its shard of the corpus, its batch sampler's seed, and the validation
 * batches every node shares. The simulator and a networked peer both take their data from here, so that
 * "the simulator equals the networked run" holds by construction.
 */
import { BatchSampler, fixedBatches, planShards, type ShardPlan, type TokenizedDocument } from '../data';
import type { TokenBatch } from '../model';

export interface NodeDataOptions {
  /** The shard scheme (iid, genre, dirichlet:α…). */
  readonly scheme: string;
  readonly nodes: number;
  readonly seed: number;
  readonly batch: number;
  readonly context: number;
  readonly evalBatches: number;
}

export interface NodeData {
  readonly plan: ShardPlan;
  /** Node i's batch sampler over its shard. */
  batches(node: number): BatchSampler;
  /** Tokens in node i's shard. */
  shardTokens(node: number): number;
  /** The validation batches, the same for every node. */
  readonly validation: readonly TokenBatch[];
}

export function planNodeData(
  train: readonly TokenizedDocument[],
  val: readonly TokenizedDocument[],
  o: NodeDataOptions,
): NodeData {
  const plan = planShards(train, o.scheme, { nodes: o.nodes, seed: o.seed });
  return {
    plan,
    batches: (node) =>
      new BatchSampler(plan.nodes[node].documents, {
        batchSize: o.batch,
        context: o.context,
        seed: o.seed * 1000 + node,
      }),
    shardTokens: (node) => plan.nodes[node].documents.reduce((n, d) => n + d.tokens.length, 0),
    validation: fixedBatches(val, {
      batchSize: o.batch,
      context: o.context,
      count: o.evalBatches,
      seed: o.seed,
    }),
  };
}
