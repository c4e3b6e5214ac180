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
  Tensor: {
    new (type: 'float32' | 'int32', data: Float32Array | Int32Array, dims: readonly number[]): Tensor;
    /** onnxruntime-web's WebGPU build: a tensor over a GPUBuffer of its device. */
    fromGpuBuffer?(buffer: GPUBuffer, options: { dataType: 'float32'; dims: readonly number[] }): Tensor;
  };
}

/** A tensor of the WGSL backend, as the resident path sees it: a GPU buffer and a shape. */
export interface GpuBufferTensor {
  readonly buffer: GPUBuffer;
  readonly shape: readonly number[];
}

export interface OrtEngineOptions {
  batchSize: number;
  sessionOptions?: InferenceSession.SessionOptions;
}

export class OrtGradientEngine implements GradientEngine {
  /**
   * Called before onnxruntime reads GPU buffers: the backend submits the work it has recorded, so that
   * the parameters onnxruntime sees are the updated ones (both submit to the same device queue).
   */
  beforeGpuRun: () => void = () => {};

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

  /**
   * The resident step (onnxruntime-web on WebGPU, on the device that owns the buffers): parameters go in
   * as GPU buffers, gradients are written into `grads` as pre-allocated outputs, only the loss is read.
   */
  async lossAndGradsInto(
    params: readonly GpuBufferTensor[],
    batch: TokenBatch,
    grads: readonly GpuBufferTensor[],
  ): Promise<number> {
    const fetches: Record<string, Tensor | null> = { [LOSS]: null };
    for (const [i, p] of this.params.entries()) fetches[gradName(p.name)] = this.gpuTensor(grads[i]);
    this.beforeGpuRun();
    const out = await this.train.run(this.gpuFeeds(params, batch), fetches);
    return scalar(out[LOSS]);
  }

  async lossOn(params: readonly GpuBufferTensor[], batch: TokenBatch): Promise<number> {
    this.beforeGpuRun();
    const out = await this.evaluate.run(this.gpuFeeds(params, batch));
    return scalar(out[LOSS]);
  }

  async dispose(): Promise<void> {
    await this.train.release();
    await this.evaluate.release();
  }

  private gpuTensor(t: GpuBufferTensor): Tensor {
    if (!this.ort.Tensor.fromGpuBuffer) throw new Error('this onnxruntime build cannot take GPU buffers');
    return this.ort.Tensor.fromGpuBuffer(t.buffer, { dataType: 'float32', dims: t.shape });
  }

  private gpuFeeds(params: readonly GpuBufferTensor[], batch: TokenBatch): Record<string, Tensor> {
    const feeds = this.batchFeeds(batch);
    for (const [i, p] of this.params.entries()) feeds[p.name] = this.gpuTensor(params[i]);
    return feeds;
  }

  private batchFeeds(batch: TokenBatch): Record<string, Tensor> {
    const rows = [this.batchSize, this.context];
    const n = this.batchSize * this.context;
    if (batch.tokens.length !== n || batch.targets.length !== n) {
      throw new Error(
        `a batch must hold ${n} tokens and targets, got ${batch.tokens.length} and ${batch.targets.length}`,
      );
    }
    return {
      [TOKENS]: new this.ort.Tensor('int32', batch.tokens, rows),
      [TARGETS]: new this.ort.Tensor('int32', batch.targets, rows),
    };
  }

  private feeds(params: readonly Float32Array[], batch: TokenBatch): Record<string, Tensor> {
    if (params.length !== this.params.length) {
      throw new Error(`expected ${this.params.length} parameter tensors, got ${params.length}`);
    }
    const feeds = this.batchFeeds(batch);
    for (const [i, p] of this.params.entries())
      feeds[p.name] = new this.ort.Tensor('float32', params[i], p.shape);
    return feeds;
  }
}

function scalar(t: Tensor): number {
  return Number((t.data as Float32Array)[0]);
}
