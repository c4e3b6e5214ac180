/** Differentiable building blocks: thin wrappers that put an op from ops.ts on the tape. */
import type { Graph, Value } from './graph';

const first = (values: Value[]) => values[0];

export const add = (g: Graph, a: Value, b: Value) => first(g.apply('Add', [a, b]));
export const sub = (g: Graph, a: Value, b: Value) => first(g.apply('Sub', [a, b]));
export const mul = (g: Graph, a: Value, b: Value) => first(g.apply('Mul', [a, b]));
export const div = (g: Graph, a: Value, b: Value) => first(g.apply('Div', [a, b]));
export const matmul = (g: Graph, a: Value, b: Value) => first(g.apply('MatMul', [a, b]));
export const embedding = (g: Graph, table: Value, ids: Value) => first(g.apply('Gather', [table, ids]));
export const transpose = (g: Graph, x: Value, perm: number[]) => first(g.apply('Transpose', [x], { perm }));
export const reshape = (g: Graph, x: Value, shape: number[]) => first(g.apply('Reshape', [x], { shape }));
export const softmax = (g: Graph, x: Value) => first(g.apply('Softmax', [x]));
export const gelu = (g: Graph, x: Value) => first(g.apply('Gelu', [x]));
export const where = (g: Graph, cond: Value, a: Value, b: Value) => first(g.apply('Where', [cond, a, b]));
export const reduceSum = (g: Graph, x: Value, axes: number[], keepdims = true) =>
  first(g.apply('ReduceSum', [x], { axes, keepdims }));
export const reduceMean = (g: Graph, x: Value, axes: number[], keepdims = true) =>
  first(g.apply('ReduceMean', [x], { axes, keepdims }));
export const layerNorm = (g: Graph, x: Value, gain: Value, bias: Value, epsilon = 1e-5) =>
  first(g.apply('LayerNorm', [x, gain, bias], { epsilon }));
export const crossEntropy = (g: Graph, logits: Value, targets: Value) =>
  first(g.apply('CrossEntropy', [logits, targets]));

/** x · w (+ b): a dense layer over the last axis. */
export function linear(g: Graph, x: Value, w: Value, b?: Value): Value {
  const y = matmul(g, x, w);
  return b ? add(g, y, b) : y;
}
