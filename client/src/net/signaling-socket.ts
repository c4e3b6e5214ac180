/**
 * The signaling connection as a peer uses it: events in and out, requests with an acknowledgement, and
 * heartbeats. Heartbeats are the socket's job, not the trainer's: they must go out on time while a step
 * computes, so they are sent by whichever thread holds the socket (in a tab, the page; the trainer runs in
 * a worker whose event loop a long step blocks). A Node peer holds its socket itself.
 */
import type { TimedStatus } from '@demuon/shared/peer';
import { EVENTS, type PeerStatus } from '@demuon/shared/protocol';
import type { Socket } from 'socket.io-client';

export interface SignalingSocket {
  readonly connected: boolean;
  on(event: string, listener: (payload: unknown) => void): void;
  off(event: string, listener: (payload: unknown) => void): void;
  emit(event: string, payload: unknown): void;
  /** Emits and resolves with the acknowledgement; rejects after `timeoutMs` without one. */
  request(event: string, payload: unknown, timeoutMs: number): Promise<unknown>;
  /** Connects again after the server closed the connection (socket.io leaves that to the client). */
  reconnect(): void;
  /** Sends `heartbeat` every `intervalMs` with the latest status; null stops. */
  heartbeat(intervalMs: number | null): void;
  setStatus(status: TimedStatus | undefined): void;
}

/** The heartbeat payload for a status now. */
export function heartbeatPayload(status: TimedStatus | undefined, now = Date.now()): { status?: PeerStatus } {
  if (!status) return {};
  const { since, ...rest } = status;
  return { status: { ...rest, phaseMs: Math.max(0, now - since) } };
}

/** A socket.io client socket as a SignalingSocket, with its heartbeat timer on the same thread. */
export class SocketIoSignaling implements SignalingSocket {
  private timer: ReturnType<typeof setInterval> | undefined;
  private status: TimedStatus | undefined;

  constructor(readonly socket: Socket) {}

  get connected(): boolean {
    return this.socket.connected;
  }

  on(event: string, listener: (payload: unknown) => void): void {
    this.socket.on(event, listener);
  }

  off(event: string, listener: (payload: unknown) => void): void {
    this.socket.off(event, listener);
  }

  emit(event: string, payload: unknown): void {
    this.socket.emit(event, payload);
  }

  request(event: string, payload: unknown, timeoutMs: number): Promise<unknown> {
    return this.socket.timeout(timeoutMs).emitWithAck(event, payload);
  }

  reconnect(): void {
    this.socket.connect();
  }

  heartbeat(intervalMs: number | null): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (intervalMs === null) return;
    const beat = () => {
      if (this.socket.connected) this.socket.emit(EVENTS.heartbeat, heartbeatPayload(this.status));
    };
    beat();
    this.timer = setInterval(beat, intervalMs);
  }

  setStatus(status: TimedStatus | undefined): void {
    this.status = status;
  }

  /** Stops the heartbeat and closes the connection. */
  close(): void {
    this.heartbeat(null);
    this.socket.disconnect();
  }
}
