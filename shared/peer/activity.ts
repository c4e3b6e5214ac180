/**
 * What a peer is doing, as its dashboard and its log say it: one value, replaced as the peer moves on.
 * The network peer produces it; the tab's page and the headless peer's console show it in words.
 */
export type PeerActivity =
  | { readonly kind: 'starting' }
  /** Joined; training starts once the run has `need` peers (it has `have`). */
  | { readonly kind: 'waiting-for-peers'; readonly have: number; readonly need: number }
  /** A late joiner taking a neighbour's parameters and optimizer state. */
  | { readonly kind: 'bootstrapping'; readonly from: string }
  | { readonly kind: 'training'; readonly step: number }
  /** A gossip round of `step` has waited `sinceMs` for neighbour `peer`. */
  | {
      readonly kind: 'waiting-for-neighbour';
      readonly peer: string;
      readonly step: number;
      readonly sinceMs: number;
    }
  /** Held before `step` until the server commits a new epoch (a peer joined or left). */
  | { readonly kind: 'changing-epoch'; readonly step: number }
  /** The server removed this peer (`reason`); it stopped and joins again as a late joiner. */
  | { readonly kind: 'rejoining'; readonly reason: string }
  | { readonly kind: 'paused' }
  | { readonly kind: 'done' }
  | { readonly kind: 'left' };

/** The activity in words, e.g. "waiting 3.2 s for neighbour ab12 at step 40". */
export function describeActivity(a: PeerActivity): string {
  switch (a.kind) {
    case 'starting':
      return 'starting';
    case 'waiting-for-peers': {
      const more = Math.max(0, a.need - a.have);
      if (more === 0) return `starting with ${a.have} peers`;
      return `waiting for ${more} more peer${more === 1 ? '' : 's'} (${a.have} of ${a.need})`;
    }
    case 'bootstrapping':
      return `taking parameters and optimizer state from ${a.from}`;
    case 'training':
      return 'training';
    case 'waiting-for-neighbour':
      return `waiting ${(a.sinceMs / 1000).toFixed(1)} s for neighbour ${a.peer} at step ${a.step}`;
    case 'changing-epoch':
      return `holding before step ${a.step} while the run's membership changes`;
    case 'rejoining':
      return `evicted (${a.reason}); rejoining`;
    case 'paused':
      return 'paused';
    case 'done':
      return 'done';
    case 'left':
      return 'left';
  }
}
