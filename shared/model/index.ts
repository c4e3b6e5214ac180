export { backward } from './autodiff';
export {
  buildEvalGraph,
  buildTrainStepGraph,
  type CompiledGraph,
  gradName,
  LOSS,
  TARGETS,
  TOKENS,
} from './compile';
export * as emit from './emit';
export type { GradientEngine, LossAndGrads, ResidentGradientEngine, TokenBatch } from './engine';
export * as F from './functional';
export {
  GPT_PRESETS,
  type GptConfig,
  GptConfigSchema,
  type GptPreset,
  gptConfig,
  gptLogits,
  gptParams,
  initGptParams,
  type ParamKind,
  type ParamSpec,
  parameterCount,
} from './gpt';
export { type DType, Graph, type Shape, type Value } from './graph';
export { OPSET, toOnnxBytes } from './onnx';
export { OPS, type OpName } from './ops';
