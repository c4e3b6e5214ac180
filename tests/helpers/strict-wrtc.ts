/**
 * @roamhq/wrtc with a browser's RTCIceCandidate: a candidate whose sdpMid and sdpMLineIndex are both null
 * is refused with a TypeError, as the WebRTC spec (and Chrome) does, where wrtc takes anything. simple-peer
 * builds the candidate inside `signal()` once the remote description is set, so this is how a relayed
 * signal makes a connection throw synchronously, in a tab and here.
 */
import wrtc from '@roamhq/wrtc';

class StrictIceCandidate extends wrtc.RTCIceCandidate {
  constructor(init?: RTCIceCandidateInit) {
    if ((init?.sdpMid ?? null) === null && (init?.sdpMLineIndex ?? null) === null)
      throw new TypeError("Failed to construct 'RTCIceCandidate': sdpMid and sdpMLineIndex are both null.");
    super(init);
  }
}

export const strictWrtc = { ...wrtc, RTCIceCandidate: StrictIceCandidate };
