/**
 * Newton–Schulz (ALGORITHMS.md) as an ONNX graph over a batch of same-shape matrices: the iteration of
 * `newtonSchulz` in tensor/cpu.ts written with MatMul, Transpose, Mul, Add, ReduceSum, Sqrt and Div only,
 * ops every onnxruntime flavour runs whole. Used where matrix products beat the CPU reference loops
 * (onnxruntime-node's BLAS on devices) and as the baseline the WGSL kernels are measured against
 * (onnxruntime-web's WebGPU EP).
 */
import { emit as E, Graph, toOnnxBytes, type Value } from '../model';
import { type NewtonSchulzOptions, NS_SCHEDULES, newtonSchulzTriples } from '../tensor';

export interface NewtonSchulzGraphSpec extends NewtonSchulzOptions {
  readonly rows: number;
  readonly cols: number;
  /** Same-shape matrices processed together: the input is [batch, rows, cols]. */
  readonly batch: number;
}

export const NS_INPUT = 'G';
export const NS_OUTPUT = 'X';

export interface NewtonSchulzGraph {
  readonly bytes: Uint8Array;
  /** Input [batch, rows, cols], float32. */
  readonly input: typeof NS_INPUT;
  /** Output of the input's shape: msgn of each matrix. */
  readonly output: typeof NS_OUTPUT;
}

export function buildNewtonSchulzGraph(spec: NewtonSchulzGraphSpec): NewtonSchulzGraph {
  const { rows, cols, batch } = spec;
  for (const [name, n] of Object.entries({ rows, cols, batch })) {
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(`Newton–Schulz graph: ${name} must be a positive integer, got ${n}`);
    }
  }
  const triples = newtonSchulzTriples(spec);
  const { s, eps } = NS_SCHEDULES[spec.schedule];
  const g = new Graph();
  const input = g.input(NS_INPUT, [batch, rows, cols]);
  const swap = (v: Value) => E.transpose(g, v, [0, 2, 1]);
  // Work on the side whose Gram matrix is the smaller one.
  const tall = rows > cols;
  let x = tall ? swap(input) : input;
  const norm = E.sqrt(g, E.reduceSum(g, E.mul(g, x, x), [1, 2], true));
  x = E.div(g, x, E.add(g, E.scale(g, norm, s), g.scalar(eps)));
  for (const [a, b, c] of triples) {
    const gram = E.matmul(g, x, swap(x));
    const poly = E.add(g, E.scale(g, gram, b), E.scale(g, E.matmul(g, gram, gram), c));
    x = E.add(g, E.scale(g, x, a), E.matmul(g, poly, x));
  }
  g.output(tall ? swap(x) : x, NS_OUTPUT);
  return { bytes: toOnnxBytes(g, 'newton_schulz'), input: NS_INPUT, output: NS_OUTPUT };
}
