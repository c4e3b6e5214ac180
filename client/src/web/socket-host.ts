/**
 * The page's side of the worker's signaling socket: the real socket.io connection and its heartbeat timer
 * live here, on a thread no training step blocks. Every event the socket receives goes to the worker.
 */
import { io } from 'socket.io-client';
import { SocketIoSignaling } from '../net/signaling-socket';
import type { PageToWorker, WorkerToPage } from './messages';

export class SignalingHost {
  readonly signaling: SocketIoSignaling;

  constructor(
    server: string,
    private readonly post: (message: PageToWorker) => void,
  ) {
    const socket = io(server, { transports: ['websocket'] });
    this.signaling = new SocketIoSignaling(socket);
    socket.on('connect', () => post({ type: 'socket-event', event: 'connect', payload: undefined }));
    socket.on('disconnect', (reason) => post({ type: 'socket-event', event: 'disconnect', payload: reason }));
    socket.onAny((event: string, payload: unknown) => post({ type: 'socket-event', event, payload }));
  }

  /** Carries out a `socket` command from the worker; false when the message is not one. */
  handle(message: WorkerToPage): boolean {
    if (message.type !== 'socket') return false;
    const { signaling } = this;
    switch (message.op) {
      case 'emit':
        signaling.emit(message.event, message.payload);
        break;
      case 'request': {
        const { id } = message;
        signaling.request(message.event, message.payload, message.timeoutMs).then(
          (reply) => this.post({ type: 'socket-reply', id, reply }),
          (error: Error) => this.post({ type: 'socket-reply', id, error: error.message }),
        );
        break;
      }
      case 'reconnect':
        signaling.reconnect();
        break;
      case 'heartbeat':
        signaling.heartbeat(message.intervalMs);
        break;
      case 'status':
        signaling.setStatus(message.status);
        break;
    }
    return true;
  }
}
