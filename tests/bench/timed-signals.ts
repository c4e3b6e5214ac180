/**
 * Relayed signals that carry their send time: it rides in the candidate string, so that they are real
 * ICE candidates in shape and the server relays them like any other.
 */
import { EVENTS } from '@demuon/shared/protocol';

type Emitter = { emit(event: string, payload: unknown): unknown };
export type TimedSignalData = { candidate: { candidate: string } };

export function sendTimedSignal(socket: Emitter, to: string): void {
  socket.emit(EVENTS.signal, {
    to,
    data: { type: 'candidate', candidate: { candidate: String(performance.now()), sdpMid: '0' } },
  });
}

/** Milliseconds since a timed signal was sent. */
export function signalAgeMs(data: TimedSignalData): number {
  return performance.now() - Number(data.candidate.candidate);
}
