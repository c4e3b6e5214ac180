/**
 * The proposed next epoch while its members answer: who was asked, who still owes an answer, and the
 * largest barrier promised so far. Every connected member is asked; members away after a restart are
 * not (they cannot answer) and are told the epoch when they resume.
 */
import type { EpochProposal, PendingEpoch } from '@demuon/shared/protocol';
import type { Member } from './member';
import type { ProposedEpoch } from './topology-epoch';

export class PendingProposal {
  /** Asked members that have not answered. */
  private readonly awaiting = new Set<Member>();
  /** When each member was asked this proposal. */
  private readonly askedAt = new Map<Member, number>();
  private readonly memberIds: Set<string>;
  private barrier = 0;
  private payloads: EpochProposal[] | undefined;

  constructor(
    readonly proposed: ProposedEpoch,
    readonly members: readonly Member[],
  ) {
    this.memberIds = new Set(members.map((m) => m.id));
  }

  get number(): number {
    return this.proposed.number;
  }

  get complete(): boolean {
    return this.awaiting.size === 0;
  }

  includes(id: string): boolean {
    return this.memberIds.has(id);
  }

  /** Sends `member` its proposal; it owes an answer from now (or from its older unanswered one). */
  ask(member: Member, now: number): void {
    const index = this.proposed.layout.indexOfPeer(member.id);
    if (index === undefined || member.away) return;
    this.payloads ??= this.proposed.payloads();
    this.awaiting.add(member);
    this.askedAt.set(member, now);
    member.unansweredSince ??= now;
    member.channel.propose(this.payloads[index]);
  }

  /** Records `member`'s promise not to start step `barrier` before the commit. */
  answer(member: Member, barrier: number): void {
    this.barrier = Math.max(this.barrier, barrier);
    this.awaiting.delete(member);
    member.unansweredSince = null;
  }

  /**
   * `member` answered a proposal that this one replaced before the answer came: it is alive and
   * answering, so it owes this one from when it was asked, not from the older one.
   */
  answeredReplaced(member: Member): void {
    const asked = this.askedAt.get(member);
    if (asked !== undefined && this.awaiting.has(member)) member.unansweredSince = asked;
  }

  /** Every member is before the largest barrier, and an epoch never activates before the one it replaces. */
  activationStep(floor: number): number {
    return Math.max(this.barrier, floor);
  }

  /** Asked members whose answer is overdue. */
  overdue(now: number, timeoutMs: number): Member[] {
    return [...this.awaiting].filter((m) => now - (m.unansweredSince ?? now) >= timeoutMs);
  }

  /** When the first answer becomes overdue; undefined when none is owed. */
  nextDeadline(timeoutMs: number): number | undefined {
    let first: number | undefined;
    for (const m of this.awaiting) {
      const due = (m.unansweredSince ?? 0) + timeoutMs;
      if (first === undefined || due < first) first = due;
    }
    return first;
  }

  state(): PendingEpoch {
    return {
      epoch: this.number,
      members: [...this.proposed.layout.members],
      waitingFor: [...this.awaiting].map((m) => m.id),
    };
  }
}
