/**
 * A GradientEngine over any onnxruntime flavour: onnxruntime-node, or onnxruntime-web (wasm or WebGPU).
 * Both expose the onnxruntime-common API, so the flavour is simply the module passed in.
 */
import {
  buildEvalGraph,
  buildTrainStepGraph,
  type GptConfig,
  type GradientEngine,
  gptParams,
  gradName,
  LOSS,
  type LossAndGrads,
  type ParamSpec,
  TARGETS,
  TOKENS,
  type TokenBatch,
} from '@demuon/shared/model';
import type { InferenceSession, Tensor } from 'onnxruntime-common';

/** The part of an onnxruntime module the engine uses (`import * as ort from 'onnxruntime-node'`, or -web). */
export interface OrtModule {
  InferenceSession: {
    create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  Tensor: new (type: 'float32' | 'int32', data: Float32Array | Int32Array, dims: readonly number[]) => Tensor;
}

export interface OrtEngineOptions {
  batchSize: number;
  sessionOptions?: InferenceSession.SessionOptions;
}

export class OrtGradientEngine implements GradientEngine {
  readonly params: readonly ParamSpec[];
  readonly batchSize: number;
  readonly context: number;

  private constructor(
    private readonly ort: OrtModule,
    private readonly train: InferenceSession,
    private readonly evaluate: InferenceSession,
    config: GptConfig,
    batchSize: number,
  ) {
    this.params = gptParams(config);
    this.batchSize = batchSize;
    this.context = config.context;
  }

  static async create(
    ort: OrtModule,
    config: GptConfig,
    options: OrtEngineOptions,
  ): Promise<OrtGradientEngine> {
    const trainGraph = buildTrainStepGraph(config, options.batchSize);
    const evalGraph = buildEvalGraph(config, options.batchSize);
    const train = await ort.InferenceSession.create(trainGraph.bytes, options.sessionOptions);
    const evaluate = await ort.InferenceSession.create(evalGraph.bytes, options.sessionOptions);
    return new OrtGradientEngine(ort, train, evaluate, config, options.batchSize);
  }

  async lossAndGrads(params: readonly Float32Array[], batch: TokenBatch): Promise<LossAndGrads> {
    const out = await this.train.run(this.feeds(params, batch));
    return {
      loss: scalar(out[LOSS]),
      grads: this.params.map((p) => out[gradName(p.name)].data as Float32Array),
    };
  }

  async loss(params: readonly Float32Array[], batch: TokenBatch): Promise<number> {
    const out = await this.evaluate.run(this.feeds(params, batch));
    return scalar(out[LOSS]);
  }

  async dispose(): Promise<void> {
    await this.train.release();
    await this.evaluate.release();
  }

  private feeds(params: readonly Float32Array[], batch: TokenBatch): Record<string, Tensor> {
    if (params.length !== this.params.length) {
      throw new Error(`expected ${this.params.length} parameter tensors, got ${params.length}`);
    }
    const rows = [this.batchSize, this.context];
    const n = this.batchSize * this.context;
    if (batch.tokens.length !== n || batch.targets.length !== n) {
      throw new Error(
        `a batch must hold ${n} tokens and targets, got ${batch.tokens.length} and ${batch.targets.length}`,
      );
    }
    const feeds: Record<string, Tensor> = {
      [TOKENS]: new this.ort.Tensor('int32', batch.tokens, rows),
      [TARGETS]: new this.ort.Tensor('int32', batch.targets, rows),
    };
    for (const [i, p] of this.params.entries())
      feeds[p.name] = new this.ort.Tensor('float32', params[i], p.shape);
    return feeds;
  }
}

function scalar(t: Tensor): number {
  return Number((t.data as Float32Array)[0]);
}
