/**
 * Whom joiners take their state from, on any topology and any set of joiners: a source is one of the
 * joiner's in-neighbours, following sources always ends at a member that has the state (never a cycle),
 * members with the state have no source, and each source's `bootstrapTo` lists exactly the joiners that
 * name it. A run of joiners only (nobody has the state) starts afresh: no sources at all.
 */
import { parseTopologySpec } from '@demuon/shared/graph';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { ProposedEpoch } from '../../signaling-server/src/topology-epoch';

const specs = ['ring', 'exp', 'complete', 'star', 'one-peer-exp', 'erdos-renyi:0.3', 'random-regular:3'];

it('sources chain to a member with state, through in-neighbours, and bootstrapTo is their inverse', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...specs),
      fc.integer({ min: 1, max: 24 }),
      fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }),
      fc.integer({ min: 0, max: 5 }),
      (spec, n, isJoiner, seed) => {
        const members = Array.from({ length: n }, (_, i) => `p${i}`);
        const joiners = new Set(members.filter((_, i) => isJoiner[i]));
        const payloads = ProposedEpoch.make(1, {
          members,
          spec: parseTopologySpec(spec),
          seed,
          joiners,
        }).commit(7).payloads;
        const established = members.some((p) => !joiners.has(p));
        const sourceOf = new Map(payloads.map((p) => [members[p.index], p.bootstrapFrom]));
        for (const payload of payloads) {
          const peer = members[payload.index];
          const source = payload.bootstrapFrom;
          if (!joiners.has(peer) || !established) {
            expect(source).toBeUndefined();
            continue;
          }
          expect(
            payload.inNeighbours
              .map((x) => x.peer)
              .concat(payload.schedule?.flatMap((s) => s.inNeighbours.map((x) => x.peer)) ?? []),
          ).toContain(source);
          // Following the sources reaches a member with the state in fewer than n hops.
          let at: string | undefined = peer;
          for (let hops = 0; at !== undefined && joiners.has(at); hops++) {
            expect(hops).toBeLessThan(n);
            at = sourceOf.get(at);
          }
          expect(at === undefined || !joiners.has(at)).toBe(true);
        }
        for (const payload of payloads) {
          const peer = members[payload.index];
          const named = payloads.filter((p) => p.bootstrapFrom === peer).map((p) => members[p.index]);
          expect(payload.bootstrapTo ?? []).toEqual(named);
        }
      },
    ),
    { numRuns: 500 },
  );
});
