/**
 * The hostile member as a member of the run (attack classes `member`, `resume` and `frames`): a real
 * socket.io client that joins with the run token, heartbeats and answers epoch proposals, its acks
 * counted; and the run's public state, read for the honest peers' ids and steps.
 */
import { request as httpRequest } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { errorText } from './hostile-attack-tools';
import type { Tally, Target } from './hostile-tally';

export function connectSocket(url: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ['websocket'], reconnection: false, timeout: 5000, forceNew: true });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

type AckReply = {
  ok?: boolean;
  error?: { code?: string };
  peerId?: string;
  secret?: string;
  heartbeatMs?: number;
};

/** Emits with an ack; counts the outcome under `kind`; resolves with the reply (undefined on timeout). */
export function emitCounted(
  socket: Socket,
  tally: Tally,
  kind: string,
  event: string,
  payload: unknown,
  timeoutMs = 3000,
): Promise<AckReply | undefined> {
  tally.sent(kind);
  return new Promise((resolve) => {
    if (!socket.connected) {
      tally.answer(kind, 'not connected');
      resolve(undefined);
      return;
    }
    socket.timeout(timeoutMs).emit(event, payload, (error: unknown, reply: AckReply) => {
      if (error) tally.answer(kind, `no ack in ${timeoutMs / 1000} s`);
      else if (!reply?.ok) tally.answer(kind, `refused ${reply?.error?.code}`);
      else if (event === 'join') tally.answer(kind, 'joined');
      else tally.answer(kind, event === 'epoch-ready' ? 'accepted (epoch-ready)' : 'accepted');
      resolve(error ? undefined : reply);
    });
  });
}

export interface Membership {
  socket: Socket;
  peerId: string;
  epoch: number;
  evicted: boolean;
  disconnected: boolean;
  stop(): void;
}

/**
 * Joins the run as a member that heartbeats and answers epoch proposals (so that it stays a member as long
 * as the attack wants); undefined when refused or unreachable.
 */
export async function joinRun(
  target: Target,
  tally: Tally,
  name: string,
  status?: () => unknown,
  onEpoch?: (epoch: { epoch: number; [k: string]: unknown }) => void,
): Promise<Membership | undefined> {
  let socket: Socket;
  try {
    socket = await connectSocket(target.url);
  } catch (error) {
    tally.answer('join', `connect failed: ${errorText(error).slice(0, 40)}`);
    return undefined;
  }
  const m: Membership = {
    socket,
    peerId: '',
    epoch: 0,
    evicted: false,
    disconnected: false,
    stop: () => {},
  };
  socket.on('epoch', (e: { epoch: number }) => {
    m.epoch = e.epoch;
    onEpoch?.(e);
  });
  socket.on('epoch-propose', (p: { epoch: number }) => {
    m.epoch = p.epoch;
    onEpoch?.(p);
    void emitCounted(socket, tally, 'epoch-ready (answering proposals)', 'epoch-ready', {
      epoch: p.epoch,
      barrier: 0,
    });
  });
  socket.on('evicted', (e: { reason?: string }) => {
    m.evicted = true;
    tally.answer('membership', 'evicted');
    tally.note(`evicted: ${String(e?.reason).slice(0, 120)}`);
  });
  socket.on('disconnect', (reason) => {
    m.disconnected = true;
    if (reason !== 'io client disconnect') tally.answer('membership', `disconnected (${reason})`);
  });
  const reply = await emitCounted(socket, tally, 'join', 'join', {
    runId: target.runId,
    token: target.token,
    name,
    platform: 'node',
    backend: 'cpu',
  });
  if (!reply?.ok || !reply.peerId) {
    socket.close();
    return undefined;
  }
  m.peerId = reply.peerId;
  tally.id(reply.peerId);
  const beat = setInterval(
    () => {
      if (socket.connected) socket.emit('heartbeat', status ? { status: status() } : {});
    },
    Math.max(200, reply.heartbeatMs ?? 1000),
  );
  m.stop = () => {
    clearInterval(beat);
    if (socket.connected) socket.emit('leave', {});
    setTimeout(() => socket.close(), 200);
  };
  return m;
}

/** Members of the run other than `self`, from the public state (cached for a second or two). */
export class MemberView {
  private fetchedAt = 0;
  private members: { peer: string; step: number | null }[] = [];

  constructor(private readonly target: Target) {}

  async others(self?: string): Promise<{ peer: string; step: number | null }[]> {
    if (Date.now() - this.fetchedAt > 1500) {
      this.fetchedAt = Date.now();
      try {
        const body = await getJson(`${this.target.url}/api/runs/${this.target.runId}`);
        const state = (body as { state?: { members?: { peer: string; step: number | null }[] } }).state;
        if (Array.isArray(state?.members)) this.members = state.members;
      } catch {
        // Keep the last view.
      }
    }
    return this.members.filter((m) => m.peer !== self);
  }
}

export function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { timeout: 3000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
