/**
 * Reverse-mode autodiff over the graph's tape: walks the recorded ops backwards, calls each op's gradient
 * rule and sums the gradients of values used more than once. The backward pass becomes ordinary ONNX
 * nodes in the same graph, so loss and gradients come out of one inference run on any runtime.
 */

import * as E from './emit';
import type { Graph, Value } from './graph';
import { OPS } from './ops';
import { sameShape } from './shape';

/** Emits d(loss)/d(x) for each x in `wrt` (loss must be a scalar); returns them in the same order. */
export function backward(g: Graph, loss: Value, wrt: readonly Value[]): Value[] {
  if (loss.shape.length !== 0)
    throw new Error(`backward: the loss must be a scalar, got shape [${loss.shape}]`);
  const forwardTape = g.tape.slice();

  // Only values that depend on something in `wrt` carry gradients; everything else is skipped.
  const active = new Set(wrt.map((v) => v.name));
  for (const entry of forwardTape) {
    if (entry.inputs.some((v) => active.has(v.name))) for (const out of entry.outputs) active.add(out.name);
  }
  if (!active.has(loss.name))
    throw new Error('backward: the loss does not depend on any of the given values');

  const grads = new Map<string, Value>([[loss.name, g.scalar(1)]]);
  for (let i = forwardTape.length - 1; i >= 0; i--) {
    const entry = forwardTape[i];
    const dy = grads.get(entry.outputs[0].name);
    if (!dy) continue; // auxiliary outputs (statistics kept for the rules) never receive gradients
    const needs = entry.inputs.map((v) => active.has(v.name) && v.dtype === 'float32');
    if (!needs.some(Boolean)) continue;
    const dx = OPS[entry.op].backward(g, entry, dy, needs);
    entry.inputs.forEach((x, k) => {
      const d = dx[k];
      if (!needs[k] || !d) return;
      if (!sameShape(d.shape, x.shape)) {
        throw new Error(`backward: ${entry.op} produced a gradient of shape [${d.shape}] for [${x.shape}]`);
      }
      const previous = grads.get(x.name);
      grads.set(x.name, previous ? E.add(g, previous, d) : d);
    });
  }

  return wrt.map((x) => {
    const d = grads.get(x.name);
    if (!d) throw new Error(`backward: '${x.name}' does not influence the loss`);
    return d;
  });
}
