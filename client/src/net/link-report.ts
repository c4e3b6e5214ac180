/**
 * What a peer tells about its links: bytes and frames each way, drops by reason, throughput since the last
 * report, the round-trip time and the route (direct, through a NAT, or relayed by a TURN server), per
 * neighbour, for the dashboards and the server's metrics.
 */
import { type LinkCandidates, type Metrics, routeOf } from '@demuon/shared/protocol';
import type SimplePeer from 'simple-peer';
import type { ConnectionPool } from './connection-pool';
import { type SelectedPair, selectedPair } from './selected-pair';
import type { WebRtcGossipLink } from './webrtc-link';

const NO_TRAFFIC = { bytesSent: 0, bytesReceived: 0, framesSent: 0, framesReceived: 0, drops: 0 };
/** A connection on its way down may never answer a stats request: the figure is not worth a stalled step. */
const STATS_TIMEOUT_MS = 500;

export class LinkReport {
  private previous = { at: 0, bytes: new Map<string, number>() };
  /** The neighbours' links as last reported. */
  last: Metrics['links'] = [];

  constructor(
    private readonly link: WebRtcGossipLink,
    private readonly pool: ConnectionPool,
    /** The link's handle of every peer it has known, by peer id. */
    private readonly handles: ReadonlyMap<string, number>,
    private readonly now: () => number,
  ) {}

  /** Bytes sent and received over all links so far. */
  traffic(): { bytesSent: number; bytesReceived: number } {
    let bytesSent = 0;
    let bytesReceived = 0;
    for (const h of this.handles.values()) {
      const stats = this.link.stats(h);
      bytesSent += stats?.bytesSent ?? 0;
      bytesReceived += stats?.bytesReceived ?? 0;
    }
    return { bytesSent, bytesReceived };
  }

  /** Frames dropped on receipt over all links so far, by reason (malformed, stale, bad values, …). */
  droppedFrames(): Record<string, number> {
    const reasons: Record<string, number> = {};
    for (const h of this.handles.values()) {
      for (const [reason, n] of Object.entries(this.link.stats(h)?.dropReasons ?? {}))
        reasons[reason] = (reasons[reason] ?? 0) + n;
    }
    return reasons;
  }

  /** The links to `peers` now, with the throughput since the previous call. */
  async links(peers: readonly string[]): Promise<Metrics['links']> {
    const now = this.now();
    const seconds = (now - this.previous.at) / 1000;
    const bytes = new Map<string, number>();
    const links: Metrics['links'] = [];
    for (const peer of peers) {
      const handle = this.handles.get(peer);
      const stats = (handle !== undefined && this.link.stats(handle)) || NO_TRAFFIC;
      const moved = stats.bytesSent + stats.bytesReceived;
      bytes.set(peer, moved);
      const before = this.previous.bytes.get(peer);
      const state = this.pool.state(peer);
      const { rttMs, candidates } = state === 'open' ? await selectedPairOf(this.pool.instance(peer)) : {};
      links.push({
        peer,
        state,
        bytesSent: stats.bytesSent,
        bytesReceived: stats.bytesReceived,
        framesSent: stats.framesSent,
        framesReceived: stats.framesReceived,
        drops: stats.drops,
        ...(before !== undefined && seconds > 0 ? { bytesPerSecond: (moved - before) / seconds } : {}),
        ...(rttMs !== undefined ? { rttMs } : {}),
        ...(candidates ? { candidates, route: routeOf(candidates) } : {}),
      });
    }
    this.previous = { at: now, bytes };
    this.last = links;
    return links;
  }
}

/** The selected ICE candidate pair's round-trip time and candidate types, as far as they are known. */
async function selectedPairOf(connection: SimplePeer.Instance | undefined): Promise<SelectedPair> {
  // simple-peer keeps its RTCPeerConnection as `_pc`; its getStats is the standard one.
  const pc = (connection as unknown as { _pc?: RTCPeerConnection } | undefined)?._pc;
  if (!pc) {
    // A browser worker's proxy (rtc-proxy.ts) carries what its page measured.
    const { rttMs, candidates } = (connection ?? {}) as { rttMs?: number; candidates?: LinkCandidates };
    return { ...(rttMs !== undefined ? { rttMs } : {}), ...(candidates ? { candidates } : {}) };
  }
  if (!pc.getStats) return {};
  try {
    const report = await Promise.race([
      pc.getStats(),
      new Promise<undefined>((resolve) => setTimeout(resolve, STATS_TIMEOUT_MS)),
    ]);
    return report ? selectedPair(report) : {};
  } catch {
    // No stats from this implementation: the figures are left out.
    return {};
  }
}
