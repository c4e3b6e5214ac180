/** Small things every attack class of the hostile member uses. */
import WebSocket from 'ws';
import type { RawSocketIo } from '../helpers/raw-socket-io';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)];

/** An error as the text of an outcome or a note: short, so that outcomes of one kind stay one row. */
export const errorText = (error: unknown) =>
  (error instanceof Error ? error.message : String(error)).slice(0, 160);

/**
 * Sends `frame` on a raw socket.io client while its connection is open; false (nothing sent) once it is
 * closing or closed, so that only frames that went out count as sent. `onError`: the write failed. (The
 * helper's `sendRaw` would write on a closing connection too, and says nothing of a failed write.)
 */
export function sendIfOpen(client: RawSocketIo, frame: string, onError?: () => void): boolean {
  if (client.ws.readyState !== WebSocket.OPEN) return false;
  client.ws.send(frame, (error) => {
    if (error) onError?.();
  });
  return true;
}
