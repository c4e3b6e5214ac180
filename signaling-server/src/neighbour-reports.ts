/**
 * What members tell the server about their neighbours. `neighbour-missed` reports of the current epoch:
 * who reported whom, and the links that failed. A reported member is removed when the server has not
 * heard from it for longer than its suspicion bound (stretched for a member whose beats come late, see
 * memberSuspicionMs), or when a strict majority of its neighbours reported it. Two members that reported
 * each other and both qualify are a broken link between two live peers as often as a dead one: only the
 * later joiner goes. Reports start afresh with every committed epoch, and a removed member's own reports
 * stop counting. `neighbour-status` questions are answered here too.
 */
import type { FailedLink, MissReason, NeighbourStatusReply } from '@demuon/shared/protocol';
import type { EpochLayout } from './epoch-layout';
import { memberSuspicionMs } from './limits';
import type { Member } from './member';
import type { TopologyEpoch } from './topology-epoch';

/** What the reports need of the membership. */
export interface ReportScope {
  /** The committed epoch in force. */
  current(): TopologyEpoch | null;
  pendingLayout(): EpochLayout | undefined;
  /** The present member of that id. */
  get(id: string): Member | undefined;
  /** A member of the current epoch or of the pending proposal, present or departed. */
  known(id: string): Member | undefined;
  /** Join order: a larger number joined later. */
  order(id: string): number;
  evict(removals: readonly Removal[], now: number): void;
}

export type Removal = { member: Member; reason: string };

/** A report is recorded, ignored (it is about another epoch than the current one), or refused. */
export type ReportOutcome = 'recorded' | 'other-epoch' | 'not-neighbour';

export type MissReport = { peer: string; epoch: number; step: number; reason: MissReason };

export class NeighbourReports {
  /** Reported member → the members that reported it. */
  private readonly reporters = new Map<string, Set<string>>();
  /** `from→to` → the latest report of that link. */
  private readonly failed = new Map<string, FailedLink>();

  constructor(
    private readonly scope: ReportScope,
    private readonly suspicionMs: number,
  ) {}

  /** `reporter` gave up on a neighbour; a member that now qualifies for removal is removed. */
  report(reporter: Member, { peer, epoch, reason }: MissReport, now: number): ReportOutcome {
    const current = this.scope.current();
    if (!current || epoch !== current.number) return 'other-epoch';
    if (!current.linked(reporter.id, peer)) return 'not-neighbour';
    this.record(reporter.id, peer, reason);
    this.removeDue(now);
    return 'recorded';
  }

  /** Removes the reported members that have gone silent since their reports (the periodic sweep). */
  removeDue(now: number): Member[] {
    const current = this.scope.current();
    if (!current) return [];
    const due = this.due(current.layout, now);
    this.scope.evict(due, now);
    return due.map(({ member }) => member);
  }

  /**
   * What the server knows of `peer` for `asker`, a neighbour of it in the current or the pending epoch;
   * undefined for anyone else.
   */
  status(asker: Member, peer: string, now: number): NeighbourStatusReply | undefined {
    const { scope } = this;
    const linked = scope.current()?.linked(asker.id, peer) || scope.pendingLayout()?.linked(asker.id, peer);
    const member = scope.get(peer) ?? scope.known(peer);
    if (!linked || !member) return undefined;
    const lastSeenMs = Math.max(0, now - member.lastSeenAt);
    // An away member lost its connection through the server (a restart, a process gone), not its own
    // doing: its heartbeat clock, restarted then, decides, as for anyone. A departed member is not alive.
    return {
      ok: true,
      alive: scope.get(peer) === member && lastSeenMs <= this.boundFor(member),
      lastSeenMs,
      ...(member.status ? { status: member.status } : {}),
    };
  }

  /** A new epoch is in force: its links start healthy. */
  clear(): void {
    this.reporters.clear();
    this.failed.clear();
  }

  private record(from: string, to: string, reason: MissReason): void {
    let set = this.reporters.get(to);
    if (!set) {
      set = new Set();
      this.reporters.set(to, set);
    }
    set.add(from);
    this.failed.set(`${from}→${to}`, { from, to, reason });
  }

  /** `reporter` was removed: what it said no longer counts against anyone. */
  discount(reporter: string): void {
    for (const [peer, set] of this.reporters) {
      set.delete(reporter);
      if (set.size === 0) this.reporters.delete(peer);
    }
  }

  private boundFor(member: Member): number {
    return memberSuspicionMs(this.suspicionMs, member.longestGapMs);
  }

  failedLinks(): FailedLink[] {
    return [...this.failed.values()];
  }

  /** The reported members to remove now, each with the reason it is told. */
  private due(layout: EpochLayout, now: number): Removal[] {
    const qualifying = new Map<string, Removal>();
    for (const [peer, from] of this.reporters) {
      const member = this.scope.get(peer);
      if (!member || from.size === 0) continue;
      const silentMs = now - member.lastSeenAt;
      const degree = layout.degree(peer);
      const boundMs = this.boundFor(member);
      const silent = silentMs > boundMs;
      if (!silent && from.size * 2 <= degree) continue;
      const why = silent
        ? `nothing heard from it for ${silentMs} ms, over its ${boundMs} ms suspicion bound`
        : `${from.size} of its ${degree} neighbours reported it`;
      qualifying.set(peer, {
        member,
        reason: `peer ${peer} was reported missing by ${this.byWhom(peer)}; ${why}`,
      });
    }
    const spared = new Set<string>();
    for (const a of qualifying.keys()) {
      for (const b of this.reporters.get(a) ?? []) {
        if (qualifying.has(b) && this.reporters.get(b)?.has(a))
          spared.add(this.scope.order(a) < this.scope.order(b) ? a : b);
      }
    }
    return [...qualifying].filter(([peer]) => !spared.has(peer)).map(([, removal]) => removal);
  }

  private byWhom(peer: string): string {
    return [...(this.reporters.get(peer) ?? [])]
      .map((from) => `${from} (${this.failed.get(`${from}→${peer}`)?.reason ?? 'missed'})`)
      .join(', ');
  }
}
