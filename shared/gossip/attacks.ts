/**
 * What a bad neighbour sends, for measuring robust mixing: the simulator gives these to chosen nodes and
 * a headless peer can be started with one. The node itself trains honestly; only what it gossips is
 * corrupted, every round, so its neighbours cannot tell from its behaviour, only from its values.
 */
import { z } from 'zod';
import type { GossipLink } from './mixer';

export const AttackSchema = z.discriminatedUnion('kind', [
  /** Every value times `factor` (e.g. 1e30: finite, yet enough to overflow a plain average). */
  z.object({ kind: z.literal('scale'), factor: z.number().finite() }).strict(),
  /** Every value negated: plausible in size, wrong in direction. */
  z.object({ kind: z.literal('sign-flip') }).strict(),
]);
export type Attack = z.infer<typeof AttackSchema>;

/** Parses `scale:1e30` or `sign-flip`; throws an error naming the expected forms. */
export function parseAttack(text: string): Attack {
  const [kind, arg] = text.split(':');
  const parsed = AttackSchema.safeParse(
    kind === 'scale' ? { kind, factor: arg === undefined ? Number.NaN : Number(arg) } : { kind },
  );
  if (!parsed.success) throw new Error(`unknown attack "${text}": use scale:FACTOR or sign-flip`);
  return parsed.data;
}

export function corrupt(attack: Attack, values: Float32Array): Float32Array {
  const factor = attack.kind === 'scale' ? attack.factor : -1;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] * factor;
  return out;
}

/** `link` with every gossip message corrupted by `attack` on its way out. */
export function attackingLink(link: GossipLink, attack: Attack): GossipLink {
  return {
    send: (to, key, tensors, part) =>
      link.send(
        to,
        key,
        tensors.map((t) => corrupt(attack, t)),
        part,
      ),
    receive: (from, key) => link.receive(from, key),
  };
}
