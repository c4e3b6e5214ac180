/**
 * Server-side shapes that shared/protocol does not define yet: the `watch` request, the relayed `signal`,
 * acknowledgements, the `run-state` snapshot and the stored metrics point. They are zod schemas so that the
 * tests (and later the dashboards) can parse what the server sends; once the browser client consumes them
 * they belong in shared/protocol/events.ts beside the others.
 */
import { IdSchema, LinkStatsSchema, MetricsSchema, RunConfigSchema } from '@demuon/shared/protocol';
import { z } from 'zod';

const id = IdSchema;

/** `watch`: read-only subscription to a run's state; needs no token (see README). */
export const WatchSchema = z.object({ runId: id }).strict();

/** `signal` as delivered to its addressee. */
export const RelayedSignalSchema = z.object({ from: id, data: z.record(z.string(), z.unknown()) }).strict();

export const ErrorBodySchema = z.object({ code: z.string(), message: z.string() }).strict();

/** The acknowledgement of every event sent with a callback. */
export const AckSchema = z.union([
  z.looseObject({ ok: z.literal(true) }),
  z.object({ ok: z.literal(false), error: ErrorBodySchema }).strict(),
]);

/**
 * The acknowledgement of a successful `join` (also one with `resume`): the peer's id, the run it joined
 * (without its token), and how often to send `heartbeat`, in ms.
 */
export const JoinAckSchema = z
  .object({
    ok: z.literal(true),
    peerId: id,
    run: RunConfigSchema,
    heartbeatMs: z.number().int().positive(),
  })
  .strict();

const finite = z.number().finite();

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
    latest: MetricsPointSchema.nullable(),
    /** Link statistics from the peer's latest metrics report. */
    links: z.array(LinkStatsSchema),
  })
  .strict();
export type MemberState = z.infer<typeof MemberStateSchema>;

/** A directed topology edge (from sends to `to`) with its weight W[to][from] at each step of the period. */
export const TopologyLinkSchema = z.object({ from: id, to: id, weights: z.array(finite) }).strict();
export type TopologyLink = z.infer<typeof TopologyLinkSchema>;

/** `run-state`, also GET /api/runs/<id>: what the overview dashboard draws. */
export const RunStateSchema = z
  .object({
    runId: id,
    name: z.string().optional(),
    /** The topology actually in use (the run's spec, or the ring fallback when the spec does not fit). */
    topology: z.string(),
    /** Why the run's own spec was not used for the current member count, if it was not. */
    topologyFallback: z.string().optional(),
    /** 0 before the first join. */
    epoch: z.number().int().min(0),
    activationStep: z.number().int().min(0),
    period: z.number().int().min(1),
    members: z.array(MemberStateSchema),
    links: z.array(TopologyLinkSchema),
    /** True when the graph has more edges than a snapshot carries (large dense graphs). */
    linksTruncated: z.boolean(),
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
