/**
 * What a WebRTC peer accepts as a relayed signal: a session description (offer or answer) or an ICE
 * candidate, exactly as simple-peer emits them. Data channels need nothing else (no renegotiation, no
 * transceivers), so nothing else is relayed or handed to a connection: a strict schema also bounds the
 * nesting of what the server relays, whatever the sender built.
 */
import { z } from 'zod';

/** An SDP for one data channel is 1–3 KiB; this leaves room for many candidates gathered into it. */
export const MAX_SDP_CHARS = 12 * 1024;

const SessionDescriptionSignal = z
  .object({ type: z.enum(['offer', 'answer']), sdp: z.string().min(1).max(MAX_SDP_CHARS) })
  .strict();

const IceCandidateSignal = z
  .object({
    type: z.literal('candidate'),
    candidate: z
      .object({
        candidate: z.string().max(1024),
        sdpMid: z.string().max(64).nullable().optional(),
        sdpMLineIndex: z.number().int().min(0).max(65535).nullable().optional(),
        usernameFragment: z.string().max(256).nullable().optional(),
      })
      .strict(),
  })
  .strict();

export const SignalDataSchema = z.discriminatedUnion('type', [SessionDescriptionSignal, IceCandidateSignal]);
export type SignalData = z.infer<typeof SignalDataSchema>;
