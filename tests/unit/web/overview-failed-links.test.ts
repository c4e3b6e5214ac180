import { describe, expect, it } from 'vitest';
import { failedLinksOf } from '../../../client/src/web/overview/failed-links';
import { graphEdges } from '../../../client/src/web/overview/topology-view';
import type { MemberState, RunState } from '../../../client/src/web/overview/types';

const member = (peer: string, index: number) =>
  ({ peer, index, away: false, links: [], step: null, latest: null }) as unknown as MemberState;

const state = (extra: object = {}) =>
  ({
    members: [member('a', 0), member('b', 1), member('c', 2)],
    links: [
      { from: 'a', to: 'b', weights: [0.5] },
      { from: 'b', to: 'a', weights: [0.5] },
    ],
    ...extra,
  }) as unknown as RunState;

describe('overview failed links', () => {
  it('reads no failed links from a run-state without the field, or with a malformed one', () => {
    expect(failedLinksOf(state())).toEqual([]);
    expect(failedLinksOf(state({ failedLinks: 'x' }))).toEqual([]);
    expect(failedLinksOf(state({ failedLinks: [{ from: 'a' }] }))).toEqual([]);
  });

  it('marks a failed link on its edge, whichever end it names first', () => {
    const edges = graphEdges(state({ failedLinks: [{ from: 'b', to: 'a', reason: 'silent', step: 40 }] }));
    expect(edges).toHaveLength(1);
    expect(edges[0]).toMatchObject({ key: 'a b', failed: 'silent, at step 40' });
  });

  it('still draws a failed pair the epoch no longer links, and skips one with a departed end', () => {
    const edges = graphEdges(
      state({
        failedLinks: [
          { from: 'a', to: 'c', reason: 'no-connection' },
          { from: 'a', to: 'gone', reason: 'closed' },
        ],
      }),
    );
    expect(edges.map((e) => [e.key, e.failed])).toEqual([
      ['a b', undefined],
      ['a c', 'no-connection'],
    ]);
  });
});
