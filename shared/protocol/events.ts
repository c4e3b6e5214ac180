/**
 * Every socket.io event between peers, dashboards and the signaling server, as zod schemas used on both
 * ends. Anything that does not parse is answered with an `error` event naming the problem and changes
 * nothing on the server.
 */
import { z } from 'zod';
import { TopologyConfigSchema } from '../graph/spec';
import { AlgorithmConfigSchema } from '../optim/config';
import { WIRE_ENCODINGS, type WireEncoding } from '../tensor/codec';

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
  })
  .strict();

export type RunConfig = z.infer<typeof RunConfigSchema>;

// ---- peer → server -------------------------------------------------------------------------------

export const JoinSchema = z
  .object({
    runId: id,
    token: z.string().min(1).max(256),
    name: z.string().max(100).optional(),
    platform: z.enum(['browser', 'node']),
    backend: z.enum(['webgpu', 'wasm', 'cpu']),
    /**
     * Coming back after the signaling connection dropped (e.g. the server restarted): the id this peer had.
     * The server gives it its old place when that id is still a member of the run's current epoch.
     */
    resume: z.object({ peerId: id }).strict().optional(),
  })
  .strict();

/** WebRTC session descriptions and ICE candidates, opaque to the server; bounded in size by the server. */
export const SignalSchema = z.object({ to: id, data: z.record(z.string(), z.unknown()) }).strict();

/** "Still here": sent on a timer, so a peer that waits or computes a long step is not taken for gone. */
export const HeartbeatSchema = z.object({}).strict();

export const ProgressSchema = z.object({ step: z.number().int().min(0) }).strict();

const finite = z.number().finite();

export const LinkStatsSchema = z
  .object({
    peer: id,
    state: z.enum(['connecting', 'open', 'closed']),
    rttMs: finite.min(0).optional(),
    bytesSent: finite.min(0),
    bytesReceived: finite.min(0),
    throughputBps: finite.min(0).optional(),
    framesSent: z.number().int().min(0).optional(),
    framesReceived: z.number().int().min(0).optional(),
    drops: z.number().int().min(0),
  })
  .strict();

export const MetricsSchema = z
  .object({
    step: z.number().int().min(0),
    epoch: z.number().int().min(0),
    trainLoss: finite.optional(),
    valLoss: finite.optional(),
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
