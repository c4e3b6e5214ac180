/**
 * Everything one node of a networked run trains with, made from the run's config once its first epoch is
 * known: its shard of the data (by its index among the first epoch's members), the algorithm from X⁰, the
 * gossip mixer (robust when the run says so; an attack for robustness experiments) and the peer loop.
 */
import type { TokenizedDocument } from '../data';
import { type Attack, attackingLink, type GossipLink, GossipMixer, type Neighbourhood } from '../gossip';
import { type GradientEngine, gptConfig, initGptParams, type ResidentGradientEngine } from '../model';
import { createAlgorithm, type DecentralizedAlgorithm } from '../optim';
import type { RunConfig } from '../protocol';
import type { Tensor, TensorBackend } from '../tensor';
import { planNodeData } from './node-data';
import { PeerLoop, type PeerLoopOptions } from './peer-loop';

export interface NodeTrainingOptions<T extends Tensor> {
  readonly run: RunConfig;
  readonly engine: GradientEngine;
  readonly backend: TensorBackend<T>;
  /** The engine working on the backend's tensors directly (see PeerLoopOptions.resident). */
  readonly resident?: ResidentGradientEngine<T>;
  /** The tokenised corpus. */
  readonly data: {
    readonly train: TokenizedDocument[];
    readonly val: TokenizedDocument[];
    readonly vocabSize: number;
  };
  /** Members of the first epoch this node trains in, and its index among them. */
  readonly members: number;
  readonly index: number;
  readonly link: GossipLink;
  readonly neighbourhood: (step: number) => Neighbourhood;
  /** Gossips corrupted values (robustness experiments only; see gossip/attacks.ts). */
  readonly attack?: Attack;
  /** A monotonic clock in ms (performance.now where the platform has it). */
  readonly now?: () => number;
  readonly onPhase?: PeerLoopOptions<T>['onPhase'];
}

export interface NodeTraining<T extends Tensor> {
  readonly algorithm: DecentralizedAlgorithm<T>;
  readonly loop: PeerLoop<T>;
  /** Tokens in this node's shard of the training data. */
  readonly shardTokens: number;
  /** Draws and drops the batches of `steps` steps: a peer resuming at a step goes on with its data there. */
  skipBatches(steps: number): void;
}

export function createNodeTraining<T extends Tensor>(o: NodeTrainingOptions<T>): NodeTraining<T> {
  const { run, engine, backend, data } = o;
  const model = gptConfig(run.model.preset, { vocabSize: data.vocabSize });
  const nodeData = planNodeData(data.train, data.val, {
    scheme: run.data,
    nodes: o.members,
    seed: run.seed,
    batch: run.batch,
    context: model.context,
    evalBatches: run.evalBatches,
  });
  const algorithm = createAlgorithm(backend, engine.params, initGptParams(model, run.seed), run.algorithm);
  const link = o.attack ? attackingLink(o.link, o.attack) : o.link;
  const mixer = new GossipMixer(backend, o.neighbourhood, link, { robust: run.robustMixing });
  const batches = nodeData.batches(o.index);
  const loop = new PeerLoop({
    engine,
    backend,
    algorithm,
    mixer,
    batches,
    validation: nodeData.validation,
    totalSteps: run.steps,
    evalEvery: run.evalEvery,
    now: o.now,
    resident: o.resident,
    onPhase: o.onPhase,
  });
  return {
    algorithm,
    loop,
    shardTokens: nodeData.shardTokens(o.index),
    skipBatches: (steps) => {
      for (let k = 0; k < steps; k++) batches.next();
    },
  };
}
