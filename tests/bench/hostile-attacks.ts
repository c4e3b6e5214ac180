/**
 * The hostile member's attack classes, run in their own process (hostile-member.ts) against a live
 * signaling server and the honest peers of one run; one file per attack class. Every attack tolerates
 * refusals, disconnects and exceptions: it counts them and goes on (reconnecting, joining again) until its
 * slot ends. What was sent and how it was answered is tallied per class.
 */
import { attackFrames } from './hostile-attack-frames';
import { attackHttp } from './hostile-attack-http';
import { attackMember, attackResume } from './hostile-attack-member';
import { attackSocketGarbage } from './hostile-attack-socket-garbage';
import { errorText, sleep } from './hostile-attack-tools';
import { attackUnread, finishUnread } from './hostile-attack-unread';
import { type MemberClass, Tally, type TallyData, type Target } from './hostile-tally';

const ATTACKS: Record<MemberClass, (target: Target, until: number, tally: Tally) => Promise<void>> = {
  http: attackHttp,
  'socket-garbage': attackSocketGarbage,
  member: attackMember,
  resume: attackResume,
  unread: attackUnread,
  frames: attackFrames,
};

export async function runAttack(cls: MemberClass, target: Target, ms: number): Promise<TallyData> {
  const tally = new Tally();
  try {
    await ATTACKS[cls](target, Date.now() + ms, tally);
  } catch (error) {
    tally.answer('attack code', 'threw');
    tally.note(`${cls} threw: ${errorText(error)}`);
  }
  // Late acks and replies.
  await sleep(500);
  return tally.data;
}

export async function finishPhase(): Promise<TallyData> {
  const tally = new Tally();
  await finishUnread(tally);
  return tally.data;
}
