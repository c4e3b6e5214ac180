/**
 * What the signaling server sends besides epochs and errors, and the few requests only it defines: the
 * `watch` subscription, the relayed `signal`, acknowledgements, the `run-state` snapshot, the stored
 * metrics point and the run list. Peers, dashboards and tests parse the server's messages with these.
 */
import { z } from 'zod';
import {
  IdSchema,
  LinkStatsSchema,
  MetricsSchema,
  PeerSecretSchema,
  PeerStatusSchema,
  RunConfigSchema,
} from './events';
import { SignalDataSchema } from './signal-data';

const id = IdSchema;
const finite = z.number().finite();

/** `watch`: read-only subscription to a run's state; needs no token. */
export const WatchSchema = z.object({ runId: id }).strict();

/** `signal` as delivered to its addressee. */
export const RelayedSignalSchema = z.object({ from: id, data: SignalDataSchema }).strict();
export type RelayedSignal = z.infer<typeof RelayedSignalSchema>;

export const ErrorBodySchema = z.object({ code: z.string(), message: z.string() }).strict();

/** The acknowledgement of a refused event: the same code and message as its `error-reply`. */
export const AckFailureSchema = z.object({ ok: z.literal(false), error: ErrorBodySchema }).strict();
export type AckFailure = z.infer<typeof AckFailureSchema>;

/** The acknowledgement of every event sent with a callback. */
export const AckSchema = z.union([z.looseObject({ ok: z.literal(true) }), AckFailureSchema]);
export type Ack = z.infer<typeof AckSchema>;

/**
 * The acknowledgement of a successful `join` (also one with `resume`): the peer's id, the secret it must
 * show to resume that id (shown to nobody else), the run it joined (without its token), and how often to
 * send `heartbeat`, in ms.
 */
export const JoinAckSchema = z
  .object({
    ok: z.literal(true),
    peerId: id,
    secret: PeerSecretSchema,
    run: RunConfigSchema,
    heartbeatMs: z.number().int().positive(),
  })
  .strict();
export type JoinAck = z.infer<typeof JoinAckSchema>;

/** One metrics report as stored (metrics.jsonl, metrics.json, CSV): scalars only, links stay in memory. */
export const MetricsPointSchema = MetricsSchema.pick({
  step: true,
  epoch: true,
  trainLoss: true,
  valLoss: true,
  bytesSent: true,
  bytesReceived: true,
  disagreement: true,
})
  .extend({
    /** Server receive time, ms since the epoch. */
    t: z.number().int(),
    peer: id,
    /** The report's timing, flattened into columns. */
    gradientMs: finite.min(0).optional(),
    optimizerMs: finite.min(0).optional(),
    waitingMs: finite.min(0).optional(),
  })
  .strict();
export type MetricsPoint = z.infer<typeof MetricsPointSchema>;

/** Column order of metrics.csv. */
export const METRICS_COLUMNS = [
  't',
  'peer',
  'step',
  'epoch',
  'trainLoss',
  'valLoss',
  'bytesSent',
  'bytesReceived',
  'disagreement',
  'gradientMs',
  'optimizerMs',
  'waitingMs',
] as const satisfies readonly (keyof MetricsPoint)[];

export const MemberStateSchema = z
  .object({
    peer: id,
    /** True while nobody is connected as this member: restored after a server restart, not resumed yet. */
    away: z.boolean(),
    name: z.string().optional(),
    platform: z.enum(['browser', 'node']),
    backend: z.enum(['webgpu', 'wasm', 'cpu']),
    index: z.number().int().min(0),
    /** The largest step the peer reported (progress or metrics); null before its first report. */
    step: z.number().int().min(0).nullable(),
    joinedAt: z.number().int(),
    lastSeenAt: z.number().int(),
    /** The longest the server went without hearing from the peer while connected, in ms. */
    longestGapMs: finite.min(0),
    /** What the peer said it was doing in its latest heartbeat that carried a status; null before one. */
    status: PeerStatusSchema.nullable(),
    /** How long before this snapshot that status arrived, in ms; null without a status. */
    statusAgeMs: finite.min(0).nullable(),
    latest: MetricsPointSchema.nullable(),
    /** Link statistics from the peer's latest metrics report. */
    links: z.array(LinkStatsSchema),
    /** The signaling server process the peer's socket is connected to, when the server runs as several. */
    server: z.string().max(200).optional(),
  })
  .strict();
export type MemberState = z.infer<typeof MemberStateSchema>;

/** A directed topology edge (from sends to `to`) with its weight W[to][from] at each step of the period. */
export const TopologyLinkSchema = z.object({ from: id, to: id, weights: z.array(finite) }).strict();
export type TopologyLink = z.infer<typeof TopologyLinkSchema>;

/**
 * A link of the current epoch that a member gave up on (`neighbour-missed` from `from` about `to`), with
 * the reason of its latest report: one of MISS_REASONS, typed as a string so that dashboards built against
 * an older list still read newer reasons.
 */
export const FailedLinkSchema = z.object({ from: id, to: id, reason: z.string() }).strict();
export type FailedLink = z.infer<typeof FailedLinkSchema>;

/** The next epoch while its members answer `epoch-propose`. */
export const PendingEpochSchema = z
  .object({
    epoch: z.number().int().min(0),
    members: z.array(id),
    /** Members that have not answered yet. */
    waitingFor: z.array(id),
  })
  .strict();
export type PendingEpoch = z.infer<typeof PendingEpochSchema>;

/** `run-state`, also GET /api/runs/<id>: what the overview dashboard draws. */
export const RunStateSchema = z
  .object({
    runId: id,
    name: z.string().optional(),
    /** The topology actually in use (the run's spec, or the ring fallback when the spec does not fit). */
    topology: z.string(),
    /** Why the run's own spec was not used for the current member count, if it was not. */
    topologyFallback: z.string().optional(),
    /** The committed epoch in force; 0 before the first join. */
    epoch: z.number().int().min(0),
    activationStep: z.number().int().min(0),
    period: z.number().int().min(1),
    /** The proposed next epoch, while members answer it; null otherwise. */
    pending: PendingEpochSchema.nullable(),
    members: z.array(MemberStateSchema),
    links: z.array(TopologyLinkSchema),
    /** True when the graph has more edges than a snapshot carries (large dense graphs). */
    linksTruncated: z.boolean(),
    /** Links of the current epoch that members reported as failed. */
    failedLinks: z.array(FailedLinkSchema),
    updatedAt: z.number().int(),
  })
  .strict();
export type RunState = z.infer<typeof RunStateSchema>;

/** One row of GET /api/runs. */
export const RunSummarySchema = z
  .object({
    id,
    name: z.string().optional(),
    topology: z.string(),
    algorithm: z.string(),
    members: z.number().int().min(0),
    maxPeers: z.number().int().min(1),
    epoch: z.number().int().min(0),
    createdAt: z.number().int(),
  })
  .strict();
export type RunSummary = z.infer<typeof RunSummarySchema>;
