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
export {
  buildInferenceGraph,
  type GraphSignature,
  INFERENCE_LOGITS,
  INFERENCE_TOKENS,
  inferenceGraphProblem,
  onnxSignature,
} from './inference';
export {
  brownValidationSpec,
  CHECKSUMMED_FILES,
  completeModelCard,
  type EvaluationSpec,
  EvaluationSpecSchema,
  type FileEntry,
  fileEntry,
  MODEL_CARD_FORMAT,
  MODEL_CARD_VERSION,
  MODEL_FILES,
  type ModelCard,
  type ModelCardDraft,
  ModelCardError,
  ModelCardSchema,
  modelCardRunFields,
  parseModelCard,
  renderModelCardReadme,
  runModelCard,
} from './model-card';
export { type ModelFolderContents, modelFolderFiles } from './model-files';
export { OPSET, toOnnxBytes } from './onnx';
export { OPS, type OpName } from './ops';
export {
  argmax,
  checkSamplingOptions,
  type GenerateOptions,
  generate,
  IncrementalDecoder,
  type SamplingOptions,
  sampleToken,
  topKIndices,
} from './sampling';
