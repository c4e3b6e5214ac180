import {
  buildEvalGraph,
  buildTrainStepGraph,
  GPT_PRESETS,
  gptConfig,
  gptParams,
  gradName,
  initGptParams,
  parameterCount,
} from '@demuon/shared/model';
import { describe, expect, it } from 'vitest';

describe('GPT config', () => {
  it('accepts the presets and overrides', () => {
    expect(gptConfig('tiny').dModel).toBe(GPT_PRESETS.tiny.dModel);
    expect(gptConfig('paper', { vocabSize: 1000 }).vocabSize).toBe(1000);
  });

  it.each([
    [{ heads: 3 }, /heads must divide dModel/],
    [{ dModel: 0 }, /dModel/],
    [{ layers: 1.5 }, /layers/],
    [{ context: 1 }, /context/],
    [{ vocabSize: -4 }, /vocabSize/],
  ])('rejects %o with a message naming the field', (overrides, message) => {
    expect(() => gptConfig('tiny', overrides)).toThrow(message);
  });

  it('rejects unknown presets and unknown fields', () => {
    expect(() => gptConfig('huge')).toThrow(/unknown model preset 'huge' \(known: tiny, small, paper\)/);
    expect(() => gptConfig({ ...GPT_PRESETS.tiny, dropout: 0.1 })).toThrow(/dropout/);
    expect(() => gptConfig({ dModel: 64 })).toThrow(/vocabSize/);
  });
});

describe('GPT parameters', () => {
  it('has the paper-sized model in the 3–7M range', () => {
    const n = parameterCount(gptConfig('paper'));
    expect(n).toBeGreaterThan(3e6);
    expect(n).toBeLessThan(7e6);
  });

  it('names, shapes and kinds every tensor for optimizer routing', () => {
    const c = gptConfig('tiny');
    const params = gptParams(c);
    const byName = new Map(params.map((p) => [p.name, p]));
    expect(byName.get('wte')).toMatchObject({ shape: [c.vocabSize, c.dModel], kind: 'embedding' });
    expect(byName.get('wpe')).toMatchObject({ shape: [c.context, c.dModel], kind: 'embedding' });
    expect(byName.get('head')).toMatchObject({ shape: [c.dModel, c.vocabSize], kind: 'head' });
    expect(byName.get('h1.mlp.fc.weight')).toMatchObject({ shape: [c.dModel, c.dFF], kind: 'matrix' });
    expect(byName.get('h0.ln1.gain')).toMatchObject({ shape: [c.dModel], kind: 'vector' });
    expect(new Set(params.map((p) => p.name)).size).toBe(params.length);
    for (const p of params) expect(p.kind === 'vector').toBe(p.shape.length === 1);
    expect(gptParams(gptConfig('tiny', { bias: false })).some((p) => p.name.endsWith('proj.bias'))).toBe(
      false,
    );
  });

  it('initialises deterministically from the seed', () => {
    const c = gptConfig('tiny');
    const a = initGptParams(c, 42);
    const b = initGptParams(c, 42);
    const other = initGptParams(c, 43);
    expect(a.map((t) => Array.from(t.slice(0, 8)))).toEqual(b.map((t) => Array.from(t.slice(0, 8))));
    expect(a[0][0]).not.toBe(other[0][0]);
    const specs = gptParams(c);
    const gain = a[specs.findIndex((p) => p.name === 'lnf.gain')];
    expect(gain.every((v) => v === 1)).toBe(true);
    const wte = a[0];
    const std = Math.sqrt(wte.reduce((s, v) => s + v * v, 0) / wte.length);
    expect(std).toBeCloseTo(0.02, 3);
  });
});

describe('compiled graphs', () => {
  const c = gptConfig('tiny');

  it('train step: parameters, tokens and targets in; loss and one gradient per parameter out, same order', () => {
    const train = buildTrainStepGraph(c, 4);
    const names = train.params.map((p) => p.name);
    expect(train.inputNames).toEqual([...names, 'tokens', 'targets']);
    expect(train.outputNames).toEqual(['loss', ...names.map(gradName)]);
  });

  it('eval: the same inputs, the loss only, and a much smaller graph', () => {
    const train = buildTrainStepGraph(c, 4);
    const evaluate = buildEvalGraph(c, 4);
    expect(evaluate.inputNames).toEqual(train.inputNames);
    expect(evaluate.outputNames).toEqual(['loss']);
    const count = (g: typeof train) => Object.values(g.opCounts).reduce((a, b) => a + b, 0);
    expect(count(evaluate)).toBeLessThan(count(train) / 2);
  });

  it('uses only standard ONNX operators that the WebGPU provider implements', () => {
    // Opset-17 float/int32 kernels registered by onnxruntime-web 1.30's WebGPU execution provider
    // (core/providers/webgpu/webgpu_execution_provider.cc). An op outside this list would silently run on
    // the CPU in a browser, with copies both ways.
    const webgpuOps = new Set(
      'Add Sub Mul Div Neg Exp Log Erf Cast Equal MatMul Gemm Transpose Reshape Expand Unsqueeze ReduceSum ReduceMean ReduceMax Softmax Where Gather GatherElements LayerNormalization Identity'.split(
        ' ',
      ),
    );
    const ops = [
      ...Object.keys(buildTrainStepGraph(c, 2).opCounts),
      ...Object.keys(buildEvalGraph(c, 2).opCounts),
    ];
    expect(ops.filter((op) => !webgpuOps.has(op))).toEqual([]);
  });

  it('rejects a bad batch size', () => {
    expect(() => buildTrainStepGraph(c, 0)).toThrow(/batch size must be a positive integer, got 0/);
  });
});
