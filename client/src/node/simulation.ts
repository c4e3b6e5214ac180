/**
 * The in-process simulator: N nodes of one algorithm on the GPT and the Brown corpus, gradients from
 * onnxruntime-node, gossip through the in-memory network, the very optimizer code a peer runs.
 */
import { type BpeTokenizerJson, parseShardScheme } from '@demuon/shared/data';
import { AttackSchema, RobustMixingSchema } from '@demuon/shared/gossip';
import { makeTopology } from '@demuon/shared/graph';
import {
  GPT_PRESETS,
  type GptConfig,
  type GptPreset,
  gptConfig,
  initGptParams,
  type TokenBatch,
} from '@demuon/shared/model';
import { type AlgorithmConfig, algorithmConfig } from '@demuon/shared/optim';
import { Lockstep, planNodeData } from '@demuon/shared/peer';
import { type Tensor, type TensorBackend, WIRE_ENCODINGS, type WireEncoding } from '@demuon/shared/tensor';
import * as ort from 'onnxruntime-node';
import { z } from 'zod';
import { OrtGradientEngine, type OrtModule } from '../engine/ort-engine';
import { prepareBrownData } from './corpus';
import { fastCpuBackend } from './fast-cpu-backend';

export const SimulationConfigSchema = z
  .object({
    preset: z.enum(Object.keys(GPT_PRESETS) as [GptPreset, ...GptPreset[]]).default('tiny'),
    vocab: z.number().int().min(258).optional(),
    nodes: z.number().int().min(1).max(64).default(8),
    topology: z.string().default('ring'),
    algorithm: z.unknown().transform((a, ctx) => {
      try {
        return algorithmConfig(a);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
    steps: z.number().int().positive(),
    batch: z.number().int().positive().default(8),
    data: z.string().default('iid'),
    seed: z.number().int().min(0).default(0),
    evalEvery: z.number().int().positive().default(50),
    evalBatches: z.number().int().positive().default(4),
    /** Gossip wire encoding; anything but fp32 is applied to every message as the WebRTC link would. */
    encoding: z.enum(WIRE_ENCODINGS as [WireEncoding, ...WireEncoding[]]).default('fp32'),
    /** Clipped gossip on every node (see shared/gossip/robust.ts). */
    robustMixing: RobustMixingSchema.optional(),
    /** Nodes that gossip corrupted values: they train honestly but lie on the wire. */
    byzantine: z
      .array(z.object({ node: z.number().int().min(0), attack: AttackSchema }).strict())
      .default([]),
  })
  .strict()
  .superRefine((c, ctx) => {
    for (const [i, { node }] of c.byzantine.entries())
      if (node >= c.nodes)
        ctx.addIssue({
          code: 'custom',
          path: ['byzantine', i, 'node'],
          message: `no node ${node} of ${c.nodes}`,
        });
    // Build what can be built cheaply now, so that a bad run fails before any training starts.
    for (const [path, check] of [
      ['topology', () => makeTopology(c.topology, c.nodes, { seed: c.seed })],
      ['data', () => parseShardScheme(c.data)],
    ] as const) {
      try {
        check();
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: [path], message: (error as Error).message });
      }
    }
  });

export type SimulationConfig = z.infer<typeof SimulationConfigSchema> & { algorithm: AlgorithmConfig };

export function simulationConfig(input: unknown): SimulationConfig {
  const parsed = SimulationConfigSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new Error(`invalid simulation config: ${problems.join('; ')}`);
  }
  return parsed.data as SimulationConfig;
}

/** The `--quick` run: small enough to finish in well under two minutes on two cores. */
export const QUICK_SIMULATION = {
  preset: 'tiny',
  vocab: 512,
  nodes: 4,
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.02, schedule: 'linear' }, theta: 0.2 },
  steps: 100,
  batch: 8,
  data: 'iid',
  evalEvery: 25,
  evalBatches: 2,
} as const;

export interface EvalRecord {
  readonly step: number;
  readonly wallSeconds: number;
  /** Mean over nodes of the training loss of the last step's batches (NaN before the first step). */
  readonly trainLoss: number;
  /** Mean over nodes of each node's validation loss, and the per-node values. */
  readonly valLoss: number;
  readonly valLossPerNode: number[];
  /** Mean validation loss over the nodes that are not byzantine (= valLoss without byzantine nodes). */
  readonly honestValLoss: number;
  /** Validation loss of the averaged parameters X̄. */
  readonly valLossOfAverage: number;
  readonly consensusError: number;
  /** Mean bytes each node has sent so far. */
  readonly bytesPerNode: number;
}

export interface SimulationResult {
  readonly config: SimulationConfig;
  readonly records: EvalRecord[];
  readonly diverged: boolean;
  readonly stopped: boolean;
  /** Times a node's state turned non-finite and it took a neighbour's. */
  readonly restarts: number;
  /** Neighbour tensors robust mixing scaled down, and neighbour rounds it left out, per node. */
  readonly clipped: number[];
  readonly leftOut: number[];
  readonly shardSummary: string[];
  /** With `keepAverage`: the averaged parameters X̄ of the last evaluation, what a model export ships. */
  readonly average?: AveragedModel;
}

/** X̄ at the step of the last evaluation record, with what it takes to rebuild and check it. */
export interface AveragedModel {
  readonly step: number;
  readonly params: Float32Array[];
  /** That record's valLossOfAverage. */
  readonly valLoss: number;
  readonly model: GptConfig;
  readonly tokenizer: BpeTokenizerJson;
  /** The vocabulary size the tokenizer was trained for (the evaluation spec's corpus preparation). */
  readonly vocab: number;
}

export interface SimulationHooks {
  onStep?(step: number, trainLoss: number): void;
  onEval?(record: EvalRecord): void;
  shouldStop?(): boolean;
  log?(line: string): void;
  backend?: TensorBackend<Tensor>;
  /** Keep X̄ of the last evaluation in the result (`average`), for exporting the trained model. */
  keepAverage?: boolean;
}

export async function runSimulation(
  config: SimulationConfig,
  hooks: SimulationHooks = {},
): Promise<SimulationResult> {
  const { nodes, steps, batch, seed } = config;
  const vocabSize = config.vocab ?? GPT_PRESETS[config.preset].vocabSize;
  const data = await prepareBrownData({ vocabSize, log: hooks.log });
  const model = gptConfig(config.preset, { vocabSize: data.tokenizer.vocabSize });
  const topology = makeTopology(config.topology, nodes, { seed });
  const nodeData = planNodeData(data.train, data.val, {
    scheme: config.data,
    nodes,
    seed,
    batch,
    context: model.context,
    evalBatches: config.evalBatches,
  });
  const { plan, validation } = nodeData;
  const samplers = plan.nodes.map((_, i) => nodeData.batches(i));
  const engine = await OrtGradientEngine.create(ort as unknown as OrtModule, model, { batchSize: batch });
  const backend = hooks.backend ?? (await fastCpuBackend());
  const lock = new Lockstep({
    backend,
    params: engine.params,
    x0: initGptParams(model, seed),
    nodes,
    schedule: topology,
    config: config.algorithm,
    encoding: config.encoding,
    robust: config.robustMixing,
    attacks: new Map(config.byzantine.map(({ node, attack }) => [node, attack])),
  });
  const honest = Array.from({ length: nodes }, (_, i) => i).filter(
    (i) => !config.byzantine.some((b) => b.node === i),
  );

  const validationLoss = async (params: Float32Array[]) => {
    let sum = 0;
    for (const b of validation) sum += await engine.loss(params, b);
    return sum / validation.length;
  };
  const started = performance.now();
  const records: EvalRecord[] = [];
  let average: Pick<AveragedModel, 'step' | 'params' | 'valLoss'> | undefined;
  const evaluate = async (step: number, trainLoss: number) => {
    const all = await lock.allParams();
    const perNode: number[] = [];
    for (const params of all) perNode.push(await validationLoss(params));
    const averageParams = await lock.averageParams();
    const record: EvalRecord = {
      step,
      wallSeconds: (performance.now() - started) / 1000,
      trainLoss,
      valLoss: mean(perNode),
      valLossPerNode: perNode,
      honestValLoss: mean(honest.map((i) => perNode[i])),
      valLossOfAverage: await validationLoss(averageParams),
      consensusError: await lock.consensusError(),
      bytesPerNode: mean(lock.network.bytesSent),
    };
    records.push(record);
    if (hooks.keepAverage) average = { step, params: averageParams, valLoss: record.valLossOfAverage };
    hooks.onEval?.(record);
    return record;
  };

  await evaluate(0, Number.NaN);
  let diverged = false;
  let stopped = false;
  let restarts = 0;
  for (let k = 0; k < steps; k++) {
    if (hooks.shouldStop?.()) {
      stopped = true;
      break;
    }
    const all = await lock.allParams();
    const losses: number[] = [];
    const grads: Float32Array[][] = [];
    for (const [i, params] of all.entries()) {
      const batchI: TokenBatch = samplers[i].next();
      const out = await engine.lossAndGrads(params, batchI);
      losses.push(out.loss);
      grads.push(out.grads);
    }
    // A node whose state turned non-finite takes a neighbour's state again, as a peer does by rejoining.
    for (const [i, loss] of losses.entries()) {
      if (Number.isFinite(loss)) continue;
      const from = topology
        .at(k)
        .weights.slice(i * nodes, (i + 1) * nodes)
        .findIndex((w, j) => j !== i && w !== 0 && Number.isFinite(losses[j]));
      if (from < 0) continue;
      hooks.log?.(`step ${k}: node ${i}'s state turned non-finite; it takes node ${from}'s state`);
      restarts++;
      await lock.copyState(i, from);
      const out = await engine.lossAndGrads(await lock.nodeParams(i), samplers[i].next());
      losses[i] = out.loss;
      grads[i] = out.grads;
    }
    const trainLoss = mean(losses);
    if (!Number.isFinite(trainLoss)) {
      diverged = true;
      hooks.log?.(`diverged at step ${k}: training loss ${trainLoss}`);
      break;
    }
    await lock.step(k, steps, grads);
    hooks.onStep?.(k + 1, trainLoss);
    if ((k + 1) % config.evalEvery === 0 || k + 1 === steps) {
      const record = await evaluate(k + 1, trainLoss);
      if (!Number.isFinite(record.valLoss)) {
        diverged = true;
        break;
      }
    }
  }
  const robust = lock.robustCounts();
  lock.release();
  await engine.dispose();
  return {
    config,
    records,
    diverged,
    stopped,
    restarts,
    clipped: robust.map((r) => r.clipped),
    leftOut: robust.map((r) => r.leftOut),
    shardSummary: plan.nodes.map((s) => `node ${s.node}: ${s.tokenCount} tokens`),
    ...(average
      ? { average: { ...average, model, tokenizer: data.tokenizer.toJSON(), vocab: vocabSize } }
      : {}),
  };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}
