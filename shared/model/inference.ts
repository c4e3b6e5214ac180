/**
 * The inference graph a trained model is shipped as: the GPT's forward pass with its weights embedded, so
 * that any onnxruntime (node, web) runs it from the one file, without this code. One row of token ids in,
 * the logits of every position out.
 */
import onnxProto from 'onnx-proto';
import { TOKENS } from './compile';
import { type GptConfig, GptConfigSchema, gptLogits, gptParams } from './gpt';
import { Graph, type Value } from './graph';
import { toOnnxBytes } from './onnx';

const { onnx } = onnxProto;

/** Input of the inference graph: int32 token ids [1, context]. */
export const INFERENCE_TOKENS = TOKENS;
/** Output of the inference graph: float32 logits [1, context, vocab]. */
export const INFERENCE_LOGITS = 'logits';

/** The forward pass of `config` with `params` (in gptParams order) as named initializers. */
export function buildInferenceGraph(config: GptConfig, params: readonly Float32Array[]): Uint8Array {
  const checked = GptConfigSchema.parse(config);
  const specs = gptParams(checked);
  if (params.length !== specs.length)
    throw new Error(`the model has ${specs.length} parameter tensors, got ${params.length}`);
  const g = new Graph();
  const weights = new Map<string, Value>(
    specs.map((p, i) => {
      const count = p.shape.reduce((a, b) => a * b, 1);
      if (params[i].length !== count)
        throw new Error(
          `parameter ${p.name} [${p.shape.join('×')}] needs ${count} values, got ${params[i].length}`,
        );
      return [p.name, g.weight(p.name, params[i], p.shape)];
    }),
  );
  const tokens = g.input(INFERENCE_TOKENS, [1, checked.context], 'int32');
  g.output(gptLogits(g, checked, weights, tokens), INFERENCE_LOGITS);
  return toOnnxBytes(g, 'gpt_inference');
}

export interface GraphSignature {
  readonly inputs: readonly { name: string; shape: number[] }[];
  readonly outputs: readonly { name: string; shape: number[] }[];
}

/** The named inputs and outputs of ONNX bytes, with their static shapes; throws when they do not decode. */
export function onnxSignature(bytes: Uint8Array): GraphSignature {
  const model = onnx.ModelProto.decode(bytes);
  const describe = (values: readonly { name?: string | null; type?: unknown }[] | null | undefined) =>
    (values ?? []).map((v) => {
      const dims =
        (v.type as { tensorType?: { shape?: { dim?: { dimValue?: unknown }[] } } } | undefined)?.tensorType
          ?.shape?.dim ?? [];
      return { name: v.name ?? '', shape: dims.map((d) => Number(d.dimValue ?? -1)) };
    });
  return { inputs: describe(model.graph?.input), outputs: describe(model.graph?.output) };
}

/** Why `bytes` is not the inference graph of `config`, or undefined when its inputs and outputs fit. */
export function inferenceGraphProblem(bytes: Uint8Array, config: GptConfig): string | undefined {
  let signature: GraphSignature;
  try {
    signature = onnxSignature(bytes);
  } catch (error) {
    return `it is not an ONNX model (${(error as Error).message})`;
  }
  const expected = {
    input: `${INFERENCE_TOKENS} [1×${config.context}]`,
    output: `${INFERENCE_LOGITS} [1×${config.context}×${config.vocabSize}]`,
  };
  const shown = (values: GraphSignature['inputs']) => values.map((v) => `${v.name} [${v.shape.join('×')}]`);
  const inputs = shown(signature.inputs);
  const outputs = shown(signature.outputs);
  if (inputs.length !== 1 || inputs[0] !== expected.input)
    return `its inputs are ${inputs.join(', ') || 'none'}; the model needs ${expected.input}`;
  if (outputs.length !== 1 || outputs[0] !== expected.output)
    return `its outputs are ${outputs.join(', ') || 'none'}; the model needs ${expected.output}`;
  return undefined;
}
