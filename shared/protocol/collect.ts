/**
 * Collecting a run's model: the server never holds parameters, so a dashboard or the export tool asks it
 * for the members' (`collect`); the server names it a collector and tells each member (`collect-request`);
 * member and collector then open a WebRTC link through relayed signals, and the member sends its
 * parameters over it, at a step boundary, as one message of the 'state' exchange (COLLECTED_PARAMS).
 */
import { z } from 'zod';
import { IdSchema, RunConfigSchema } from './events';

/** `collect`: the parameters of every current member, or of one named member. */
export const CollectSchema = z.object({ runId: IdSchema, peer: IdSchema.optional() }).strict();

/** The acknowledgement of `collect`: the collector's id for signals, the run, and whom it asked. */
export const CollectAckSchema = z
  .object({
    ok: z.literal(true),
    collector: IdSchema,
    run: RunConfigSchema,
    peers: z.array(z.object({ peer: IdSchema, step: z.number().int().min(0).nullable() }).strict()),
  })
  .strict();
export type CollectAck = z.infer<typeof CollectAckSchema>;

/** `collect-request`, to a member: open a link to `collector` and send it your parameters. */
export const CollectRequestSchema = z.object({ collector: IdSchema }).strict();

/** The key of the one message a member sends a collector (stamped epoch 0: a collector knows none). */
export const COLLECTED_PARAMS = { exchange: 'state', epoch: 0, step: 0, round: 0 } as const;
