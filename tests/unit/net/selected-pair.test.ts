/**
 * A link's route from its WebRTC stats: the selected candidate pair as libwebrtc and Chrome name it (the
 * transport's selectedCandidatePairId), as Firefox marks it (`selected`), or a nominated pair that
 * succeeded; its candidates' types and the route they add up to; and what the dashboards show of it.
 */
import { type CandidateType, routeOf } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import { describeIceServers, hasTurnRelay, relayOnly } from '../../../client/src/net/ice-policy';
import { selectedPair } from '../../../client/src/net/selected-pair';
import { linkHealth } from '../../../client/src/web/overview/topology-view';
import type { MemberState } from '../../../client/src/web/overview/types';

const candidate = (id: string, candidateType: CandidateType, isRemote = false) => ({
  id,
  type: isRemote ? 'remote-candidate' : 'local-candidate',
  candidateType,
});

const pair = (id: string, local: string, remote: string, extra: object = {}) => ({
  id,
  type: 'candidate-pair',
  localCandidateId: local,
  remoteCandidateId: remote,
  state: 'waiting',
  nominated: false,
  ...extra,
});

/** Stats as an RTCStatsReport gives them: a map from id to stat. */
const report = (...stats: { id: string; [field: string]: unknown }[]) => new Map(stats.map((s) => [s.id, s]));

const candidates = [
  candidate('L-host', 'host'),
  candidate('L-relay', 'relay'),
  candidate('R-srflx', 'srflx', true),
  candidate('R-relay', 'relay', true),
];

describe('selectedPair', () => {
  it("takes the pair the transport names (libwebrtc: @roamhq/wrtc's and Chrome's stats)", () => {
    const stats = report(
      ...candidates,
      pair('P1', 'L-host', 'R-srflx', { state: 'succeeded', nominated: true, currentRoundTripTime: 0.5 }),
      pair('P2', 'L-relay', 'R-relay', { state: 'succeeded', nominated: true, currentRoundTripTime: 0.004 }),
      { id: 'T', type: 'transport', selectedCandidatePairId: 'P2' },
    );
    expect(selectedPair(stats)).toEqual({ rttMs: 4, candidates: { local: 'relay', remote: 'relay' } });
  });

  it('takes the pair marked selected (Firefox), else a nominated pair that succeeded', () => {
    expect(
      selectedPair(
        report(
          ...candidates,
          pair('P1', 'L-host', 'R-srflx'),
          pair('P2', 'L-relay', 'R-srflx', { selected: true }),
        ),
      ),
    ).toEqual({ candidates: { local: 'relay', remote: 'srflx' } });
    expect(
      selectedPair(
        report(
          ...candidates,
          pair('P1', 'L-relay', 'R-relay', { nominated: true, state: 'in-progress' }),
          pair('P2', 'L-host', 'R-srflx', {
            nominated: true,
            state: 'succeeded',
            currentRoundTripTime: 0.02,
          }),
        ),
      ),
    ).toEqual({ rttMs: 20, candidates: { local: 'host', remote: 'srflx' } });
  });

  it('says nothing it does not know: no pair yet, unknown candidates, unknown types', () => {
    expect(selectedPair(report(...candidates, pair('P1', 'L-host', 'R-srflx')))).toEqual({});
    expect(
      selectedPair(
        report(pair('P1', 'L-x', 'R-x', { selected: true, currentRoundTripTime: 0.001 }), {
          id: 'L-x',
          type: 'local-candidate',
          candidateType: 'turn',
        }),
      ),
    ).toEqual({ rttMs: 1 });
    expect(selectedPair(report())).toEqual({});
  });
});

describe('routeOf', () => {
  it('is relay when either end is, else through a NAT when either end is, else host', () => {
    expect(routeOf({ local: 'host', remote: 'relay' })).toBe('relay');
    expect(routeOf({ local: 'relay', remote: 'srflx' })).toBe('relay');
    expect(routeOf({ local: 'srflx', remote: 'host' })).toBe('srflx');
    expect(routeOf({ local: 'host', remote: 'prflx' })).toBe('prflx');
    expect(routeOf({ local: 'host', remote: 'host' })).toBe('host');
  });
});

describe("the overview's route of a link", () => {
  const member = (peer: string, links: object[]) => ({ peer, links }) as unknown as MemberState;
  const link = (peer: string, route?: string) => ({
    peer,
    state: 'open',
    drops: 0,
    ...(route ? { route } : {}),
  });

  it("is the more indirect of the two ends' reports, and absent while neither end has one", () => {
    expect(linkHealth(member('a', [link('b', 'relay')]), member('b', [link('a', 'host')])).route).toBe(
      'relay',
    );
    expect(linkHealth(member('a', [link('b')]), member('b', [link('a', 'srflx')])).route).toBe('srflx');
    expect(linkHealth(member('a', [link('b')]), member('b', [link('a')])).route).toBeUndefined();
  });
});

describe('ICE policy of Node peers', () => {
  it('--relay-only asks for relay candidates only, keeping the rest of the connection settings', () => {
    let seen: unknown;
    const connect = relayOnly((options) => {
      seen = options;
      return {} as never;
    });
    connect({ initiator: true, config: { iceServers: [{ urls: 'turn:r' }] } });
    expect(seen).toEqual({
      initiator: true,
      config: { iceServers: [{ urls: 'turn:r' }], iceTransportPolicy: 'relay' },
    });
  });

  it('knows whether a TURN relay is given, and describes the servers without their passwords', () => {
    const servers = [
      { urls: ['stun:s:3478'] },
      { urls: 'turn:r:3478?transport=udp', username: '1700000600:p-1', credential: 'PASSWORD' },
    ];
    expect(hasTurnRelay(servers)).toBe(true);
    expect(hasTurnRelay([{ urls: 'stun:s' }])).toBe(false);
    const described = describeIceServers(servers);
    expect(described).toBe(
      'stun:s:3478; turn:r:3478?transport=udp (user 1700000600:p-1, valid until 2023-11-14T22:23:20.000Z)',
    );
    expect(described).not.toContain('PASSWORD');
    expect(describeIceServers([])).toMatch(/^none/);
  });
});
