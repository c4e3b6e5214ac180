/**
 * A causal GPT: token + learned position embeddings, pre-LayerNorm blocks of masked multi-head
 * self-attention and a GELU MLP, a final LayerNorm and an untied output head. The whole model is this file.
 */
import { z } from 'zod';
import { Rng } from '../util/random';
import * as F from './functional';
import type { Graph, Value } from './graph';

export const GptConfigSchema = z
  .object({
    vocabSize: z.number().int().min(2).max(65536),
    dModel: z.number().int().positive(),
    heads: z.number().int().positive(),
    layers: z.number().int().positive(),
    dFF: z.number().int().positive(),
    context: z.number().int().min(2),
    bias: z.boolean().default(true),
  })
  .strict()
  .refine((c) => c.dModel % c.heads === 0, {
    message: 'heads must divide dModel (each head gets dModel / heads channels)',
    path: ['heads'],
  });

export type GptConfig = z.infer<typeof GptConfigSchema>;

export const GPT_PRESETS = {
  /** Seconds-scale tests, also in SwiftShader browsers. */
  tiny: { vocabSize: 512, dModel: 64, heads: 2, layers: 2, dFF: 256, context: 32, bias: true },
  /** CPU experiments and the simulator. */
  small: { vocabSize: 2048, dModel: 128, heads: 4, layers: 2, dFF: 512, context: 64, bias: true },
  /** The DeMuon paper's size: d_model 256, 4 heads, FFN 1024, 2 layers, context 64 (≈3.6M parameters). */
  paper: { vocabSize: 4096, dModel: 256, heads: 4, layers: 2, dFF: 1024, context: 64, bias: true },
} as const satisfies Record<string, GptConfig>;

export type GptPreset = keyof typeof GPT_PRESETS;

/** Validates a config (or a preset name plus overrides) and says exactly what is wrong. */
export function gptConfig(
  input: GptPreset | Partial<GptConfig> | unknown,
  overrides: Partial<GptConfig> = {},
): GptConfig {
  let base: unknown = input;
  if (typeof input === 'string') {
    if (!(input in GPT_PRESETS)) {
      throw new Error(`unknown model preset '${input}' (known: ${Object.keys(GPT_PRESETS).join(', ')})`);
    }
    base = GPT_PRESETS[input as GptPreset];
  }
  const parsed = GptConfigSchema.safeParse({ ...(base as object), ...overrides });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`);
    throw new Error(`invalid model config: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/**
 * How an optimizer should treat a tensor: `matrix` (hidden 2-D weights), `embedding` (token and position
 * tables), `head` (the output projection), `vector` (biases, LayerNorm gains and offsets).
 */
export type ParamKind = 'matrix' | 'embedding' | 'head' | 'vector';

export interface ParamSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly kind: ParamKind;
  /** Initial values: normal(0, std), or a constant when std is 0. */
  readonly init: { readonly std: number; readonly constant?: number };
}

/** Every parameter in a fixed order: the order of the train-step graph's inputs and gradient outputs. */
export function gptParams(c: GptConfig): ParamSpec[] {
  const std = 0.02;
  // GPT-2 scales the residual projections by 1/√(2·layers) so the residual stream's variance stays put.
  const residualStd = std / Math.sqrt(2 * c.layers);
  const p: ParamSpec[] = [
    { name: 'wte', shape: [c.vocabSize, c.dModel], kind: 'embedding', init: { std } },
    { name: 'wpe', shape: [c.context, c.dModel], kind: 'embedding', init: { std } },
  ];
  const norm = (name: string) => {
    p.push({ name: `${name}.gain`, shape: [c.dModel], kind: 'vector', init: { std: 0, constant: 1 } });
    p.push({ name: `${name}.bias`, shape: [c.dModel], kind: 'vector', init: { std: 0, constant: 0 } });
  };
  const dense = (name: string, rows: number, cols: number, initStd: number) => {
    p.push({ name: `${name}.weight`, shape: [rows, cols], kind: 'matrix', init: { std: initStd } });
    if (c.bias)
      p.push({ name: `${name}.bias`, shape: [cols], kind: 'vector', init: { std: 0, constant: 0 } });
  };
  for (let l = 0; l < c.layers; l++) {
    norm(`h${l}.ln1`);
    dense(`h${l}.attn.q`, c.dModel, c.dModel, std);
    dense(`h${l}.attn.k`, c.dModel, c.dModel, std);
    dense(`h${l}.attn.v`, c.dModel, c.dModel, std);
    dense(`h${l}.attn.proj`, c.dModel, c.dModel, residualStd);
    norm(`h${l}.ln2`);
    dense(`h${l}.mlp.fc`, c.dModel, c.dFF, std);
    dense(`h${l}.mlp.proj`, c.dFF, c.dModel, residualStd);
  }
  norm('lnf');
  p.push({ name: 'head', shape: [c.dModel, c.vocabSize], kind: 'head', init: { std } });
  return p;
}

export function parameterCount(c: GptConfig): number {
  return gptParams(c).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** Seeded initial parameters, identical in every JavaScript engine for the same seed. */
export function initGptParams(c: GptConfig, seed: number): Float32Array[] {
  const rng = new Rng(seed);
  return gptParams(c).map((p) => {
    const values = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
    if (p.init.std === 0) values.fill(p.init.constant ?? 0);
    else for (let i = 0; i < values.length; i++) values[i] = p.init.std * rng.normal();
    return values;
  });
}

/** Builds the forward pass on `g` and returns the logits [batch, context, vocab]. */
export function gptLogits(g: Graph, c: GptConfig, params: ReadonlyMap<string, Value>, tokens: Value): Value {
  const [batch, seq] = tokens.shape;
  if (seq !== c.context)
    throw new Error(`gpt: token rows must have the context length ${c.context}, got ${seq}`);
  const w = (name: string) => params.get(name)!;
  const b = (name: string) => (c.bias ? params.get(name) : undefined);
  const headDim = c.dModel / c.heads;

  // Causal mask: position t attends to positions ≤ t only.
  const allowed = Array.from({ length: seq * seq }, (_, i) => (i % seq <= Math.floor(i / seq) ? 1 : 0));
  const causal = g.constant(allowed, [seq, seq], 'bool');
  const blocked = g.scalar(-1e9);

  const heads = (x: Value, perm: number[]) =>
    F.transpose(g, F.reshape(g, x, [batch, seq, c.heads, headDim]), perm);

  let x = F.add(g, F.embedding(g, w('wte'), tokens), w('wpe'));
  for (let l = 0; l < c.layers; l++) {
    const h = F.layerNorm(g, x, w(`h${l}.ln1.gain`), w(`h${l}.ln1.bias`));
    const dense = (name: string, input: Value) => F.linear(g, input, w(`${name}.weight`), b(`${name}.bias`));
    // Scaling q by 1/√headDim before the product is cheaper than scaling the [seq, seq] scores.
    const q = heads(F.mul(g, dense(`h${l}.attn.q`, h), g.scalar(1 / Math.sqrt(headDim))), [0, 2, 1, 3]);
    const k = heads(dense(`h${l}.attn.k`, h), [0, 2, 3, 1]);
    const v = heads(dense(`h${l}.attn.v`, h), [0, 2, 1, 3]);
    const scores = F.where(g, causal, F.matmul(g, q, k), blocked);
    const attended = F.matmul(g, F.softmax(g, scores), v);
    const merged = F.reshape(g, F.transpose(g, attended, [0, 2, 1, 3]), [batch, seq, c.dModel]);
    x = F.add(g, x, dense(`h${l}.attn.proj`, merged));

    const m = F.layerNorm(g, x, w(`h${l}.ln2.gain`), w(`h${l}.ln2.bias`));
    x = F.add(g, x, dense(`h${l}.mlp.proj`, F.gelu(g, dense(`h${l}.mlp.fc`, m))));
  }
  x = F.layerNorm(g, x, w('lnf.gain'), w('lnf.bias'));
  return F.matmul(g, x, w('head'));
}
