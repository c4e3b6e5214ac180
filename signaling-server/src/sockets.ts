/** The server's socket.io types, typed by the event maps of shared/protocol. */
import type { ClientToServerEvents, ServerToClientEvents } from '@demuon/shared/protocol';
import type { Server, Socket } from 'socket.io';

export type SignalingIo = Server<ClientToServerEvents, ServerToClientEvents>;
export type PeerSocket = Socket<ClientToServerEvents, ServerToClientEvents>;
