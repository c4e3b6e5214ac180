/** Relayable signals for the server's tests: what SignalDataSchema accepts, as simple-peer emits them. */
import type { SignalData } from '@demuon/shared/protocol';

export const OFFER: SignalData = { type: 'offer', sdp: 'v=0' };
export const CANDIDATE: SignalData = {
  type: 'candidate',
  candidate: { candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host', sdpMid: '0' },
};
/** A candidate no other test signal equals: relayed after others, it shows none came before it. */
export const MARKER: SignalData = { type: 'candidate', candidate: { candidate: 'marker', sdpMLineIndex: 0 } };
