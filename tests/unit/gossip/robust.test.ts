import {
  attackingLink,
  clipScales,
  distance,
  type GossipLink,
  GossipMixer,
  NeighbourClipper,
  type Neighbourhood,
  parseAttack,
} from '@demuon/shared/gossip';
import { CpuBackend } from '@demuon/shared/tensor';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

/** Distances as rounds produce them: 0 (a neighbour with this node's values) or 1e-20 … 1e30. */
const distances = fc.array(fc.oneof(fc.constant(0), fc.double({ min: 1e-20, max: 1e30, noNaN: true })), {
  minLength: 1,
  maxLength: 12,
});

describe('clip scales', () => {
  it('keep every neighbour within the radius and bring the others onto it', () => {
    fc.assert(
      fc.property(distances, fc.integer({ min: 1, max: 4 }), (ds, suspects) => {
        const scales = clipScales(ds, suspects);
        const setAside = Math.min(suspects, ds.length - 1);
        const radius = [...ds].sort((a, b) => a - b)[ds.length - 1 - setAside];
        for (const [j, s] of scales.entries()) {
          expect(s).toBeGreaterThanOrEqual(0);
          expect(s).toBeLessThanOrEqual(1);
          if (ds[j] <= radius) expect(s).toBe(1);
          else expect(Math.abs(ds[j] * s - radius)).toBeLessThanOrEqual(1e-12 * radius);
        }
        // At most `suspects` neighbours are scaled down, and never the only one.
        expect(scales.filter((s) => s < 1).length).toBeLessThanOrEqual(setAside);
      }),
    );
  });

  it('take a lone neighbour as it is', () => {
    expect(clipScales([1e30], 1)).toEqual([1]);
  });
});

/** One round of node 0 with neighbours 1 and 2 over an in-process link that serves fixed messages. */
async function mixOnce(own: number[], messages: Record<number, number[]>, robust: boolean) {
  const backend = new CpuBackend();
  const neighbourhood: Neighbourhood = {
    selfWeight: 1 / 3,
    inNeighbours: [
      { from: 1, weight: 1 / 3 },
      { from: 2, weight: 1 / 3 },
    ],
    outNeighbours: [1, 2],
  };
  const link: GossipLink = {
    send: () => {},
    receive: async (from) => [Float32Array.from(messages[from])],
  };
  const mixer = new GossipMixer(
    backend,
    () => neighbourhood,
    link,
    robust ? { robust: { suspects: 1, dropBeyond: 4 } } : {},
  );
  const x = () => backend.tensor([own.length], Float32Array.from(own));
  // Robust mixing leaves neighbours out of the step it first hears them in: that one is not looked at.
  await mixer.mix([x()], { step: 0, round: 0 });
  const mixed = x();
  await mixer.mix([mixed], { step: 1, round: 0 });
  return { values: await backend.read(mixed), clipped: mixer.robustCounts.clipped };
}

describe('robust mixing', () => {
  it('is plain mixing when the neighbours are equally far', async () => {
    const messages = { 1: [1, 0], 2: [0, 1] };
    const plain = await mixOnce([0, 0], messages, false);
    const robust = await mixOnce([0, 0], messages, true);
    expect(robust.values).toEqual(plain.values);
    expect(robust.clipped).toBe(0);
  });

  it('bounds what a neighbour sending huge values can move a node by', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.array(fc.float({ min: -10, max: 10, noNaN: true }), { minLength: 4, maxLength: 4 }),
        fc.double({ min: 1e3, max: 1e30, noNaN: true }),
        async (own, honest, factor) => {
          const bad = honest.map((v) => v * factor + 1);
          const { values } = await mixOnce(own, { 1: honest, 2: bad }, true);
          // Without node 2, a third of the way to the honest neighbour; node 2 adds at most a third of
          // the honest neighbour's distance.
          const towardsHonest = Float32Array.from(own, (v, i) => v + (honest[i] - v) / 3);
          const radius = distance(Float32Array.from(honest), Float32Array.from(own));
          expect(distance(values, towardsHonest)).toBeLessThanOrEqual(radius / 3 + 1e-4 * (1 + radius));
          expect(values.every(Number.isFinite)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('neighbour clipper', () => {
  it('leaves a neighbour caught far beyond the radius out until the end of the next step', () => {
    const clipper = new NeighbourClipper({ suspects: 1, dropBeyond: 4 });
    /** Factors for neighbours 1 and 2 at `step`, given their distances on two tensors. */
    const factors = (step: number, one: number[], two: number[]) => clipper.factors(step, [1, 2], [one, two]);
    // The step neighbours are first heard in, they are left out.
    expect(factors(4, [1, 1], [1, 1])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    // Neighbour 2's message is 70 radii off (100 on one tensor): out of this whole round.
    expect(factors(5, [1, 1], [1, 100])).toEqual([
      [1, 1],
      [0, 0],
    ]);
    // Looking honest in the next step (the tracker round, say) does not let it back in yet…
    expect(factors(6, [1, 1], [1, 1])).toEqual([
      [1, 1],
      [0, 0],
    ]);
    // …the step after does, and within 4 radii it is clipped per tensor, not left out.
    expect(factors(7, [1, 1], [2, 1])).toEqual([
      [1, 1],
      [0.5, 1],
    ]);
    expect(clipper.clipped).toBe(1);
    expect(clipper.leftOut).toBe(2);
  });
});

describe('attacks', () => {
  it('parse from the command line and corrupt what goes out', () => {
    expect(parseAttack('scale:1e30')).toEqual({ kind: 'scale', factor: 1e30 });
    expect(parseAttack('sign-flip')).toEqual({ kind: 'sign-flip' });
    for (const bad of ['scale', 'scale:x', 'flip', ''])
      expect(() => parseAttack(bad)).toThrow(/unknown attack/);
    const sent: Float32Array[][] = [];
    const link = attackingLink(
      { send: (_to, _key, tensors) => sent.push([...tensors]), receive: async () => [] },
      { kind: 'sign-flip' },
    );
    link.send(1, { step: 0, round: 0 }, [Float32Array.of(1, -2)]);
    expect([...sent[0][0]]).toEqual([-1, 2]);
  });
});
