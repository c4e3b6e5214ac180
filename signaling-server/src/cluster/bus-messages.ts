/**
 * The messages server processes send each other over Redis (process-bus.ts), as zod schemas: a message
 * that does not parse (another version of the server, or anything else that reached the channel) is
 * dropped with a warning, never acted on.
 */
import { z } from 'zod';

const name = z.string().min(1).max(200);
const socket = z.string().min(1).max(100);
const run = z.string().min(1).max(64);
const args = z.array(z.unknown()).max(4);

/** A socket's event, for the run's owner. `ack` numbers the acknowledgement the client asked for. */
export const EventMessageSchema = z.object({
  kind: z.literal('event'),
  from: name,
  socket,
  run,
  event: z.string().max(64),
  args,
  ack: z.number().int().positive().nullable(),
  /** How many times it was sent on while owners changed under it. */
  attempt: z.number().int().positive().optional(),
});
export type EventMessage = z.infer<typeof EventMessageSchema>;

export const BusMessageSchema = z.discriminatedUnion('kind', [
  EventMessageSchema,
  /** The socket is gone; `detached` when its process is going away (its peer resumes elsewhere). */
  z.object({ kind: z.literal('gone'), from: name, socket, run, detached: z.boolean() }),
  z.object({ kind: z.literal('emit'), socket, event: z.string().max(64), args }),
  z.object({ kind: z.literal('ack'), socket, ack: z.number().int().positive(), reply: z.unknown() }),
  z.object({ kind: z.literal('join-room'), socket, room: z.string().max(100) }),
  z.object({ kind: z.literal('disconnect'), socket }),
  /** The receiver does not own the run (any more): send the event to the current owner. */
  z.object({ kind: z.literal('not-owner'), message: EventMessageSchema }),
  /** The owner has no session for this socket (it took the run over): the peer must resume. */
  z.object({ kind: z.literal('resync'), message: EventMessageSchema }),
]);
export type BusMessage = z.infer<typeof BusMessageSchema>;
