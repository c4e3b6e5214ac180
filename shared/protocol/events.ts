/**
 * Every socket.io event between peers, dashboards and the signaling server, as zod schemas used on both
 * ends. Anything that does not parse is answered with an `error` event naming the problem and changes
 * nothing on the server.
 */
import { z } from 'zod';
import { RobustMixingSchema } from '../gossip/robust';
import { TopologyConfigSchema } from '../graph/spec';
import { AlgorithmConfigSchema } from '../optim/config';
import { WIRE_ENCODINGS, type WireEncoding } from '../tensor/codec';
import { CANDIDATE_TYPES, LinkCandidatesSchema } from './link-route';
import { SignalDataSchema } from './signal-data';

/** Run and peer ids: short, URL- and file-name-safe. */
export const IdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[\w-]+$/, 'use letters, digits, _ and - only');
const id = IdSchema;

export const IceServerSchema = z
  .object({
    urls: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
    username: z.string().optional(),
    credential: z.string().optional(),
  })
  .strict();

/** What a run trains and how: chosen by its host, the same for every peer. */
export const RunConfigSchema = z
  .object({
    id,
    name: z.string().max(200).optional(),
    model: z
      .object({
        preset: z.enum(['tiny', 'small', 'paper']).default('small'),
        vocab: z.number().int().min(258).max(65536).optional(),
      })
      .strict()
      .default({ preset: 'small' }),
    data: z.string().min(1).default('iid'),
    topology: TopologyConfigSchema.default({ kind: 'ring' }),
    algorithm: AlgorithmConfigSchema,
    steps: z.number().int().positive().default(2000),
    batch: z.number().int().positive().max(1024).default(8),
    evalEvery: z.number().int().positive().default(50),
    evalBatches: z.number().int().positive().default(4),
    encoding: z.enum(WIRE_ENCODINGS as [WireEncoding, ...WireEncoding[]]).default('fp32'),
    maxPeers: z.number().int().min(1).max(1024).default(64),
    seed: z.number().int().min(0).default(0),
    iceServers: z.array(IceServerSchema).default([]),
    /** How long a gossip round waits for a neighbour before asking the server about it. */
    gossipTimeoutMs: z.number().int().min(100).max(600_000).default(15_000),
    /**
     * Clipped gossip (ClippedGossip), so that a neighbour sending bad values cannot drag the others away;
     * plain gossip without it. Costs a little accuracy in a clean run (see docs/bench/robust-mixing.md).
     */
    robustMixing: RobustMixingSchema.optional(),
    /** Every peer saves its parameters and optimizer state every this many steps, and when it leaves. */
    checkpointEvery: z.number().int().positive().default(50),
  })
  .strict();

export type RunConfig = z.infer<typeof RunConfigSchema>;

// ---- peer → server -------------------------------------------------------------------------------

/** The per-peer secret a join acknowledgement hands out and a resume must show (the server's are hex). */
export const PeerSecretSchema = z.string().min(1).max(256);

export const JoinSchema = z
  .object({
    runId: id,
    token: z.string().min(1).max(256),
    name: z.string().max(100).optional(),
    platform: z.enum(['browser', 'node']),
    backend: z.enum(['webgpu', 'wasm', 'cpu']),
    /**
     * Coming back after the signaling connection dropped (e.g. the server restarted): the id this peer had
     * and the secret its join acknowledgement gave it (ids are public: the secret proves the place is its
     * own). The server gives it its old place when that id is still a member of the run's current epoch.
     */
    resume: z.object({ peerId: id, secret: PeerSecretSchema }).strict().optional(),
    /**
     * The peer's own checkpoint of this run: the step it holds and the config fingerprint it was saved
     * under. When every member has just joined (all had left), those with the newest one resume from it and
     * the others take their state from them.
     */
    checkpoint: z
      .object({ step: z.number().int().min(1), fingerprint: z.string().min(1).max(64) })
      .strict()
      .optional(),
  })
  .strict();

/** A WebRTC session description or ICE candidate for a neighbour, relayed by the server. */
export const SignalSchema = z.object({ to: id, data: SignalDataSchema }).strict();

/**
 * What a peer is doing, sent with every heartbeat. Its neighbours ask the server for it (neighbour-status)
 * when a round waits long for that peer: a peer at work is waited for, a silent or stuck one is not.
 */
export const PEER_PHASES = [
  /** Joined, waiting for the run to have enough peers (or for its first epoch). */
  'waiting-for-peers',
  /** A late joiner receiving its state from a neighbour. */
  'bootstrapping',
  /** Forward and backward pass. */
  'gradient',
  /** Local optimizer arithmetic: Newton–Schulz, updates, encoding. */
  'optimizer',
  /** Inside a gossip round: sending, and waiting for its in-neighbours. */
  'gossip',
  /** Held before a step until a proposed epoch is committed. */
  'barrier',
  /** Trained the run's last step. */
  'done',
] as const;
export type PeerPhase = (typeof PEER_PHASES)[number];

export const PeerStatusSchema = z
  .object({
    /** The step the peer works on (or starts next, while it waits). */
    step: z.number().int().min(0),
    phase: z.enum(PEER_PHASES),
    /** How long the peer has been in this phase, in ms, when the status was sent. */
    phaseMs: z.number().finite().min(0),
    /** Its typical step time in ms (median of its recent steps); absent before its first step. */
    stepMs: z.number().finite().min(0).optional(),
    /** In 'gossip': the neighbour whose message it waits for. */
    waitingFor: id.optional(),
  })
  .strict();
export type PeerStatus = z.infer<typeof PeerStatusSchema>;

/**
 * "Still here", sent on a timer by whichever thread holds the socket (a tab's page, not its compute
 * worker), so that a peer that waits or computes a long step is never taken for gone.
 */
export const HeartbeatSchema = z.object({ status: PeerStatusSchema.optional() }).strict();

/**
 * The answer to `epoch-propose`: this peer will not start step `barrier` (or any later one) before the
 * proposed epoch `epoch` is committed. The server commits the epoch with its activation step at the
 * largest barrier, so every member switches at the same step without ever waiting for a timeout.
 */
export const EpochReadySchema = z
  .object({ epoch: z.number().int().min(0), barrier: z.number().int().min(0) })
  .strict();

/** Why a round gave up on a neighbour. */
export const MISS_REASONS = [
  /** The server has not heard from it for longer than its suspicion bound. */
  'silent',
  /** Alive, but stuck in one step and phase for far longer than its steps take. */
  'stuck',
  /** Its data channel did not open within the connection deadline. */
  'no-connection',
  /** Its data channel closed. */
  'closed',
] as const;
export type MissReason = (typeof MISS_REASONS)[number];

/** A round gave up on neighbour `peer` at `step` of `epoch`: the server repairs the topology around it. */
export const NeighbourMissedSchema = z
  .object({
    peer: id,
    epoch: z.number().int().min(0),
    step: z.number().int().min(0),
    reason: z.enum(MISS_REASONS),
  })
  .strict();

/** Asks the server what neighbour `peer` is doing (acknowledged with NeighbourStatusReplySchema). */
export const NeighbourStatusQuerySchema = z.object({ peer: id }).strict();

export const NeighbourStatusReplySchema = z
  .object({
    ok: z.literal(true),
    /** Connected, and heard from within the server's suspicion bound. */
    alive: z.boolean(),
    /** Since the server last heard from it (heartbeat, progress or metrics), in ms. */
    lastSeenMs: z.number().finite().min(0),
    status: PeerStatusSchema.optional(),
  })
  .strict();
export type NeighbourStatusReply = z.infer<typeof NeighbourStatusReplySchema>;

/**
 * The number of steps this peer has finished: never less than it reported before, never more than the
 * run's `steps` (the server checks both and refuses with 'bad-step').
 */
export const ProgressSchema = z.object({ step: z.number().int().min(0) }).strict();

const finite = z.number().finite();

export const LinkStatsSchema = z
  .object({
    peer: id,
    state: z.enum(['connecting', 'open', 'closed']),
    rttMs: finite.min(0).optional(),
    bytesSent: finite.min(0),
    bytesReceived: finite.min(0),
    /** Bytes per second over the link (both directions) since the previous report. */
    bytesPerSecond: finite.min(0).optional(),
    framesSent: z.number().int().min(0).optional(),
    framesReceived: z.number().int().min(0).optional(),
    drops: z.number().int().min(0),
    /** The selected ICE candidate pair's types, once the link is open and the WebRTC stack tells them. */
    candidates: LinkCandidatesSchema.optional(),
    /** routeOf(candidates): `relay` when the traffic crosses a TURN server. */
    route: z.enum(CANDIDATE_TYPES).optional(),
  })
  .strict();

export const MetricsSchema = z
  .object({
    step: z.number().int().min(0),
    epoch: z.number().int().min(0),
    /** null: not a finite number (JSON has no NaN): the peer's state turned non-finite. */
    trainLoss: finite.nullable().optional(),
    valLoss: finite.nullable().optional(),
    bytesSent: finite.min(0),
    bytesReceived: finite.min(0),
    /** ‖x_i − Σ_j w_ij·x_j‖ over all parameters at the last gossip of parameters: 0 at consensus. */
    disagreement: finite.min(0).optional(),
    timing: z
      .object({ gradientMs: finite.min(0), optimizerMs: finite.min(0), waitingMs: finite.min(0) })
      .strict()
      .optional(),
    links: z.array(LinkStatsSchema).max(1024).default([]),
  })
  .strict();

export type Metrics = z.infer<typeof MetricsSchema>;

// ---- server → peer -------------------------------------------------------------------------------

const InNeighbourSchema = z.object({ peer: id, weight: finite }).strict();

/** One mixing matrix's view from a peer: its own weight, whom it receives from and whom it sends to. */
export const NeighbourhoodSchema = z
  .object({ selfWeight: finite, inNeighbours: z.array(InNeighbourSchema), outNeighbours: z.array(id) })
  .strict();

/**
 * A topology epoch: the members in index order and this peer's place among them. Steps from
 * `activationStep` on use these weights; frames of older epochs are dropped from then on.
 */
export const EpochSchema = z
  .object({
    epoch: z.number().int().min(0),
    activationStep: z.number().int().min(0),
    members: z.array(id),
    index: z.number().int().min(0),
    /** The neighbourhood of the matrix of `activationStep` (for a static graph, of every step). */
    selfWeight: finite,
    inNeighbours: z.array(InNeighbourSchema),
    outNeighbours: z.array(id),
    /** A peer that joined late receives its state from this neighbour before it trains. */
    bootstrapFrom: id.optional(),
    /** The joiners of this epoch that take their state from this peer. */
    bootstrapTo: z.array(id).optional(),
    /**
     * Time-varying topologies only (period > 1, e.g. one-peer-exp): step k uses `schedule[k mod period]`,
     * the same indexing as Topology.at(k). Absent for static graphs. A peer opens links to every peer
     * named anywhere in the schedule, and the server relays signals between all of them.
     */
    period: z.number().int().min(2).optional(),
    schedule: z.array(NeighbourhoodSchema).optional(),
  })
  .strict();

export type Epoch = z.infer<typeof EpochSchema>;

/**
 * `epoch-propose`: the next epoch before its activation step is known. Members open the links it needs at
 * once and answer with `epoch-ready`; the server then sends the full epoch (`epoch`), which commits it.
 */
export const EpochProposalSchema = EpochSchema.omit({ activationStep: true });
export type EpochProposal = z.infer<typeof EpochProposalSchema>;

/**
 * `evicted`: the server removed this peer (silent past the heartbeat timeout, reported missing by its
 * neighbours, or no answer to an epoch proposal). It must stop training at once and may join again.
 */
export const EvictedSchema = z.object({ reason: z.string() }).strict();

export const ErrorReplySchema = z
  .object({ code: z.string(), message: z.string(), event: z.string().optional() })
  .strict();

/** Event names, one place for both ends. */
export const EVENTS = {
  join: 'join',
  signal: 'signal',
  progress: 'progress',
  heartbeat: 'heartbeat',
  metrics: 'metrics',
  leave: 'leave',
  epoch: 'epoch',
  error: 'error-reply',
  watch: 'watch',
  runState: 'run-state',
  epochPropose: 'epoch-propose',
  epochReady: 'epoch-ready',
  neighbourMissed: 'neighbour-missed',
  neighbourStatus: 'neighbour-status',
  evicted: 'evicted',
  collect: 'collect',
  collectRequest: 'collect-request',
} as const;

/** Parses an event payload; the error message names the event and every problem. */
export function parseEvent<T>(schema: z.ZodType<T>, event: string, payload: unknown): T {
  const parsed = schema.safeParse(payload);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`);
    throw new Error(`invalid '${event}' event: ${problems.join('; ')}`);
  }
  return parsed.data;
}
