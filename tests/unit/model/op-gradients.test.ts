/**
 * Every gradient rule against central finite differences, on small random shapes, on onnxruntime-node and
 * on onnxruntime-web (wasm) in Node.
 */
import { F, type Graph, OPS } from '@demuon/shared/model';
import type { Rng } from '@demuon/shared/util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { checkGradients, type Feed, type OpSetup, randomData } from '../../helpers/gradcheck';
import { RUNTIMES } from '../../helpers/runtimes';

const TOLERANCE = 1e-2;

function floatInput(g: Graph, rng: Rng, name: string, shape: number[], scale = 1, offset = 0): Feed {
  const n = shape.reduce((a, b) => a * b, 1);
  return { value: g.input(name, shape), data: randomData(rng, n, scale, offset) };
}

function intInput(g: Graph, rng: Rng, name: string, shape: number[], bound: number): Feed {
  const n = shape.reduce((a, b) => a * b, 1);
  return { value: g.input(name, shape, 'int32'), data: Int32Array.from({ length: n }, () => rng.int(bound)) };
}

/** An op applied to float inputs of the given shapes. */
function elementwise(
  op: (g: Graph, ...xs: Feed['value'][]) => Feed['value'],
  ...shapes: number[][]
): OpSetup {
  return (g, rng) => {
    const feeds = shapes.map((s, i) => floatInput(g, rng, `x${i}`, s));
    return { out: op(g, ...feeds.map((f) => f.value)), feeds };
  };
}

const CASES: Record<string, OpSetup> = {
  'Add (broadcast over leading and inner axes)': elementwise(F.add, [2, 3, 4], [3, 1]),
  'Add (bias over leading axes)': elementwise(F.add, [2, 3, 4], [4]),
  'Sub (broadcast)': elementwise(F.sub, [2, 1, 4], [3, 4]),
  'Mul (broadcast)': elementwise(F.mul, [2, 3, 4], [1, 3, 1]),
  'Div (broadcast, denominator away from 0)': (g, rng) => {
    const a = floatInput(g, rng, 'a', [2, 3, 4]);
    const b = floatInput(g, rng, 'b', [3, 1], 0.3, 2);
    return { out: F.div(g, a.value, b.value), feeds: [a, b] };
  },
  'MatMul (activations × weight)': elementwise(F.matmul, [2, 3, 4], [4, 5]),
  'MatMul (2-D)': elementwise(F.matmul, [3, 4], [4, 2]),
  'MatMul (batched, as in attention)': elementwise(F.matmul, [2, 2, 3, 4], [2, 2, 4, 3]),
  'MatMul (broadcast batch)': elementwise(F.matmul, [2, 3, 4], [1, 4, 5]),
  'Gather (embedding, repeated ids)': (g, rng) => {
    const table = floatInput(g, rng, 'table', [7, 3]);
    const ids = intInput(g, rng, 'ids', [2, 5], 7);
    return { out: F.embedding(g, table.value, ids.value), feeds: [table, ids] };
  },
  Transpose: elementwise((g, x) => F.transpose(g, x, [2, 0, 1]), [2, 3, 4]),
  Reshape: elementwise((g, x) => F.reshape(g, x, [6, 4]), [2, 3, 4]),
  'ReduceSum (keepdims)': elementwise((g, x) => F.reduceSum(g, x, [1], true), [2, 3, 4]),
  'ReduceSum (drop axes)': elementwise((g, x) => F.reduceSum(g, x, [0, 2], false), [2, 3, 4]),
  'ReduceMean (keepdims)': elementwise((g, x) => F.reduceMean(g, x, [-1], true), [2, 3, 4]),
  'ReduceMean (drop axes)': elementwise((g, x) => F.reduceMean(g, x, [0, 2], false), [2, 3, 4]),
  Softmax: elementwise(F.softmax, [2, 3, 5]),
  'Where (causal mask)': (g, rng) => {
    const x = floatInput(g, rng, 'scores', [2, 4, 4]);
    const mask = g.constant(
      Array.from({ length: 16 }, (_, i) => (i % 4 <= Math.floor(i / 4) ? 1 : 0)),
      [4, 4],
      'bool',
    );
    return { out: F.softmax(g, F.where(g, mask, x.value, g.scalar(-1e9))), feeds: [x] };
  },
  'Where (both branches)': (g, rng) => {
    const a = floatInput(g, rng, 'a', [3, 4]);
    const b = floatInput(g, rng, 'b', [4]);
    const cond = g.constant(
      Array.from({ length: 12 }, (_, i) => i % 3),
      [3, 4],
      'bool',
    );
    return { out: F.where(g, cond, a.value, b.value), feeds: [a, b] };
  },
  LayerNorm: (g, rng) => {
    const x = floatInput(g, rng, 'x', [2, 3, 8], 2, 0.5);
    const gain = floatInput(g, rng, 'gain', [8], 0.5, 1);
    const bias = floatInput(g, rng, 'bias', [8], 0.5);
    return { out: F.layerNorm(g, x.value, gain.value, bias.value), feeds: [x, gain, bias] };
  },
  Gelu: elementwise(F.gelu, [4, 6]),
  CrossEntropy: (g, rng) => {
    const logits = floatInput(g, rng, 'logits', [2, 3, 7], 2);
    const targets = intInput(g, rng, 'targets', [2, 3], 7);
    return { out: F.crossEntropy(g, logits.value, targets.value), feeds: [logits, targets] };
  },
  'Linear + GELU + residual (composition, reused value)': (g, rng) => {
    const x = floatInput(g, rng, 'x', [2, 3, 4]);
    const w = floatInput(g, rng, 'w', [4, 4]);
    const b = floatInput(g, rng, 'b', [4]);
    return { out: F.add(g, x.value, F.gelu(g, F.linear(g, x.value, w.value, b.value))), feeds: [x, w, b] };
  },
};

describe.each(RUNTIMES)('gradient rules on $name', ({ ort }) => {
  it.each(Object.entries(CASES))('%s matches finite differences', async (_name, setup) => {
    const checks = await checkGradients(ort, setup);
    expect(checks.length).toBeGreaterThan(0);
    for (const c of checks) {
      expect(c.error, `${c.input}: analytic ${c.analytic} vs numeric ${c.numeric}`).toBeLessThan(TOLERANCE);
    }
  });
});

describe('the gradient check itself', () => {
  afterEach(() => vi.restoreAllMocks());

  it('flags a wrong rule', async () => {
    // GELU's rule replaced by the identity's: the check must notice.
    vi.spyOn(OPS.Gelu, 'backward').mockImplementation((_g, _e, dy) => [dy]);
    const checks = await checkGradients(RUNTIMES[0].ort, CASES.Gelu);
    expect(Math.max(...checks.map((c) => c.error))).toBeGreaterThan(0.1);
  });
});
