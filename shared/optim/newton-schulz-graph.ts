/**
 * Newton–Schulz as an ONNX graph of MatMul ops, for runtimes that run matrix products faster than the
 * CPU reference loops (onnxruntime-node's BLAS on devices; onnxruntime-web's WebGPU provider as the
 * baseline the WGSL kernels are measured against). Same iteration, same schedules as msgn.
 */
import { emit as E, Graph, toOnnxBytes } from '../model';
import { type NewtonSchulzOptions, NS_SCHEDULES, newtonSchulzTriples } from '../tensor';

export interface NewtonSchulzGraphSpec extends NewtonSchulzOptions {
  readonly rows: number;
  readonly cols: number;
  /** Same-shape matrices processed together: the input is [batch, rows, cols]. */
  readonly batch: number;
}

export const NS_INPUT = 'G';
export const NS_OUTPUT = 'X';

export function buildNewtonSchulzGraph(spec: NewtonSchulzGraphSpec): {
  bytes: Uint8Array;
  input: string;
  output: string;
} {
  const { rows, cols, batch } = spec;
  const { s, eps } = NS_SCHEDULES[spec.schedule];
  const g = new Graph();
  const input = g.input(NS_INPUT, [batch, rows, cols]);
  // Work on the side whose Gram matrix is the smaller one.
  const tall = rows > cols;
  let x = tall ? E.transpose(g, input, [0, 2, 1]) : input;
  const norm = E.sqrt(g, E.reduceSum(g, E.mul(g, x, x), [1, 2], true));
  x = E.div(g, x, E.add(g, E.scale(g, norm, s), g.scalar(eps)));
  for (const [a, b, c] of newtonSchulzTriples(spec)) {
    const gram = E.matmul(g, x, E.transpose(g, x, [0, 2, 1]));
    const poly = E.add(g, E.scale(g, gram, b), E.scale(g, E.matmul(g, gram, gram), c));
    x = E.add(g, E.scale(g, x, a), E.matmul(g, poly, x));
  }
  g.output(tall ? E.transpose(g, x, [0, 2, 1]) : x, NS_OUTPUT);
  return { bytes: toOnnxBytes(g, 'newton_schulz'), input: NS_INPUT, output: NS_OUTPUT };
}
