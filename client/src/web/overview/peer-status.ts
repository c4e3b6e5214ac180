/**
 * What a member is doing, in words, from the `status` its heartbeats carry (run-state members'
 * PeerStatus: step, phase, time in the phase, and the neighbour a gossip round waits for). Servers that
 * do not send the field, or send null, leave the cell empty rather than wrong.
 */
import type { PeerPhase, PeerStatus } from '@demuon/shared/protocol';
import type { MemberState } from './types';

const PHASE_WORDS: Record<PeerPhase, string> = {
  'waiting-for-peers': 'waiting for peers',
  bootstrapping: 'taking a neighbour’s state',
  gradient: 'gradient',
  optimizer: 'optimizer',
  gossip: 'gossip',
  barrier: 'barrier',
  done: 'done',
};

const PHASE_TITLES: Record<PeerPhase, string> = {
  'waiting-for-peers': 'joined; training starts once the run has enough peers',
  bootstrapping: 'a late joiner receiving parameters and optimizer state from a neighbour',
  gradient: 'forward and backward pass',
  optimizer: 'Newton–Schulz, the optimizer update and encoding',
  gossip: 'in a gossip round: sending, and waiting for its in-neighbours',
  barrier: 'held before the step until the run’s new topology epoch is committed',
  done: 'trained the run’s last step',
};

/** Phases shorter than this show no duration: a peer passes through them many times a second. */
const SHOW_DURATION_MS = 1000;

export type StatusWords = {
  /** e.g. "gossip · waiting for ab12 4.1 s"; "—" without a status. */
  text: string;
  /** The phase, for styling and tests; "" without a status. */
  phase: PeerPhase | '';
  /** The longer explanation for the cell's tooltip. */
  title: string;
  /** Whether others hold the member up: a neighbour for a second or more, the run's peers, an epoch change. */
  waiting: boolean;
};

/**
 * The member's status, when the run-state carries a well-formed one, with its time in the phase brought
 * up to the snapshot (`statusAgeMs`: how long before the snapshot the status arrived).
 */
export function statusOf(member: MemberState): PeerStatus | undefined {
  const { status, statusAgeMs } = member as unknown as { status?: unknown; statusAgeMs?: unknown };
  if (typeof status !== 'object' || status === null) return undefined;
  const s = status as Partial<PeerStatus>;
  // Checked against this file's table: a type-only import keeps zod out of the overview's bundle.
  if (typeof s.phase !== 'string' || !Object.hasOwn(PHASE_WORDS, s.phase)) return undefined;
  if (typeof s.step !== 'number' || typeof s.phaseMs !== 'number' || !Number.isFinite(s.phaseMs))
    return undefined;
  const age = typeof statusAgeMs === 'number' && Number.isFinite(statusAgeMs) ? Math.max(0, statusAgeMs) : 0;
  return { ...(s as PeerStatus), phaseMs: s.phaseMs + age };
}

/** `nameOf` turns the peer a round waits for into what the dashboard calls it. */
export function describeStatus(
  status: PeerStatus | undefined,
  nameOf: (peer: string) => string = (peer) => peer,
): StatusWords {
  if (!status) return { text: '—', phase: '', title: 'no status reported', waiting: false };
  const seconds = `${(status.phaseMs / 1000).toFixed(1)} s`;
  const long = status.phaseMs >= SHOW_DURATION_MS;
  let text = PHASE_WORDS[status.phase];
  if (status.phase === 'gossip' && status.waitingFor)
    text += ` · waiting for ${nameOf(status.waitingFor)} ${seconds}`;
  else if (long && status.phase !== 'done') text += ` ${seconds}`;
  const typical = status.stepMs === undefined ? '' : `; its steps take about ${Math.round(status.stepMs)} ms`;
  const title = `step ${status.step}: ${PHASE_TITLES[status.phase]}, for ${seconds}${typical}`;
  const waiting =
    status.phase === 'barrier' ||
    status.phase === 'waiting-for-peers' ||
    // A round waits for its slowest neighbour every step: only a long wait is worth the eye.
    (status.phase === 'gossip' && status.waitingFor !== undefined && long);
  return { text, phase: status.phase, title, waiting };
}
