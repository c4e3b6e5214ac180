import type { Rng } from '../util/random';

/**
 * Token targets `[node][genre]` for a Dirichlet split: node n's row starts as its mixture
 * p_n ~ Dirichlet(alpha) over the genres and is then rescaled (Sinkhorn, i.e. iterative proportional
 * fitting) so that every node gets an equal share of the tokens and every genre's tokens are used
 * exactly once. The rescaling keeps the rows' relative preferences, so each node stays dominated by the
 * genres its draw favoured; without it a node could be asked for more of a genre than the corpus holds.
 */
export function dirichletTargets(
  genreTokens: readonly number[],
  nodes: number,
  alpha: number,
  rng: Rng,
): number[][] {
  const genres = genreTokens.length;
  const total = genreTokens.reduce((a, b) => a + b, 0);
  const rows = Array.from({ length: nodes }, () => {
    let mixture = rng.dirichlet(alpha, genres);
    // Tiny alphas can underflow every gamma draw to 0; such a node simply prefers one genre.
    if (!mixture.every(Number.isFinite)) mixture = oneHot(genres, rng.int(genres));
    // Strictly positive entries keep the rescaling well defined when no node favours some genre.
    return mixture.map((p) => Math.max(p, 1e-12));
  });
  const rowTarget = total / nodes;
  for (let iteration = 0; iteration < 2000; iteration++) {
    for (let g = 0; g < genres; g++) {
      const column = rows.reduce((sum, row) => sum + row[g], 0);
      if (column > 0) for (const row of rows) row[g] *= genreTokens[g] / column;
    }
    let worst = 0;
    for (const row of rows) {
      const sum = row.reduce((a, b) => a + b, 0);
      if (!(sum > 0 && rowTarget > 0)) continue;
      worst = Math.max(worst, Math.abs(sum - rowTarget) / rowTarget);
      for (let g = 0; g < genres; g++) row[g] *= rowTarget / sum;
    }
    if (worst < 1e-9) break;
  }
  return rows;
}

function oneHot(length: number, index: number): number[] {
  return Array.from({ length }, (_, i) => (i === index ? 1 : 0));
}
