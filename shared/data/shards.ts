import { Rng } from '../util/random';
import { dirichletTargets } from './dirichlet-targets';

export type TokenizedDocument = { id: string; genre: string; tokens: Uint16Array | Int32Array };

/**
 * How training documents are dealt to nodes. `iid`: every node sees every genre in the corpus's
 * proportions. `genre`: each node holds whole genres (the most heterogeneous split). `dirichlet`: each
 * node's genre mixture is drawn from Dirichlet(alpha); small alpha → near single-genre nodes, large
 * alpha → close to iid.
 */
export type ShardScheme =
  | { kind: 'iid' }
  | { kind: 'genre'; genresPerNode?: string[][] }
  | { kind: 'dirichlet'; alpha: number };

export type ShardOptions = { nodes: number; seed: number };

export type NodeShard = {
  node: number;
  documents: TokenizedDocument[];
  tokenCount: number;
  /** Tokens per genre, genres in alphabetical order; only genres the node holds. */
  tokensByGenre: Record<string, number>;
};

export type ShardPlan = {
  scheme: string;
  nodes: NodeShard[];
  /** Genres of the input that no node holds (only with an explicit `genresPerNode`). */
  unusedGenres: string[];
};

/** Parses `iid`, `genre` or `dirichlet:<alpha>` (alpha > 0), as given on a command line or in a config. */
export function parseShardScheme(text: string): ShardScheme {
  const trimmed = text.trim();
  if (trimmed === 'iid') return { kind: 'iid' };
  if (trimmed === 'genre') return { kind: 'genre' };
  const match = /^dirichlet:(.*)$/.exec(trimmed);
  if (match) {
    const alpha = Number(match[1]);
    if (match[1].trim() === '' || !Number.isFinite(alpha) || alpha <= 0) {
      throw new Error(
        `shard scheme "${text}": the Dirichlet alpha must be a positive number, as in dirichlet:0.3`,
      );
    }
    return { kind: 'dirichlet', alpha };
  }
  throw new Error(
    `unknown shard scheme "${text}": expected "iid", "genre" or "dirichlet:<alpha>" (e.g. dirichlet:0.3)`,
  );
}

export function formatShardScheme(scheme: ShardScheme): string {
  return scheme.kind === 'dirichlet' ? `dirichlet:${scheme.alpha}` : scheme.kind;
}

/** Deals whole documents to `nodes` nodes; every node gets at least one document, and no two share one. */
export function planShards(
  docs: readonly TokenizedDocument[],
  scheme: ShardScheme | string,
  { nodes, seed }: ShardOptions,
): ShardPlan {
  const parsed = typeof scheme === 'string' ? parseShardScheme(scheme) : scheme;
  if (!Number.isInteger(nodes) || nodes < 1)
    throw new Error(`number of nodes must be a positive integer, got ${nodes}`);
  if (docs.length < nodes) {
    throw new Error(`cannot give each of ${nodes} nodes a document: only ${docs.length} documents`);
  }
  const byGenre = groupByGenre(docs);
  const rng = new Rng(seed);
  let assignment: TokenizedDocument[][];
  let unusedGenres: string[] = [];
  if (parsed.kind === 'iid') {
    assignment = planIid(byGenre, nodes, rng);
  } else if (parsed.kind === 'genre') {
    if (parsed.genresPerNode) {
      assignment = planExplicitGenres(byGenre, parsed.genresPerNode, nodes, rng);
      const used = new Set(parsed.genresPerNode.flat());
      unusedGenres = [...byGenre.keys()].filter((genre) => !used.has(genre));
    } else {
      assignment = planGenres(byGenre, nodes, rng);
    }
  } else {
    assignment = planDirichlet(byGenre, nodes, parsed.alpha, rng);
  }
  return { scheme: formatShardScheme(parsed), nodes: assignment.map(summarise), unusedGenres };
}

/** One line per node for logs: documents, tokens and the genre mixture in percent. */
export function describeShardPlan(plan: ShardPlan): string[] {
  const lines = plan.nodes.map((shard) => {
    const mixture = Object.entries(shard.tokensByGenre)
      .sort((a, b) => b[1] - a[1])
      .map(([genre, tokens]) => `${genre} ${((100 * tokens) / shard.tokenCount).toFixed(0)}%`)
      .join(', ');
    return `node ${shard.node}: ${shard.documents.length} docs, ${shard.tokenCount} tokens (${mixture})`;
  });
  if (plan.unusedGenres.length > 0) lines.push(`unused genres: ${plan.unusedGenres.join(', ')}`);
  return [`shards (${plan.scheme}):`, ...lines];
}

/** Genre → its documents sorted by id, genres in alphabetical order, so input order never matters. */
function groupByGenre(docs: readonly TokenizedDocument[]): Map<string, TokenizedDocument[]> {
  const ids = new Set<string>();
  const groups = new Map<string, TokenizedDocument[]>();
  for (const doc of docs) {
    if (ids.has(doc.id)) throw new Error(`document id "${doc.id}" appears twice; ids must be unique`);
    ids.add(doc.id);
    const group = groups.get(doc.genre) ?? [];
    group.push(doc);
    groups.set(doc.genre, group);
  }
  const sorted = new Map<string, TokenizedDocument[]>();
  for (const genre of [...groups.keys()].sort()) {
    sorted.set(
      genre,
      groups.get(genre)!.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
  }
  return sorted;
}

const tokensOf = (docs: readonly TokenizedDocument[]) =>
  docs.reduce((sum, doc) => sum + doc.tokens.length, 0);

/**
 * Each genre's documents, in a seeded order, go one by one to the node holding the fewest tokens of that
 * genre (then the fewest tokens overall), so every node gets each genre in about the corpus's proportion.
 */
function planIid(byGenre: Map<string, TokenizedDocument[]>, nodes: number, rng: Rng): TokenizedDocument[][] {
  const shards: TokenizedDocument[][] = Array.from({ length: nodes }, () => []);
  const load = new Array<number>(nodes).fill(0);
  for (const genreDocs of byGenre.values()) {
    const genreLoad = new Array<number>(nodes).fill(0);
    for (const doc of rng.shuffle([...genreDocs])) {
      let best = 0;
      for (let n = 1; n < nodes; n++) {
        if (genreLoad[n] < genreLoad[best] || (genreLoad[n] === genreLoad[best] && load[n] < load[best]))
          best = n;
      }
      shards[best].push(doc);
      genreLoad[best] += doc.tokens.length;
      load[best] += doc.tokens.length;
    }
  }
  return shards;
}

/** Deals `docs` (in a seeded order) among the nodes `targets`, each to the one holding the fewest tokens. */
function dealBalanced(
  docs: readonly TokenizedDocument[],
  targets: readonly number[],
  shards: TokenizedDocument[][],
  rng: Rng,
): void {
  const load = targets.map((n) => tokensOf(shards[n]));
  for (const doc of rng.shuffle([...docs])) {
    const lightest = load.indexOf(Math.min(...load));
    shards[targets[lightest]].push(doc);
    load[lightest] += doc.tokens.length;
  }
}

/**
 * With no more nodes than genres, whole genres go, largest first, to the node with the fewest tokens.
 * With more nodes, each genre gets a number of nodes roughly proportional to its size (at least one, at
 * most one per document) and its documents are dealt among them.
 */
function planGenres(
  byGenre: Map<string, TokenizedDocument[]>,
  nodes: number,
  rng: Rng,
): TokenizedDocument[][] {
  const shards: TokenizedDocument[][] = Array.from({ length: nodes }, () => []);
  const genres = [...byGenre.keys()];
  const size = new Map(genres.map((genre) => [genre, tokensOf(byGenre.get(genre)!)]));
  if (nodes <= genres.length) {
    const load = new Array<number>(nodes).fill(0);
    const largestFirst = [...genres].sort((a, b) => size.get(b)! - size.get(a)! || (a < b ? -1 : 1));
    for (const genre of largestFirst) {
      const lightest = load.indexOf(Math.min(...load));
      shards[lightest].push(...byGenre.get(genre)!);
      load[lightest] += size.get(genre)!;
    }
    return shards;
  }
  const nodeCount = new Map(genres.map((genre) => [genre, 1]));
  for (let extra = nodes - genres.length; extra > 0; extra--) {
    let best: string | null = null;
    for (const genre of genres) {
      if (nodeCount.get(genre)! >= byGenre.get(genre)!.length) continue;
      const share = size.get(genre)! / nodeCount.get(genre)!;
      if (best === null || share > size.get(best)! / nodeCount.get(best)!) best = genre;
    }
    if (best === null) throw new Error(`cannot split ${genres.length} genres over ${nodes} nodes`);
    nodeCount.set(best, nodeCount.get(best)! + 1);
  }
  let next = 0;
  for (const genre of genres) {
    const targets = Array.from({ length: nodeCount.get(genre)! }, (_, i) => next + i);
    next += targets.length;
    dealBalanced(byGenre.get(genre)!, targets, shards, rng);
  }
  return shards;
}

/** Node i holds the genres `genresPerNode[i]`; a genre named on several nodes is dealt among them. */
function planExplicitGenres(
  byGenre: Map<string, TokenizedDocument[]>,
  genresPerNode: string[][],
  nodes: number,
  rng: Rng,
): TokenizedDocument[][] {
  if (genresPerNode.length !== nodes) {
    throw new Error(`genresPerNode lists ${genresPerNode.length} nodes, but there are ${nodes} nodes`);
  }
  const known = [...byGenre.keys()];
  const holders = new Map<string, number[]>();
  genresPerNode.forEach((genres, node) => {
    if (genres.length === 0) throw new Error(`genresPerNode[${node}] is empty: every node needs a genre`);
    for (const genre of genres) {
      if (!byGenre.has(genre)) {
        throw new Error(
          `genresPerNode[${node}] names unknown genre "${genre}"; known genres: ${known.join(', ')}`,
        );
      }
      const list = holders.get(genre) ?? [];
      if (!list.includes(node)) list.push(node);
      holders.set(genre, list);
    }
  });
  const shards: TokenizedDocument[][] = Array.from({ length: nodes }, () => []);
  for (const genre of known) {
    const targets = holders.get(genre);
    if (targets === undefined) continue;
    const genreDocs = byGenre.get(genre)!;
    if (targets.length > genreDocs.length) {
      throw new Error(
        `genre "${genre}" has ${genreDocs.length} documents but is named on ${targets.length} nodes`,
      );
    }
    dealBalanced(genreDocs, targets, shards, rng);
  }
  const empty = shards.findIndex((shard) => shard.length === 0);
  if (empty >= 0) {
    throw new Error(`node ${empty} gets no document: its genres' documents all went to other nodes`);
  }
  return shards;
}

/**
 * Each genre's documents, in a seeded order, are laid end to end and cut at the token boundaries given
 * by the nodes' targets; a document goes to the node whose stretch holds its midpoint. A node left
 * empty then takes, from the node with the most documents, one of the genre it wants most.
 */
function planDirichlet(
  byGenre: Map<string, TokenizedDocument[]>,
  nodes: number,
  alpha: number,
  rng: Rng,
): TokenizedDocument[][] {
  const genres = [...byGenre.keys()];
  const targets = dirichletTargets(
    genres.map((genre) => tokensOf(byGenre.get(genre)!)),
    nodes,
    alpha,
    rng,
  );
  const shards: TokenizedDocument[][] = Array.from({ length: nodes }, () => []);
  genres.forEach((genre, g) => {
    let boundary = 0;
    let node = 0;
    let position = 0;
    for (const doc of rng.shuffle([...byGenre.get(genre)!])) {
      const midpoint = position + doc.tokens.length / 2;
      while (node < nodes - 1 && midpoint >= boundary + targets[node][g]) boundary += targets[node++][g];
      shards[node].push(doc);
      position += doc.tokens.length;
    }
  });
  for (let n = 0; n < nodes; n++) {
    if (shards[n].length > 0) continue;
    const donor = shards.reduce((best, shard, i) => (shard.length > shards[best].length ? i : best), 0);
    const wanted = (doc: TokenizedDocument) => targets[n][genres.indexOf(doc.genre)];
    const pick = shards[donor].reduce(
      (best, doc, i) => (wanted(doc) > wanted(shards[donor][best]) ? i : best),
      0,
    );
    shards[n].push(...shards[donor].splice(pick, 1));
  }
  return shards;
}

function summarise(documents: TokenizedDocument[], node: number): NodeShard {
  const tokensByGenre: Record<string, number> = {};
  for (const doc of [...documents].sort((a, b) => (a.genre < b.genre ? -1 : a.genre > b.genre ? 1 : 0))) {
    tokensByGenre[doc.genre] = (tokensByGenre[doc.genre] ?? 0) + doc.tokens.length;
  }
  return { node, documents, tokenCount: tokensOf(documents), tokensByGenre };
}
