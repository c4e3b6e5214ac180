/**
 * The differentiable ops: each forward lowering sits next to its gradient rule (vector–Jacobian product),
 * in the manner of tinygrad's compact rule table. Forward lowerings may return auxiliary outputs after the
 * main one (e.g. LayerNorm's statistics) so that the rule can reuse them instead of recomputing.
 * Rules receive `needs[k]`, whether input k wants a gradient, and skip the work otherwise.
 */
import * as E from './emit';
import type { Graph, TapeEntry, Value } from './graph';
import { sameShape, size } from './shape';

export interface OpAttrs {
  perm?: readonly number[];
  shape?: readonly number[];
  axes?: readonly number[];
  keepdims?: boolean;
  epsilon?: number;
}

type Grads = (Value | null)[];

interface OpDef {
  forward(g: Graph, x: readonly Value[], attrs: OpAttrs): Value[];
  backward(g: Graph, e: TapeEntry, dy: Value, needs: readonly boolean[]): Grads;
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** A gradient rule for ops whose inputs broadcast: each gradient is summed back to its operand's shape. */
function broadcasting(rule: (g: Graph, e: TapeEntry, dy: Value, k: number) => Value): OpDef['backward'] {
  return (g, e, dy, needs) =>
    e.inputs.map((x, k) => (needs[k] ? E.sumToShape(g, rule(g, e, dy, k), x.shape) : null));
}

/** Swaps the last two axes (a batched matrix transpose). */
function swapLast(g: Graph, x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return E.transpose(g, x, perm);
}

export const OPS = {
  Add: {
    forward: (g, [a, b]) => [E.add(g, a, b)],
    backward: broadcasting((_g, _e, dy) => dy),
  },
  Sub: {
    forward: (g, [a, b]) => [E.sub(g, a, b)],
    backward: broadcasting((g, _e, dy, k) => (k === 0 ? dy : E.neg(g, dy))),
  },
  Mul: {
    forward: (g, [a, b]) => [E.mul(g, a, b)],
    backward: broadcasting((g, e, dy, k) => E.mul(g, dy, e.inputs[1 - k])),
  },
  Div: {
    forward: (g, [a, b]) => [E.div(g, a, b)],
    // d(a/b)/db = −(a/b)/b = −y/b
    backward: broadcasting((g, e, dy, k) =>
      k === 0 ? E.div(g, dy, e.inputs[1]) : E.neg(g, E.div(g, E.mul(g, dy, e.outputs[0]), e.inputs[1])),
    ),
  },

  MatMul: {
    forward: (g, [a, b]) => [E.matmul(g, a, b)],
    backward: (g, { inputs: [a, b] }, dy, needs) => {
      const n = b.shape[b.shape.length - 1];
      const k = a.shape[a.shape.length - 1];
      if (b.shape.length === 2) {
        // Activations times a weight matrix: fold the batch axes into rows and let Gemm transpose for free.
        const dy2 = E.reshape(g, dy, [-1, n]);
        return [
          needs[0] ? E.reshape(g, E.gemm(g, dy2, b, false, true), a.shape) : null,
          needs[1] ? E.gemm(g, E.reshape(g, a, [-1, k]), dy2, true, false) : null,
        ];
      }
      return [
        needs[0] ? E.sumToShape(g, E.matmul(g, dy, swapLast(g, b)), a.shape) : null,
        needs[1] ? E.sumToShape(g, E.matmul(g, swapLast(g, a), dy), b.shape) : null,
      ];
    },
  },

  /** Embedding lookup: rows of a 2-D table picked by integer ids. */
  Gather: {
    forward: (g, [table, ids]) => {
      if (table.shape.length !== 2) throw new Error(`Gather: the table must be 2-D, got [${table.shape}]`);
      return [E.gather(g, table, ids)];
    },
    // The table gradient is onehot(ids)ᵀ · dy: a MatMul instead of ScatterND, which WebGPU lacks.
    backward: (g, { inputs: [table, ids] }, dy, needs) => {
      const [vocab, width] = table.shape;
      const rows = E.reshape(g, E.oneHot(g, ids, vocab), [-1, vocab]);
      return [needs[0] ? E.gemm(g, rows, E.reshape(g, dy, [-1, width]), true, false) : null, null];
    },
  },

  Transpose: {
    forward: (g, [x], { perm }) => [E.transpose(g, x, perm!)],
    backward: (g, e, dy) => {
      const perm = e.attrs.perm!;
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return [E.transpose(g, dy, inverse)];
    },
  },
  Reshape: {
    forward: (g, [x], { shape }) => [E.reshape(g, x, shape!)],
    backward: (g, { inputs: [x] }, dy) => [E.reshape(g, dy, x.shape)],
  },

  ReduceSum: {
    forward: (g, [x], { axes, keepdims = true }) => [E.reduceSum(g, x, axes!, keepdims)],
    backward: (g, { inputs: [x], attrs }, dy) => [spread(g, x, dy, attrs.axes!)],
  },
  ReduceMean: {
    forward: (g, [x], { axes, keepdims = true }) => [E.reduceMean(g, x, axes!, keepdims)],
    backward: (g, { inputs: [x], outputs: [y], attrs }, dy) => [
      E.scale(g, spread(g, x, dy, attrs.axes!), size(y.shape) / size(x.shape)),
    ],
  },

  Softmax: {
    forward: (g, [x]) => [E.softmax(g, x, -1)],
    // dx = y ⊙ (dy − Σ dy ⊙ y) over the softmax axis
    backward: (g, { outputs: [y] }, dy) => [E.mul(g, y, E.sub(g, dy, E.reduceSum(g, E.mul(g, dy, y), [-1])))],
  },

  /** Keeps x where cond holds, else the fill value; cond (e.g. the causal mask) is not differentiated. */
  Where: {
    forward: (g, [cond, a, b]) => [E.where(g, cond, a, b)],
    backward: (g, { inputs: [cond, a, b] }, dy, needs) => {
      const zero = g.scalar(0);
      return [
        null,
        needs[1] ? E.sumToShape(g, E.where(g, cond, dy, zero), a.shape) : null,
        needs[2] ? E.sumToShape(g, E.where(g, cond, zero, dy), b.shape) : null,
      ];
    },
  },

  /** LayerNormalization over the last axis; outputs [y, mean, invStd]. */
  LayerNorm: {
    forward: (g, [x, gain, bias], { epsilon }) => E.layerNorm(g, x, gain, bias, epsilon ?? 1e-5),
    backward: (g, { inputs: [x, gain], outputs: [, mean, invStd] }, dy, needs) => {
      const rows = x.shape.slice(0, -1).map((_, i) => i);
      const xhat = E.mul(g, E.sub(g, x, mean), invStd);
      const dxhat = E.mul(g, dy, gain);
      // dx = invStd · (dxhat − mean(dxhat) − xhat · mean(dxhat ⊙ xhat)) over the normalised axis
      const centred = E.sub(g, dxhat, E.reduceMean(g, dxhat, [-1]));
      const dx = E.mul(
        g,
        invStd,
        E.sub(g, centred, E.mul(g, xhat, E.reduceMean(g, E.mul(g, dxhat, xhat), [-1]))),
      );
      return [
        needs[0] ? dx : null,
        needs[1] ? E.reduceSum(g, E.mul(g, dy, xhat), rows, false) : null,
        needs[2] ? E.reduceSum(g, dy, rows, false) : null,
      ];
    },
  },

  /** GELU, exact (erf) form as in GPT-2/nanoGPT; outputs [y, erf(x/√2)]. */
  Gelu: {
    forward: (g, [x]) => {
      const e = E.erf(g, E.scale(g, x, SQRT1_2));
      return [E.mul(g, E.scale(g, x, 0.5), E.add(g, e, g.scalar(1))), e];
    },
    // d/dx [x·Φ(x)] = Φ(x) + x·φ(x), with Φ(x) = (1 + erf(x/√2))/2 and φ the standard normal density
    backward: (g, { inputs: [x], outputs: [, e] }, dy) => {
      const cdf = E.scale(g, E.add(g, e, g.scalar(1)), 0.5);
      const pdf = E.scale(g, E.exp(g, E.scale(g, E.mul(g, x, x), -0.5)), INV_SQRT_2PI);
      return [E.mul(g, dy, E.add(g, cdf, E.mul(g, x, pdf)))];
    },
  },

  /**
   * Mean cross-entropy of logits [..., V] against integer targets [...]; outputs [loss, log-probabilities].
   * Written with a max-shifted log-sum-exp and GatherElements, since LogSoftmax and the NLL/SCE loss ops
   * are not in the WebGPU provider.
   */
  CrossEntropy: {
    forward: (g, [logits, targets]) => {
      const vocab = logits.shape[logits.shape.length - 1];
      if (!sameShape(logits.shape.slice(0, -1), targets.shape)) {
        throw new Error(`CrossEntropy: logits [${logits.shape}] do not match targets [${targets.shape}]`);
      }
      const z = E.reshape(g, logits, [-1, vocab]);
      const shifted = E.sub(g, z, E.reduceMax(g, z, [-1]));
      const logp = E.sub(g, shifted, E.log(g, E.reduceSum(g, E.exp(g, shifted), [-1])));
      const picked = E.gatherElements(g, logp, E.reshape(g, targets, [-1, 1]), 1);
      return [E.neg(g, E.reduceMean(g, picked, [0, 1], false)), logp];
    },
    // dlogits = (softmax − onehot(targets)) · dloss / rows
    backward: (g, { inputs: [logits, targets], outputs: [, logp] }, dy) => {
      const [rows, vocab] = logp.shape;
      const diff = E.sub(g, E.exp(g, logp), E.oneHot(g, E.reshape(g, targets, [rows]), vocab));
      return [E.reshape(g, E.mul(g, diff, E.scale(g, dy, 1 / rows)), logits.shape), null];
    },
  },
} satisfies Record<string, OpDef>;

export type OpName = keyof typeof OPS;

/** Broadcasts a reduced gradient back over the axes that the reduction removed. */
function spread(g: Graph, x: Value, dy: Value, axes: readonly number[]): Value {
  const rank = x.shape.length;
  const reduced = new Set(axes.map((a) => (a < 0 ? a + rank : a)));
  const kept = x.shape.map((d, i) => (reduced.has(i) ? 1 : d));
  return E.expand(g, E.reshape(g, dy, kept), x.shape);
}
