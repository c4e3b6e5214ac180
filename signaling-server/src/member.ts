/**
 * One member of a run as the server knows it: who it is, how to reach its socket, when it was last heard
 * from (and the longest it has gone unheard while connected), what it last said it was doing, and whether
 * it owes an answer to an epoch proposal.
 */
import type { Epoch, EpochProposal, PeerStatus, SignalData } from '@demuon/shared/protocol';
import type { StoredMember } from './membership-store';
import { sameSecret } from './secrets';

export type MemberInfo = {
  name?: string;
  platform: 'browser' | 'node';
  backend: 'webgpu' | 'wasm' | 'cpu';
  /** Scaled out: the server process that holds the member's socket (shown in the overview). */
  server?: string;
};

/** How the server reaches a member's socket. */
export interface MemberChannel {
  propose(payload: EpochProposal): void;
  epoch(payload: Epoch): void;
  signal(from: string, data: SignalData): void;
  /** The server removed the member on its own (silent, reported, no answer): tell it why. */
  evicted(reason: string): void;
  /** Asks the member to send its parameters to `collector` (see shared/protocol/collect.ts). */
  collect(collector: string): void;
}

/** The channel of a member restored after a restart until its peer resumes: nothing reaches it. */
const AWAY: MemberChannel = { propose() {}, epoch() {}, signal() {}, evicted() {}, collect() {} };

export class Member {
  /** The largest step reported through progress or metrics; null before the first report. */
  step: number | null = null;
  /** The latest status a heartbeat carried, and when it arrived. */
  status: PeerStatus | null = null;
  statusAt: number | null = null;
  /**
   * Since when the member owes an answer to an epoch proposal; null when it owes none. A proposal that
   * replaces an unanswered one does not reset it, so that churn cannot keep a mute member forever.
   */
  unansweredSince: number | null = null;
  /**
   * The step of the member's own checkpoint of this run, when it joined with one saved under the run's
   * current config; null otherwise.
   */
  checkpointStep: number | null = null;
  /**
   * The longest time between two events heard from it while connected: how late its beats come when it
   * is alive (a throttled tab's busy page beats seconds apart on a loaded machine).
   */
  longestGapMs = 0;

  constructor(
    readonly id: string,
    /** What a resume must show besides the (public) id; only the membership file and the join ack hold it. */
    private readonly secret: string,
    public info: MemberInfo,
    public channel: MemberChannel,
    readonly joinedAt: number,
    public lastSeenAt: number,
  ) {}

  /** A member of the stored epoch, back without a connection; its heartbeat clock starts now. */
  static away(stored: StoredMember, now: number): Member {
    const { id, secret, name, platform, backend, joinedAt, step } = stored;
    const member = new Member(id, secret, { name, platform, backend }, AWAY, joinedAt, now);
    member.step = step;
    return member;
  }

  /** True while nobody is connected as this member (restored after a restart, not resumed yet). */
  get away(): boolean {
    return this.channel === AWAY;
  }

  /** Compared in constant time: the answer must not tell how much of a guess was right. */
  hasSecret(given: string): boolean {
    return sameSecret(given, this.secret);
  }

  /** For the join acknowledgement of this member's own peer, and nothing else. */
  revealSecret(): string {
    return this.secret;
  }

  /** Connected again (after a restart) through `channel`. */
  reconnect(info: MemberInfo, channel: MemberChannel, now: number): void {
    this.info = info;
    this.channel = channel;
    // Its time away was the connection's doing, not a late beat of its own: it does not count as a gap.
    this.lastSeenAt = now;
  }

  /**
   * Its socket's server process went away (scaled out): away, as after a restart, until its peer resumes
   * through another process. Its heartbeat clock keeps running.
   */
  detach(): void {
    this.channel = AWAY;
  }

  /** Any event from it: it is alive now. */
  heard(now: number): void {
    if (!this.away) this.longestGapMs = Math.max(this.longestGapMs, now - this.lastSeenAt);
    this.lastSeenAt = now;
  }

  report(step: number | undefined, now: number): void {
    if (step !== undefined && (this.step === null || step > this.step)) this.step = step;
    this.heard(now);
  }

  reportStatus(status: PeerStatus, now: number): void {
    this.status = status;
    this.statusAt = now;
    this.heard(now);
  }

  stored(): StoredMember {
    const { name, platform, backend } = this.info;
    const { id, secret, joinedAt, step } = this;
    return { id, secret, name, platform, backend, joinedAt, step };
  }
}
