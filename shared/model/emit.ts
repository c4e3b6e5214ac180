/**
 * Raw ONNX node emitters with static shape inference (opset 17). They put nodes in the graph but not on
 * the autodiff tape: forward lowerings in ops.ts and the gradient rules are both written with them.
 * Only operators that onnxruntime-web's WebGPU execution provider implements are used, so a graph never
 * falls back to the CPU there (see DESIGN.md: no ScatterND, OneHot, Trilu, LogSoftmax or NLL loss).
 */
import type { DType, Graph, Value } from './graph';
import { broadcastShapes, type Shape, sameShape } from './shape';

const ONNX_TYPE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9 };

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

function binary(op: string, g: Graph, a: Value, b: Value, dtype: DType = a.dtype): Value {
  if (a.dtype !== b.dtype) throw new Error(`${op}: element types differ (${a.dtype} vs ${b.dtype})`);
  return g.node(op, [a, b], [{ shape: broadcastShapes(op, a.shape, b.shape), dtype }])[0];
}

function unary(op: string, g: Graph, x: Value): Value {
  return g.node(op, [x], [{ shape: x.shape, dtype: x.dtype }])[0];
}

export const add = (g: Graph, a: Value, b: Value) => binary('Add', g, a, b);
export const sub = (g: Graph, a: Value, b: Value) => binary('Sub', g, a, b);
export const mul = (g: Graph, a: Value, b: Value) => binary('Mul', g, a, b);
export const div = (g: Graph, a: Value, b: Value) => binary('Div', g, a, b);
export const equal = (g: Graph, a: Value, b: Value) => binary('Equal', g, a, b, 'bool');
export const exp = (g: Graph, x: Value) => unary('Exp', g, x);
export const log = (g: Graph, x: Value) => unary('Log', g, x);
export const erf = (g: Graph, x: Value) => unary('Erf', g, x);
export const neg = (g: Graph, x: Value) => unary('Neg', g, x);
export const sqrt = (g: Graph, x: Value) => unary('Sqrt', g, x);

/** x · s for a float scalar s (no node at all when s is 1). */
export function scale(g: Graph, x: Value, s: number): Value {
  return s === 1 ? x : mul(g, x, g.scalar(s));
}

export function cast(g: Graph, x: Value, dtype: DType): Value {
  return g.node('Cast', [x], [{ shape: x.shape, dtype }], { to: ONNX_TYPE[dtype] })[0];
}

export function matmul(g: Graph, a: Value, b: Value): Value {
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new Error(`MatMul: operands must have rank ≥ 2, got [${a.shape}] and [${b.shape}]`);
  }
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) throw new Error(`MatMul: inner dimensions differ: [${a.shape}] · [${b.shape}]`);
  const batch = broadcastShapes('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return g.node('MatMul', [a, b], [{ shape: [...batch, m, n], dtype: a.dtype }])[0];
}

/** op(A)·op(B) for 2-D A and B, op = transpose when asked: lets the backward pass avoid Transpose nodes. */
export function gemm(g: Graph, a: Value, b: Value, transA = false, transB = false): Value {
  if (a.shape.length !== 2 || b.shape.length !== 2) {
    throw new Error(`Gemm: operands must be 2-D, got [${a.shape}] and [${b.shape}]`);
  }
  const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
  const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
  if (k !== k2) throw new Error(`Gemm: inner dimensions differ: [${a.shape}] · [${b.shape}]`);
  const attrs = { transA: transA ? 1 : 0, transB: transB ? 1 : 0 };
  return g.node('Gemm', [a, b], [{ shape: [m, n], dtype: a.dtype }], attrs)[0];
}

export function transpose(g: Graph, x: Value, perm: readonly number[]): Value {
  if (perm.length !== x.shape.length || [...perm].sort().some((p, i) => p !== i)) {
    throw new Error(`Transpose: perm [${perm}] is not a permutation of rank ${x.shape.length}`);
  }
  return g.node('Transpose', [x], [{ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }], {
    perm: [...perm],
  })[0];
}

/** Reshape to a fully specified static shape (one -1 allowed); a no-op when the shape is unchanged. */
export function reshape(g: Graph, x: Value, shape: readonly number[]): Value {
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = x.shape.reduce((a, b) => a * b, 1);
  const resolved = shape.map((d) => (d === -1 ? total / known : d));
  if (shape.filter((d) => d === -1).length > 1 || resolved.reduce((a, b) => a * b, 1) !== total) {
    throw new Error(`Reshape: cannot view [${x.shape}] as [${shape}]`);
  }
  if (sameShape(resolved, x.shape)) return x;
  return g.node('Reshape', [x, g.ints(resolved)], [{ shape: resolved, dtype: x.dtype }])[0];
}

export function expand(g: Graph, x: Value, shape: Shape): Value {
  if (sameShape(x.shape, shape)) return x;
  const out = broadcastShapes('Expand', x.shape, shape);
  return g.node('Expand', [x, g.ints(shape)], [{ shape: out, dtype: x.dtype }])[0];
}

export function unsqueeze(g: Graph, x: Value, axis: number): Value {
  const a = normAxis(axis, x.shape.length + 1);
  const shape = [...x.shape.slice(0, a), 1, ...x.shape.slice(a)];
  return g.node('Unsqueeze', [x, g.ints([a])], [{ shape, dtype: x.dtype }])[0];
}

function reducedShape(x: Value, axes: readonly number[], keepdims: boolean): number[] {
  const set = new Set(axes.map((a) => normAxis(a, x.shape.length)));
  return x.shape.flatMap((d, i) => (set.has(i) ? (keepdims ? [1] : []) : [d]));
}

export function reduceSum(g: Graph, x: Value, axes: readonly number[], keepdims = true): Value {
  if (axes.length === 0) return x;
  const shape = reducedShape(x, axes, keepdims);
  return g.node('ReduceSum', [x, g.ints(axes)], [{ shape, dtype: x.dtype }], {
    keepdims: keepdims ? 1 : 0,
  })[0];
}

/** ReduceMean and ReduceMax take their axes as an attribute up to opset 17. */
function reduceAttr(op: string, g: Graph, x: Value, axes: readonly number[], keepdims: boolean): Value {
  const shape = reducedShape(x, axes, keepdims);
  return g.node(op, [x], [{ shape, dtype: x.dtype }], { axes: [...axes], keepdims: keepdims ? 1 : 0 })[0];
}

export const reduceMean = (g: Graph, x: Value, axes: readonly number[], keepdims = true) =>
  reduceAttr('ReduceMean', g, x, axes, keepdims);
export const reduceMax = (g: Graph, x: Value, axes: readonly number[], keepdims = true) =>
  reduceAttr('ReduceMax', g, x, axes, keepdims);

export function softmax(g: Graph, x: Value, axis = -1): Value {
  return g.node('Softmax', [x], [{ shape: x.shape, dtype: x.dtype }], { axis })[0];
}

export function where(g: Graph, cond: Value, a: Value, b: Value): Value {
  if (cond.dtype !== 'bool') throw new Error(`Where: condition must be bool, got ${cond.dtype}`);
  const shape = broadcastShapes('Where', cond.shape, broadcastShapes('Where', a.shape, b.shape));
  return g.node('Where', [cond, a, b], [{ shape, dtype: a.dtype }])[0];
}

export function gather(g: Graph, data: Value, indices: Value): Value {
  const shape = [...indices.shape, ...data.shape.slice(1)];
  return g.node('Gather', [data, indices], [{ shape, dtype: data.dtype }], { axis: 0 })[0];
}

export function gatherElements(g: Graph, data: Value, indices: Value, axis: number): Value {
  return g.node('GatherElements', [data, indices], [{ shape: indices.shape, dtype: data.dtype }], {
    axis,
  })[0];
}

/** LayerNormalization over the last axis, also returning the Mean and InvStdDev the backward pass reuses. */
export function layerNorm(
  g: Graph,
  x: Value,
  gain: Value,
  bias: Value,
  epsilon: number,
): [Value, Value, Value] {
  const last = x.shape[x.shape.length - 1];
  if (!sameShape(gain.shape, [last]) || !sameShape(bias.shape, [last])) {
    throw new Error(
      `LayerNormalization: gain/bias must have shape [${last}], got [${gain.shape}], [${bias.shape}]`,
    );
  }
  const stats = { shape: [...x.shape.slice(0, -1), 1], dtype: x.dtype };
  const [y, mean, invStd] = g.node(
    'LayerNormalization',
    [x, gain, bias],
    [{ shape: x.shape, dtype: x.dtype }, stats, stats],
    { axis: -1, epsilon: { float: epsilon } },
  );
  return [y, mean, invStd];
}

/** One-hot rows as float: onehot[..., v] = (indices[...] == v), built from ops every EP implements. */
export function oneHot(g: Graph, indices: Value, depth: number): Value {
  const iota = g.constant(
    Array.from({ length: depth }, (_, i) => i),
    [depth],
    indices.dtype,
  );
  return cast(g, equal(g, unsqueeze(g, indices, -1), iota), 'float32');
}

/** Sums a broadcast gradient back down to the shape of the operand it flows to. */
export function sumToShape(g: Graph, grad: Value, shape: Shape): Value {
  if (sameShape(grad.shape, shape)) return grad;
  const lead = grad.shape.length - shape.length;
  const leading = grad.shape.slice(lead);
  // Broadcast only over leading axes (a bias, a position table): one ReduceSum, no Reshape.
  if (leading.every((d, i) => d === shape[i])) {
    return reduceSum(
      g,
      grad,
      Array.from({ length: lead }, (_, i) => i),
      false,
    );
  }
  const axes: number[] = [];
  for (let i = 0; i < grad.shape.length; i++) {
    if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  return reshape(g, reduceSum(g, grad, axes, true), shape);
}
