/**
 * The two graphs every runtime runs: the train step (loss and one gradient per parameter, in one
 * inference run — onnxruntime-web has no training API) and the eval graph (loss only).
 */
import { backward } from './autodiff';
import * as F from './functional';
import { type GptConfig, gptLogits, gptParams, type ParamSpec } from './gpt';
import { Graph, type Value } from './graph';
import { toOnnxBytes } from './onnx';

export interface CompiledGraph {
  readonly kind: 'train' | 'eval';
  readonly bytes: Uint8Array;
  readonly config: GptConfig;
  readonly batchSize: number;
  /** Parameters in input order; the train graph's gradient outputs follow the same order. */
  readonly params: readonly ParamSpec[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** How many nodes of each ONNX op type the graph holds. */
  readonly opCounts: Readonly<Record<string, number>>;
}

export const TOKENS = 'tokens';
export const TARGETS = 'targets';
export const LOSS = 'loss';
export const gradName = (param: string) => `grad.${param}`;

export function buildTrainStepGraph(config: GptConfig, batchSize: number): CompiledGraph {
  return build('train', config, batchSize);
}

export function buildEvalGraph(config: GptConfig, batchSize: number): CompiledGraph {
  return build('eval', config, batchSize);
}

function build(kind: 'train' | 'eval', config: GptConfig, batchSize: number): CompiledGraph {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new Error(`batch size must be a positive integer, got ${batchSize}`);
  }
  const g = new Graph();
  const specs = gptParams(config);
  const params = new Map<string, Value>(specs.map((p) => [p.name, g.input(p.name, p.shape)]));
  const tokens = g.input(TOKENS, [batchSize, config.context], 'int32');
  const targets = g.input(TARGETS, [batchSize, config.context], 'int32');

  const loss = F.crossEntropy(g, gptLogits(g, config, params, tokens), targets);
  g.output(loss, LOSS);
  if (kind === 'train') {
    const grads = backward(g, loss, [...params.values()]);
    for (const [i, p] of specs.entries()) g.output(grads[i], gradName(p.name));
  }

  const opCounts: Record<string, number> = {};
  for (const n of g.nodes) opCounts[n.op] = (opCounts[n.op] ?? 0) + 1;
  return {
    kind,
    bytes: toOnnxBytes(g, `gpt_${kind}`),
    config,
    batchSize,
    params: specs,
    inputNames: g.inputs.map((v) => v.name),
    outputNames: g.outputs.map((v) => v.name),
    opCounts,
  };
}
