/**
 * Fetches a run's model from its members (shared/protocol/collect.ts): asks the server to be named a
 * collector, opens a WebRTC link to each member it asked (the same pool and link code as gossip), and takes
 * the one message of parameters each sends. Members that do not answer in time are listed, not waited for.
 */
import {
  COLLECTED_PARAMS,
  type CollectAck,
  CollectAckSchema,
  ErrorReplySchema,
  EVENTS,
  RelayedSignalSchema,
  type RunConfig,
  runHash,
} from '@demuon/shared/protocol';
import type SimplePeer from 'simple-peer';
import { ConnectionPool } from './connection-pool';
import type { SignalingSocket } from './signaling-socket';
import { WebRtcGossipLink } from './webrtc-link';

export interface CollectOptions {
  readonly socket: SignalingSocket;
  readonly runId: string;
  /** One member's parameters only; every member's when absent. */
  readonly peer?: string;
  readonly connect: (options: SimplePeer.Options) => SimplePeer.Instance;
  /** Element counts of the model's parameters, in order, for the run's config. */
  readonly tensorSizes: (run: RunConfig) => readonly number[] | Promise<readonly number[]>;
  /** How long to wait for the members, from the request on. */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface CollectedModel {
  readonly run: RunConfig;
  /** The members that sent their parameters, with the step the server last heard they took. */
  readonly peers: { readonly peer: string; readonly step: number | null; readonly params: Float32Array[] }[];
  /** The members asked that did not send them, and why. */
  readonly missing: { readonly peer: string; readonly reason: string }[];
}

const DEFAULT_TIMEOUT_MS = 60_000;

export async function collectModel(o: CollectOptions): Promise<CollectedModel> {
  const { socket } = o;
  const log = o.log ?? (() => {});
  // Members start signalling as soon as the server asks them: keep what comes before the pool exists.
  let pool: ConnectionPool | undefined;
  const early: [string, SimplePeer.SignalData][] = [];
  const onSignal = (payload: unknown) => {
    const signal = RelayedSignalSchema.safeParse(payload);
    if (!signal.success) return log('ignored a malformed signal from the server');
    const data = signal.data.data as SimplePeer.SignalData;
    if (pool) pool.signal(signal.data.from, data);
    else early.push([signal.data.from, data]);
  };
  socket.on(EVENTS.signal, onSignal);
  const deadline = Date.now() + (o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  try {
    const reply = await socket.request(
      EVENTS.collect,
      { runId: o.runId, ...(o.peer ? { peer: o.peer } : {}) },
      o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    );
    const ack = CollectAckSchema.safeParse(reply);
    if (!ack.success) {
      const error = ErrorReplySchema.partial().safeParse((reply as { error?: unknown } | null)?.error);
      throw new Error(
        `the server refused to collect run '${o.runId}': ${error.data?.message ?? 'no reason given'}`,
      );
    }
    return await receiveAll(ack.data, o, deadline, log, (p) => {
      pool = p;
      for (const [from, data] of early.splice(0)) p.signal(from, data);
    });
  } finally {
    socket.off(EVENTS.signal, onSignal);
  }
}

async function receiveAll(
  ack: CollectAck,
  o: CollectOptions,
  deadline: number,
  log: (line: string) => void,
  ready: (pool: ConnectionPool) => void,
): Promise<CollectedModel> {
  const { run, collector } = ack;
  const link = new WebRtcGossipLink({
    run: runHash(run.id),
    encoding: run.encoding,
    tensorSizes: await o.tensorSizes(run),
    epoch: () => 0,
  });
  const handles = new Map(ack.peers.map(({ peer }, i) => [peer, i]));
  const opened = new Map<string, () => void>();
  const pool = new ConnectionPool({
    self: collector,
    iceServers: run.iceServers,
    connect: o.connect,
    signal: (peer, data) => o.socket.emit(EVENTS.signal, { to: peer, data }),
    opened: (peer, connection) => {
      const handle = handles.get(peer);
      if (handle === undefined) return;
      link.attach(handle, connection);
      opened.get(peer)?.();
    },
    closed: () => {},
    log,
    now: Date.now,
  });
  ready(pool);
  const peers: CollectedModel['peers'][number][] = [];
  const missing: CollectedModel['missing'][number][] = [];
  await Promise.all(
    ack.peers.map(async ({ peer, step }) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer in time')), Math.max(0, deadline - Date.now()));
      });
      try {
        const linked = new Promise<void>((resolve) => opened.set(peer, resolve));
        pool.ensure(peer);
        await Promise.race([linked, timeout]);
        const params = await Promise.race([link.receive(handles.get(peer)!, COLLECTED_PARAMS), timeout]);
        peers.push({ peer, step, params });
      } catch (error) {
        missing.push({ peer, reason: (error as Error).message });
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  await pool.closeAll();
  return { run, peers, missing };
}

/** X̄: the element-wise mean of the parameters that arrived. */
export function averageOf(peers: CollectedModel['peers']): Float32Array[] {
  if (peers.length === 0) throw new Error('no parameters to average');
  return peers[0].params.map((first, k) => {
    const mean = new Float32Array(first.length);
    for (const { params } of peers) for (let e = 0; e < mean.length; e++) mean[e] += params[k][e];
    for (let e = 0; e < mean.length; e++) mean[e] /= peers.length;
    return mean;
  });
}
