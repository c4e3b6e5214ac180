/**
 * Gossip that a bad neighbour cannot drag away: ClippedGossip (He, Karimireddy and Jaggi, "Byzantine-robust
 * decentralized learning via ClippedGossip", 2022). Node i moves towards each neighbour j by
 * w_ij·clip(z_j − z_i, τ_i) instead of w_ij·(z_j − z_i), where clip scales a difference longer than τ_i
 * down to length τ_i. The radius is the paper's adaptive rule: the distance of the farthest neighbour once
 * the `suspects` farthest ones are set aside, i.e. this round's disagreement among the neighbours that
 * cannot all be bad. Clipping only moves weight from neighbours to the node itself, so a round stays a
 * weighted sum that the backend's `combine` computes as before, bit for bit the same on every transport.
 */
import { z } from 'zod';

export const RobustMixingSchema = z
  .object({
    /**
     * Neighbours per round that may be bad: the radius comes from the others. With two neighbours (a ring)
     * one suspect means clipping at the nearer one's distance.
     */
    suspects: z.number().int().min(1).max(16).default(1),
    /**
     * A neighbour farther than this many radii is not disagreeing, it is broken or lying: it is left out
     * (its weight stays with the node) of that round and of every round until the end of the next step.
     * Clipping alone still lets it pull every round, and a tracker (gradient tracking) keeps every pull
     * for good.
     */
    dropBeyond: z.number().min(1).default(10),
  })
  .strict();
export type RobustMixing = z.infer<typeof RobustMixingSchema>;

/** ‖a − b‖₂, summed in float64 in index order (every node gets the same bits). */
export function distance(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/**
 * The clip radius among `distances` (those of the neighbours heard from this round): the farthest once the
 * `suspects` farthest are set aside. Undefined with a single neighbour: there is nobody to compare it with.
 */
export function clipRadius(distances: readonly number[], suspects: number): number | undefined {
  const setAside = Math.min(suspects, distances.length - 1);
  if (setAside <= 0) return undefined;
  return [...distances].sort((a, b) => a - b)[distances.length - 1 - setAside];
}

/** The factor each neighbour's difference is scaled by: 1 within the radius, τ/d beyond it. */
export function clipScales(distances: readonly number[], suspects: number): number[] {
  const radius = clipRadius(distances, suspects);
  return distances.map((d) => (radius === undefined || d <= radius ? 1 : radius / d));
}

/**
 * One node's robust mixing across rounds: each tensor clipped by `clipScales`, and liars left out. A
 * neighbour whose whole message (all tensors) lies beyond `dropBeyond` radii is left out of that round and
 * of every round up to the end of the next step, so that a liar caught in one round (its parameters)
 * cannot pull in the next one (its tracker, whose lie is harder to see). A neighbour is also left out of
 * the whole step it is first heard in, so that a liar is caught before its first tracker round counts:
 * both ends of an honest link start together (the run's first step, the epoch that links them), so that
 * step is skipped on both sides and the mixing stays symmetric, which gradient tracking needs to stay exact.
 * Deterministic: every transport computes the same factors.
 */
export class NeighbourClipper {
  /** The step each neighbour was first heard in, and the step it was last caught lying. */
  private readonly firstHeard = new Map<number, number>();
  private readonly caught = new Map<number, number>();
  /** Neighbour contributions (one per tensor) scaled down by clipping, so far. */
  clipped = 0;
  /** Rounds a neighbour was left out of for lying (caught, or not trusted again yet), so far. */
  leftOut = 0;

  constructor(private readonly options: RobustMixing) {}

  /** factors[h][k]: the factor of neighbour `from[h]`'s tensor k, given its distances[h][k] from ours. */
  factors(step: number, from: readonly number[], distances: readonly (readonly number[])[]): number[][] {
    const { suspects, dropBeyond } = this.options;
    const tensors = distances[0]?.length ?? 0;
    const factors = from.map(() => new Array<number>(tensors).fill(1));
    for (let k = 0; k < tensors; k++) {
      const scales = clipScales(
        distances.map((d) => d[k]),
        suspects,
      );
      for (const [h, s] of scales.entries()) factors[h][k] = s;
    }
    // Whole messages: a single tensor can be exactly equal to ours (embedding rows nobody trained yet),
    // which makes its radius 0; a whole message of an honest neighbour hardly ever is.
    const whole = distances.map((d) => Math.sqrt(d.reduce((sum, x) => sum + x * x, 0)));
    const radius = clipRadius(whole, suspects);
    for (const [h, neighbour] of from.entries()) {
      if (radius !== undefined && radius > 0 && whole[h] > dropBeyond * radius)
        this.caught.set(neighbour, step);
      if (!this.firstHeard.has(neighbour)) this.firstHeard.set(neighbour, step);
      const lastCaught = this.caught.get(neighbour) ?? Number.NEGATIVE_INFINITY;
      if (lastCaught >= step - 1) this.leftOut++;
      if (this.firstHeard.get(neighbour) === step || lastCaught >= step - 1) factors[h].fill(0);
      else for (const f of factors[h]) if (f < 1) this.clipped++;
    }
    return factors;
  }
}
