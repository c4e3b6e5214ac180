/**
 * Which way a WebRTC link's traffic goes: the ICE candidate types of its selected candidate pair, and the
 * route they add up to. A link between peers behind NATs that could not punch through is relayed by a
 * TURN server (every byte crosses it); the dashboards show this per link.
 */
import { z } from 'zod';

/**
 * ICE candidate types (RFC 8445; RTCIceCandidateType): `host` an address of the device itself, `srflx` its
 * address as a STUN server saw it (through a NAT), `prflx` one learnt from the other side's checks,
 * `relay` an address allocated on a TURN server.
 */
export const CANDIDATE_TYPES = ['host', 'srflx', 'prflx', 'relay'] as const;
export type CandidateType = (typeof CANDIDATE_TYPES)[number];

/** The selected candidate pair's types, as the reporting peer sees them. */
export const LinkCandidatesSchema = z
  .object({ local: z.enum(CANDIDATE_TYPES), remote: z.enum(CANDIDATE_TYPES) })
  .strict();
export type LinkCandidates = z.infer<typeof LinkCandidatesSchema>;

/**
 * A link's route: `relay` when either end is a TURN relay (the traffic crosses the TURN server), else
 * `srflx` or `prflx` when either end is an address through a NAT (the NAT was punched through), else
 * `host` (direct, e.g. on one LAN).
 */
export type LinkRoute = CandidateType;

export function routeOf({ local, remote }: LinkCandidates): LinkRoute {
  if (local === 'relay' || remote === 'relay') return 'relay';
  if (local === 'srflx' || remote === 'srflx') return 'srflx';
  if (local === 'prflx' || remote === 'prflx') return 'prflx';
  return 'host';
}
