/**
 * The ICE candidate pair a WebRTC connection sends over, read from its getStats report: its round-trip
 * time and the types of its two candidates (host, srflx, prflx or relay), which say whether the link goes
 * directly, through a NAT, or through a TURN relay.
 */
import { CANDIDATE_TYPES, type CandidateType, type LinkCandidates } from '@demuon/shared/protocol';

export interface SelectedPair {
  readonly rttMs?: number;
  readonly candidates?: LinkCandidates;
}

/** The fields of the stats this reads, each optional: implementations report different subsets. */
type Stat = {
  id?: string;
  type?: string;
  selectedCandidatePairId?: string;
  selected?: boolean;
  nominated?: boolean;
  state?: string;
  localCandidateId?: string;
  remoteCandidateId?: string;
  currentRoundTripTime?: number;
  candidateType?: string;
};

/**
 * The selected pair of a getStats report (an RTCStatsReport, or any iterable of its values): the one the
 * transport names (the standard, Chrome and libwebrtc), else the one marked `selected` (Firefox), else a
 * nominated pair that succeeded. Empty when the connection has none yet.
 */
export function selectedPair(report: { values(): Iterable<unknown> }): SelectedPair {
  const stats = new Map<string, Stat>();
  for (const value of report.values()) {
    const stat = value as Stat;
    if (typeof stat?.id === 'string') stats.set(stat.id, stat);
  }
  const all = [...stats.values()];
  const named = all.find((s) => s.type === 'transport' && typeof s.selectedCandidatePairId === 'string');
  const pair =
    (named && stats.get(named.selectedCandidatePairId!)) ??
    all.find((s) => s.type === 'candidate-pair' && s.selected === true) ??
    all.find((s) => s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded');
  if (!pair) return {};
  const typeOf = (id: string | undefined) => candidateType(id === undefined ? undefined : stats.get(id));
  const local = typeOf(pair.localCandidateId);
  const remote = typeOf(pair.remoteCandidateId);
  const rtt = pair.currentRoundTripTime;
  return {
    ...(typeof rtt === 'number' && Number.isFinite(rtt) && rtt >= 0 ? { rttMs: rtt * 1000 } : {}),
    ...(local && remote ? { candidates: { local, remote } } : {}),
  };
}

function candidateType(stat: Stat | undefined): CandidateType | undefined {
  const type = stat?.candidateType;
  return (CANDIDATE_TYPES as readonly (string | undefined)[]).includes(type)
    ? (type as CandidateType)
    : undefined;
}
