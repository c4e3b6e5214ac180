/**
 * Finite-difference gradient checks through a real onnxruntime session: the graph's analytic gradient
 * along a random direction u is compared with the central difference (L(x + h·u) − L(x − h·u)) / 2h.
 */
import { backward, F, Graph, toOnnxBytes, type Value } from '@demuon/shared/model';
import { Rng } from '@demuon/shared/util';
import type { Tensor } from 'onnxruntime-common';
import type { OrtModule } from '../../client/src/engine/ort-engine';

export interface Feed {
  readonly value: Value;
  readonly data: Float32Array | Int32Array;
}

export interface DirectionCheck {
  readonly input: string;
  readonly analytic: number;
  readonly numeric: number;
  readonly error: number;
}

/** `setup` builds the op under test on g from its inputs; the check reduces its output to a scalar. */
export type OpSetup = (g: Graph, rng: Rng) => { out: Value; feeds: Feed[] };

export function randomData(rng: Rng, n: number, scale = 1, offset = 0): Float32Array {
  return Float32Array.from({ length: n }, () => offset + scale * rng.normal());
}

export async function checkGradients(
  ort: OrtModule,
  setup: OpSetup,
  { seed = 1, h = 1e-2, directions = 2 } = {},
): Promise<DirectionCheck[]> {
  const rng = new Rng(seed);
  const g = new Graph();
  const { out, feeds } = setup(g, rng);
  // L = Σ out ⊙ R with a fixed random R, so every output element's gradient matters.
  const weights = g.constant(
    randomData(
      rng,
      out.shape.reduce((a, b) => a * b, 1),
    ),
    out.shape,
  );
  const weighted = F.mul(g, out, weights);
  const loss =
    out.shape.length === 0
      ? weighted
      : F.reduceSum(
          g,
          weighted,
          out.shape.map((_, i) => i),
          false,
        );
  const wrt = feeds.filter((f) => f.value.dtype === 'float32');
  const grads = backward(
    g,
    loss,
    wrt.map((f) => f.value),
  );
  g.output(loss, 'L');
  for (const [i, d] of grads.entries()) g.output(d, `d_${wrt[i].value.name}`);
  const session = await ort.InferenceSession.create(toOnnxBytes(g));

  const run = async (override?: { name: string; data: Float32Array }) => {
    const inputs: Record<string, Tensor> = {};
    for (const f of feeds) {
      const data = override && f.value.name === override.name ? override.data : f.data;
      const type = f.value.dtype === 'int32' ? 'int32' : 'float32';
      inputs[f.value.name] = new ort.Tensor(type, data as Float32Array, f.value.shape);
    }
    return session.run(inputs);
  };

  const base = await run();
  const checks: DirectionCheck[] = [];
  for (const f of wrt) {
    const grad = base[`d_${f.value.name}`].data as Float32Array;
    for (let d = 0; d < directions; d++) {
      const u = randomData(rng, f.data.length);
      const x = f.data as Float32Array;
      const plus = x.map((v, i) => v + h * u[i]);
      const minus = x.map((v, i) => v - h * u[i]);
      const lp = (await run({ name: f.value.name, data: plus })).L.data[0] as number;
      const lm = (await run({ name: f.value.name, data: minus })).L.data[0] as number;
      const numeric = (lp - lm) / (2 * h);
      let analytic = 0;
      for (let i = 0; i < u.length; i++) analytic += grad[i] * u[i];
      const error = Math.abs(numeric - analytic) / Math.max(1e-2, Math.abs(analytic));
      checks.push({ input: f.value.name, analytic, numeric, error });
    }
  }
  await session.release();
  return checks;
}
