/**
 * The layouts of superseded epochs and replaced proposals, each remembered for a grace period after it
 * ended: answers and ICE candidates of links being set up when membership changed are still in flight,
 * and peers keep gossiping with their old neighbours until the new epoch's activation step.
 */
import type { EpochLayout } from './epoch-layout';

/** At most this many are remembered (bursts of joins). */
const MAX_RECENT = 16;

export class RecentLayouts {
  private entries: { layout: EpochLayout; until: number }[] = [];

  constructor(private readonly graceMs: number) {}

  retire(layout: EpochLayout, now: number): void {
    this.entries.push({ layout, until: now + this.graceMs });
    this.prune(now);
  }

  /** Whether a and b were linked in a layout that ended less than graceMs before `now`. */
  linked(a: string, b: string, now: number): boolean {
    this.prune(now);
    return this.entries.some(({ layout }) => layout.linked(a, b));
  }

  private prune(now: number): void {
    this.entries = this.entries.filter(({ until }) => until > now).slice(-MAX_RECENT);
  }
}
