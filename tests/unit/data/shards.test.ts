import { describe, expect, it } from 'vitest';
import {
  describeShardPlan,
  parseShardScheme,
  planShards,
  type ShardPlan,
  type TokenizedDocument,
} from '../../../shared/data';
import { Rng } from '../../../shared/util';

/** Five genres of different sizes; document lengths vary between 200 and 600 tokens. */
function corpus(): TokenizedDocument[] {
  const rng = new Rng(11);
  const sizes: Record<string, number> = { news: 30, fiction: 24, learned: 20, humor: 10, poetry: 8 };
  return Object.entries(sizes).flatMap(([genre, count]) =>
    Array.from({ length: count }, (_, i) => ({
      id: `${genre}-${i}`,
      genre,
      tokens: new Uint16Array(200 + rng.int(400)),
    })),
  );
}
const docs = corpus();
const genres = [...new Set(docs.map((doc) => doc.genre))];

function expectPartition(plan: ShardPlan, input: TokenizedDocument[] = docs): void {
  const ids = plan.nodes.flatMap((shard) => shard.documents.map((doc) => doc.id));
  expect(new Set(ids).size).toBe(ids.length); // disjoint
  expect([...ids].sort()).toEqual(input.map((doc) => doc.id).sort()); // covering
  for (const shard of plan.nodes) {
    expect(shard.documents.length).toBeGreaterThan(0);
    expect(shard.tokenCount).toBe(shard.documents.reduce((sum, doc) => sum + doc.tokens.length, 0));
    expect(Object.values(shard.tokensByGenre).reduce((a, b) => a + b, 0)).toBe(shard.tokenCount);
  }
}

/** Fraction of a node's tokens in each genre, over all genres. */
const mixture = (plan: ShardPlan, node: number) =>
  genres.map((genre) => (plan.nodes[node].tokensByGenre[genre] ?? 0) / plan.nodes[node].tokenCount);
const totalVariation = (p: number[], q: number[]) => p.reduce((sum, x, i) => sum + Math.abs(x - q[i]), 0) / 2;
function largestMixtureGap(plan: ShardPlan): number {
  let gap = 0;
  for (let a = 0; a < plan.nodes.length; a++) {
    for (let b = a + 1; b < plan.nodes.length; b++)
      gap = Math.max(gap, totalVariation(mixture(plan, a), mixture(plan, b)));
  }
  return gap;
}
const docIds = (plan: ShardPlan) => plan.nodes.map((shard) => shard.documents.map((doc) => doc.id));

describe('parseShardScheme', () => {
  it('parses the three schemes', () => {
    expect(parseShardScheme('iid')).toEqual({ kind: 'iid' });
    expect(parseShardScheme(' genre ')).toEqual({ kind: 'genre' });
    expect(parseShardScheme('dirichlet:0.3')).toEqual({ kind: 'dirichlet', alpha: 0.3 });
    expect(parseShardScheme('dirichlet:1e3')).toEqual({ kind: 'dirichlet', alpha: 1000 });
  });

  it('rejects unknown schemes and non-positive or missing alphas', () => {
    expect(() => parseShardScheme('random')).toThrow(/unknown shard scheme "random".*iid.*genre.*dirichlet/);
    expect(() => parseShardScheme('dirichlet')).toThrow(/unknown shard scheme/);
    for (const bad of ['dirichlet:0', 'dirichlet:-1', 'dirichlet:', 'dirichlet:abc', 'dirichlet:Infinity']) {
      expect(() => parseShardScheme(bad)).toThrow(/alpha must be a positive number/);
    }
  });
});

describe('planShards', () => {
  it('partitions the documents for every scheme and node count', () => {
    for (const scheme of ['iid', 'genre', 'dirichlet:0.1', 'dirichlet:1', 'dirichlet:100']) {
      for (const nodes of [1, 2, 3, 5, 8, 13, 40])
        expectPartition(planShards(docs, scheme, { nodes, seed: 4 }));
    }
  });

  it('is fixed by the seed and independent of the input order', () => {
    for (const scheme of ['iid', 'genre', 'dirichlet:0.3']) {
      const plan = planShards(docs, scheme, { nodes: 8, seed: 2 });
      expect(docIds(planShards(docs, scheme, { nodes: 8, seed: 2 }))).toEqual(docIds(plan));
      expect(docIds(planShards([...docs].reverse(), scheme, { nodes: 8, seed: 2 }))).toEqual(docIds(plan));
    }
    const iid = (seed: number) => docIds(planShards(docs, 'iid', { nodes: 4, seed }));
    expect(iid(1)).not.toEqual(iid(2));
  });

  it('iid: every node gets every genre, in similar mixtures and token counts', () => {
    const plan = planShards(docs, 'iid', { nodes: 4, seed: 0 });
    for (const shard of plan.nodes)
      expect(Object.keys(shard.tokensByGenre).sort()).toEqual([...genres].sort());
    expect(largestMixtureGap(plan)).toBeLessThan(0.12);
    const counts = plan.nodes.map((shard) => shard.tokenCount);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(2 * 600);
  });

  it('genre: with no more nodes than genres each genre lives on exactly one node', () => {
    for (const nodes of [2, 3, 5]) {
      const plan = planShards(docs, 'genre', { nodes, seed: 0 });
      for (const genre of genres) {
        expect(plan.nodes.filter((shard) => genre in shard.tokensByGenre)).toHaveLength(1);
        const holder = plan.nodes.find((shard) => genre in shard.tokensByGenre)!;
        expect(holder.tokensByGenre[genre]).toBe(
          docs.filter((doc) => doc.genre === genre).reduce((sum, doc) => sum + doc.tokens.length, 0),
        );
      }
    }
  });

  it('genre: with more nodes than genres each node holds a single genre, split by size', () => {
    const plan = planShards(docs, 'genre', { nodes: 12, seed: 0 });
    for (const shard of plan.nodes) expect(Object.keys(shard.tokensByGenre)).toHaveLength(1);
    const nodesOf = (genre: string) => plan.nodes.filter((shard) => genre in shard.tokensByGenre).length;
    expect(genres.reduce((sum, genre) => sum + nodesOf(genre), 0)).toBe(12);
    expect(nodesOf('news')).toBeGreaterThan(nodesOf('poetry'));
  });

  it('genre: honours explicit genresPerNode and reports unused genres', () => {
    const genresPerNode = [['news', 'humor'], ['fiction'], ['fiction']];
    const plan = planShards(docs, { kind: 'genre', genresPerNode }, { nodes: 3, seed: 0 });
    expect(Object.keys(plan.nodes[0].tokensByGenre).sort()).toEqual(['humor', 'news']);
    expect(Object.keys(plan.nodes[1].tokensByGenre)).toEqual(['fiction']);
    expect(Object.keys(plan.nodes[2].tokensByGenre)).toEqual(['fiction']);
    expect(plan.unusedGenres).toEqual(['learned', 'poetry']);
    expect(describeShardPlan(plan).at(-1)).toBe('unused genres: learned, poetry');
  });

  it('genre: rejects an unknown genre, naming it and listing the known ones', () => {
    const plan = () =>
      planShards(docs, { kind: 'genre', genresPerNode: [['news'], ['sports']] }, { nodes: 2, seed: 0 });
    expect(plan).toThrow(
      /genresPerNode\[1\] names unknown genre "sports"; known genres: fiction, humor, learned, news, poetry/,
    );
    expect(() =>
      planShards(docs, { kind: 'genre', genresPerNode: [['news']] }, { nodes: 2, seed: 0 }),
    ).toThrow(/lists 1 nodes, but there are 2/);
    expect(() =>
      planShards(docs, { kind: 'genre', genresPerNode: [['news'], []] }, { nodes: 2, seed: 0 }),
    ).toThrow(/genresPerNode\[1\] is empty/);
  });

  it('dirichlet: small alpha gives very different mixtures, large alpha nearly iid ones', () => {
    const skewed = planShards(docs, 'dirichlet:0.1', { nodes: 4, seed: 0 });
    const mixed = planShards(docs, 'dirichlet:1000', { nodes: 4, seed: 0 });
    expect(largestMixtureGap(skewed)).toBeGreaterThan(0.6);
    expect(largestMixtureGap(mixed)).toBeLessThan(0.25);
    // Each node is dominated by the genres its draw favoured.
    for (let node = 0; node < 4; node++) expect(Math.max(...mixture(skewed, node))).toBeGreaterThan(0.4);
  });

  it('rejects bad node counts and too few documents', () => {
    expect(() => planShards(docs, 'iid', { nodes: 0, seed: 0 })).toThrow(/positive integer, got 0/);
    expect(() => planShards(docs, 'iid', { nodes: 2.5, seed: 0 })).toThrow(/positive integer, got 2.5/);
    expect(() => planShards(docs.slice(0, 3), 'iid', { nodes: 4, seed: 0 })).toThrow(
      /4 nodes.*only 3 documents/,
    );
    expect(() => planShards(docs, 'dirichlet:0', { nodes: 2, seed: 0 })).toThrow(/alpha/);
    expect(() => planShards([...docs, docs[0]], 'iid', { nodes: 2, seed: 0 })).toThrow(/appears twice/);
  });

  it('describes a plan in one line per node', () => {
    const lines = describeShardPlan(planShards(docs, 'genre', { nodes: 2, seed: 0 }));
    expect(lines[0]).toBe('shards (genre):');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^node 0: \d+ docs, \d+ tokens \(\w+ \d+%/);
  });
});
