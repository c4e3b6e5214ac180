/**
 * Topology specs: a short string for command lines (`ring`, `torus:4x4`, `edges:0-1,1-2,2-0`) or an
 * object for JSON configs (`{ "kind": "torus", "rows": 4, "cols": 4 }`). Both parse to one TopologySpec.
 * What depends on the number of nodes (an edge to node 9 of 8, a 3×3 torus for 8 nodes) is checked by
 * makeTopology, which knows N.
 */
import { z } from 'zod';
import { type Edge, edgeListProblem } from './metropolis';

/** Every accepted string form, for help texts and error messages. */
export const TOPOLOGY_FORMS = [
  'complete',
  'ring',
  'exp',
  'exp-demuon',
  'one-peer-exp',
  'torus',
  'torus:RxC',
  'star',
  'random-regular:D',
  'erdos-renyi:P',
  'edges:A-B,C-D,…',
] as const;

const node = z.number().int().min(0);

const plain = <K extends string>(kind: K) => z.object({ kind: z.literal(kind) }).strict();

export const TopologySpecSchema = z.discriminatedUnion('kind', [
  plain('complete'),
  plain('ring'),
  plain('exp'),
  plain('exp-demuon'),
  plain('one-peer-exp'),
  plain('star'),
  z
    .object({
      kind: z.literal('torus'),
      rows: z.number().int().min(1).optional(),
      cols: z.number().int().min(1).optional(),
    })
    .strict()
    .refine((t) => (t.rows === undefined) === (t.cols === undefined), {
      message: 'give both rows and cols, or neither for the most square shape',
      path: ['cols'],
    }),
  z.object({ kind: z.literal('random-regular'), degree: z.number().int().min(1) }).strict(),
  z.object({ kind: z.literal('erdos-renyi'), p: z.number().gt(0).max(1) }).strict(),
  z
    .object({ kind: z.literal('edges'), edges: z.array(z.tuple([node, node])).min(1) })
    .strict()
    .superRefine((t, ctx) => {
      const problem = edgeListProblem(t.edges);
      if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['edges'] });
    }),
]);

export type TopologySpec = z.infer<typeof TopologySpecSchema>;
export type TopologyKind = TopologySpec['kind'];

const KINDS: readonly string[] = TopologySpecSchema.options.map((o) => o.shape.kind.value);

/** A spec from a string or from a (JSON) object, with an error naming what was wrong. */
export function topologySpec(input: unknown): TopologySpec {
  if (typeof input === 'string') return parseTopologySpec(input);
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new Error(
      `a topology spec is a string such as "ring" or an object with a "kind", got ${String(input)}`,
    );
  }
  const kind = (input as { kind?: unknown }).kind;
  if (typeof kind === 'string' && !KINDS.includes(kind)) {
    throw new Error(unknownMessage(kind));
  }
  const parsed = TopologySpecSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'topology'}: ${i.message}`);
    throw new Error(`invalid topology spec ${JSON.stringify(input)}: ${problems.join('; ')}`);
  }
  return parsed.data;
}

/** For configs: a spec string or object, parsed into a TopologySpec. */
export const TopologyConfigSchema = z.unknown().transform((input, ctx): TopologySpec => {
  try {
    return topologySpec(input);
  } catch (error) {
    ctx.issues.push({ code: 'custom', message: (error as Error).message, input });
    return z.NEVER;
  }
});

/** Parses one of TOPOLOGY_FORMS; the name is case-insensitive and spaces around parts are ignored. */
export function parseTopologySpec(text: string): TopologySpec {
  const colon = text.indexOf(':');
  const name = (colon < 0 ? text : text.slice(0, colon)).trim().toLowerCase();
  const param = colon < 0 ? undefined : text.slice(colon + 1).trim();
  const fail = (why: string) => new Error(`topology "${text}": ${why}`);
  switch (name) {
    case 'complete':
    case 'ring':
    case 'exp':
    case 'exp-demuon':
    case 'one-peer-exp':
    case 'star':
      if (param !== undefined) throw fail(`"${name}" takes no parameter`);
      return { kind: name };
    case 'torus': {
      if (param === undefined) return { kind: 'torus' };
      const shape = /^(\d+)\s*[x×]\s*(\d+)$/i.exec(param);
      if (!shape || Number(shape[1]) < 1 || Number(shape[2]) < 1) {
        throw fail('the shape must be ROWSxCOLS with positive integers, as in torus:4x4');
      }
      return { kind: 'torus', rows: Number(shape[1]), cols: Number(shape[2]) };
    }
    case 'random-regular': {
      if (!param || !/^\d+$/.test(param) || Number(param) < 1) {
        throw fail('the degree D must be a positive integer, as in random-regular:3');
      }
      return { kind: 'random-regular', degree: Number(param) };
    }
    case 'erdos-renyi': {
      const p = param ? Number(param) : Number.NaN;
      if (!(p > 0 && p <= 1))
        throw fail('the edge probability P must be a number in (0, 1], as in erdos-renyi:0.3');
      return { kind: 'erdos-renyi', p };
    }
    case 'edges': {
      if (!param) throw fail('needs at least one edge, as in edges:0-1,1-2,2-0');
      const edges = param.split(',').map((token): Edge => {
        const match = /^(\d+)\s*-\s*(\d+)$/.exec(token.trim());
        if (!match)
          throw fail(`"${token.trim()}" is not an edge A-B between node numbers, as in edges:0-1,1-2`);
        return [Number(match[1]), Number(match[2])];
      });
      const problem = edgeListProblem(edges);
      if (problem) throw fail(problem);
      return { kind: 'edges', edges: edges.map(([a, b]) => [a, b]) };
    }
    default:
      throw new Error(unknownMessage(name));
  }
}

/** The canonical string form: parseTopologySpec(formatTopologySpec(s)) equals s. */
export function formatTopologySpec(spec: TopologySpec): string {
  switch (spec.kind) {
    case 'torus':
      return spec.rows === undefined ? 'torus' : `torus:${spec.rows}x${spec.cols}`;
    case 'random-regular':
      return `random-regular:${spec.degree}`;
    case 'erdos-renyi':
      return `erdos-renyi:${spec.p}`;
    case 'edges':
      return `edges:${spec.edges.map(([a, b]) => `${a}-${b}`).join(',')}`;
    default:
      return spec.kind;
  }
}

function unknownMessage(name: string): string {
  return `unknown topology "${name}": expected one of ${TOPOLOGY_FORMS.join(', ')}`;
}
