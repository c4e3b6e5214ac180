/** The server's socket.io types, typed by the event maps of shared/protocol. */
import type { ClientToServerEvents, ServerToClientEvents } from '@demuon/shared/protocol';
import type { Server, Socket } from 'socket.io';

export type SignalingIo = Server<ClientToServerEvents, ServerToClientEvents>;
export type PeerSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

/** Why a session's socket went away when its peer may take its place back elsewhere (see Run.detach). */
export const DETACHED = 'server process going away';

/**
 * What a peer's session needs of its socket: a socket.io socket, or (scaled out on Redis) the stand-in
 * for a socket held by another server process (cluster/remote-socket.ts).
 */
export interface SessionSocket {
  readonly id: string;
  /** Scaled out: the name of the server process that holds the real socket. */
  readonly serverProcess?: string;
  use(middleware: (packet: unknown[], next: (error?: Error) => void) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: socket.io types each listener by its event map
  on(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: unknown[]): unknown;
  join(room: string): unknown;
  disconnect(close?: boolean): unknown;
}
