/**
 * The collectors a member sends its parameters to (an export, a try-out of the run's model; see
 * shared/protocol/collect.ts). The link to a collector is opened on request and kept until the collector
 * closes it; the parameters go out once, at a step boundary, so that they are those of one whole step.
 */
import { COLLECTED_PARAMS } from '@demuon/shared/protocol';
import type { ConnectionPool } from './connection-pool';
import type { WebRtcGossipLink } from './webrtc-link';

export class ParamsForCollectors {
  /** Collectors still owed the parameters. */
  private readonly owed = new Set<string>();
  /** Collectors whose link stays open. */
  private readonly linked = new Set<string>();

  constructor(
    private readonly pool: ConnectionPool,
    private readonly link: WebRtcGossipLink,
    private readonly handle: (peer: string) => number,
    private readonly log: (line: string) => void,
  ) {}

  request(collector: string): void {
    this.owed.add(collector);
    this.linked.add(collector);
    this.pool.ensure(collector);
  }

  /** The link to `peer` closed: a collector that has gone is owed nothing more. */
  closed(peer: string): void {
    this.owed.delete(peer);
    this.linked.delete(peer);
  }

  /** Whether `peer` is a collector this member is linked with (its link is not a neighbour's). */
  has(peer: string): boolean {
    return this.linked.has(peer);
  }

  /** `needed` with the collectors' links added, which no epoch needs but must stay open. */
  keep(needed: Set<string>): Set<string> {
    for (const c of this.linked) needed.add(c);
    return needed;
  }

  /** Sends `params()` to every collector owed them whose link is open. */
  async serve(params: () => Promise<readonly Float32Array[]>): Promise<void> {
    const ready = [...this.owed].filter((c) => this.pool.state(c) === 'open');
    if (ready.length === 0) return;
    const values = await params();
    for (const collector of ready) {
      this.owed.delete(collector);
      this.link.send(this.handle(collector), COLLECTED_PARAMS, values);
      this.log(`sent this peer's parameters to ${collector} (a model download)`);
    }
  }
}
