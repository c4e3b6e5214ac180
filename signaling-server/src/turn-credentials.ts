/**
 * Time-limited TURN credentials, the "TURN REST API" scheme (draft-uberti-behave-turn-rest; coturn's
 * `use-auth-secret` with `static-auth-secret`): the signaling server and the TURN server share a secret,
 * and the server mints, per peer, the username `<expiry in unix seconds>:<peer id>` with the password
 * base64(HMAC-SHA1(secret, username)). The TURN server recomputes the password from the username and
 * refuses a username whose expiry has passed, so no credential outlives its TTL and no user list is kept.
 */
import { createHmac } from 'node:crypto';

/**
 * One day, as the TURN REST draft suggests. A peer receives its credentials once per join and uses them
 * for every link it opens during its membership (new neighbours at every epoch), and its TURN client
 * refreshes allocations with them: they must outlast a membership. A peer that joins again (after a
 * restart, an eviction, a pause) gets fresh ones.
 */
export const DEFAULT_TURN_TTL_SECONDS = 86_400;
/** Bounds of the TTL: long enough to set up a link, short enough that a leaked credential dies. */
export const MIN_TURN_TTL_SECONDS = 60;
export const MAX_TURN_TTL_SECONDS = 7 * 86_400;

export type TurnCredentialOptions = {
  /** coturn's `static-auth-secret`. Never logged, printed or stored. */
  readonly secret: string;
  /** `turn:` / `turns:` URLs of the TURN server(s) sharing that secret. */
  readonly urls: readonly string[];
  readonly ttlSeconds: number;
};

/** An RTCIceServer with credentials (the shape of IceServerSchema). */
export type TurnIceServer = { urls: string[]; username: string; credential: string };

/** Credentials for `peerId`, valid from `nowMs` for the TTL. */
export function mintTurnCredentials(
  options: TurnCredentialOptions,
  peerId: string,
  nowMs: number,
): TurnIceServer {
  const expiry = Math.floor(nowMs / 1000) + options.ttlSeconds;
  const username = `${expiry}:${peerId}`;
  const credential = createHmac('sha1', options.secret).update(username).digest('base64');
  return { urls: [...options.urls], username, credential };
}
