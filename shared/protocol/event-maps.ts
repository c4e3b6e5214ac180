/**
 * socket.io's typed event maps, derived from the schemas: `Server<ClientToServerEvents,
 * ServerToClientEvents>` on the server, `Socket<ServerToClientEvents, ClientToServerEvents>` in a client.
 * What a client sends is typed as the schema's input (defaults may be left out); what the server sends as
 * its output. The server still parses every payload: these types describe a well-behaved client only.
 */
import type { z } from 'zod';
import type { CollectAck, CollectRequestSchema, CollectSchema } from './collect';
import type {
  Epoch,
  EpochProposal,
  EpochReadySchema,
  ErrorReplySchema,
  EvictedSchema,
  HeartbeatSchema,
  JoinSchema,
  MetricsSchema,
  NeighbourMissedSchema,
  NeighbourStatusQuerySchema,
  NeighbourStatusReply,
  ProgressSchema,
  SignalSchema,
} from './events';
import { EVENTS } from './events';
import type { Ack, AckFailure, JoinAck, RelayedSignal, RunState, WatchSchema } from './server-messages';

/** An optional acknowledgement callback: `{ ok: true, … }`, or `{ ok: false, error }` when refused. */
type AckCallback<Reply = Ack> = (reply: Reply | AckFailure) => void;

export interface ClientToServerEvents {
  [EVENTS.join]: (join: z.input<typeof JoinSchema>, ack: AckCallback<JoinAck>) => void;
  [EVENTS.signal]: (signal: z.input<typeof SignalSchema>, ack?: AckCallback) => void;
  [EVENTS.heartbeat]: (beat?: z.input<typeof HeartbeatSchema>, ack?: AckCallback) => void;
  [EVENTS.progress]: (progress: z.input<typeof ProgressSchema>, ack?: AckCallback) => void;
  [EVENTS.metrics]: (metrics: z.input<typeof MetricsSchema>, ack?: AckCallback) => void;
  [EVENTS.leave]: (payload?: Record<string, never>, ack?: AckCallback) => void;
  [EVENTS.watch]: (watch: z.input<typeof WatchSchema>, ack?: AckCallback) => void;
  [EVENTS.epochReady]: (ready: z.input<typeof EpochReadySchema>, ack?: AckCallback) => void;
  [EVENTS.neighbourMissed]: (missed: z.input<typeof NeighbourMissedSchema>, ack?: AckCallback) => void;
  [EVENTS.neighbourStatus]: (
    query: z.input<typeof NeighbourStatusQuerySchema>,
    ack: AckCallback<NeighbourStatusReply>,
  ) => void;
  [EVENTS.collect]: (collect: z.input<typeof CollectSchema>, ack: AckCallback<CollectAck>) => void;
}

export interface ServerToClientEvents {
  [EVENTS.epochPropose]: (proposal: EpochProposal) => void;
  [EVENTS.epoch]: (epoch: Epoch) => void;
  [EVENTS.signal]: (signal: RelayedSignal) => void;
  [EVENTS.evicted]: (evicted: z.infer<typeof EvictedSchema>) => void;
  [EVENTS.error]: (reply: z.infer<typeof ErrorReplySchema>) => void;
  [EVENTS.runState]: (state: RunState) => void;
  [EVENTS.collectRequest]: (request: z.infer<typeof CollectRequestSchema>) => void;
}

export type ClientEventName = keyof ClientToServerEvents;

/** Every event a peer or dashboard may send the server (anything else is refused as 'bad-event'). */
export const CLIENT_EVENTS = [
  EVENTS.join,
  EVENTS.signal,
  EVENTS.progress,
  EVENTS.heartbeat,
  EVENTS.metrics,
  EVENTS.leave,
  EVENTS.watch,
  EVENTS.epochReady,
  EVENTS.neighbourMissed,
  EVENTS.neighbourStatus,
  EVENTS.collect,
] as const satisfies readonly ClientEventName[];
