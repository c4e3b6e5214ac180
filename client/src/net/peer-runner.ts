/**
 * A peer that stays in its run: joins, trains, and when the server evicts it (it was frozen, or cut off),
 * stops at once and joins again as a late joiner, taking a neighbour's state. Pause and resume in a tab,
 * and Ctrl-C in the headless peer, end it through `stop`.
 */
import type { Tensor } from '@demuon/shared/tensor';
import { NetworkPeer, type NetworkPeerOptions, type TrainOutcome } from './network-peer';

/** Waits between failed attempts to join again (the server may be restarting). */
const REJOIN_BACKOFF_MS = [500, 1000, 2000, 5000];

export interface PeerRunnerOptions<T extends Tensor> extends NetworkPeerOptions<T> {
  /** Each new membership, once joined (its peer id changes with every rejoin). */
  readonly onJoined?: (peer: NetworkPeer<T>) => void;
}

export class PeerRunner<T extends Tensor> {
  private current: NetworkPeer<T> | null = null;
  private stopping = false;
  /** Times this peer was evicted and joined again. */
  rejoins = 0;

  constructor(private readonly options: PeerRunnerOptions<T>) {}

  get peer(): NetworkPeer<T> | null {
    return this.current;
  }

  /** Trains until the run's last step or `stop`; rejoins after every eviction. */
  async run(): Promise<Exclude<TrainOutcome, { kind: 'evicted' }>> {
    let failures = 0;
    for (;;) {
      if (this.stopping) return { kind: 'stopped' };
      let peer: NetworkPeer<T>;
      try {
        peer = await NetworkPeer.join(this.options);
      } catch (error) {
        // The first join fails loudly (bad token, unknown run); a rejoin retries while the server is back.
        if (this.rejoins === 0) throw error;
        const wait = REJOIN_BACKOFF_MS[Math.min(failures++, REJOIN_BACKOFF_MS.length - 1)];
        this.options.log?.(`could not join again (${(error as Error).message}); retrying in ${wait} ms`);
        await new Promise((resolve) => setTimeout(resolve, wait));
        continue;
      }
      failures = 0;
      this.current = peer;
      this.options.onJoined?.(peer);
      if (this.stopping) peer.stop();
      const outcome = await peer.train();
      await peer.close();
      if (outcome.kind !== 'evicted') return outcome;
      this.rejoins++;
      this.options.onActivity?.({ kind: 'rejoining', reason: outcome.reason });
    }
  }

  stop(): void {
    this.stopping = true;
    this.current?.stop();
  }
}
