/**
 * The ICE servers a peer is told to use: its run's own (RunConfig.iceServers), then the server-wide STUN
 * URLs (`--ice-server`), then the server's TURN relays with credentials minted for that peer
 * (`--turn`, turn-credentials.ts). They reach the peer only in its own join (or collect) acknowledgement:
 * the stored run config, `run-state` and the HTTP API never carry credentials.
 */
import type { RunConfig } from '@demuon/shared/protocol';
import {
  DEFAULT_TURN_TTL_SECONDS,
  MAX_TURN_TTL_SECONDS,
  MIN_TURN_TTL_SECONDS,
  mintTurnCredentials,
  type TurnCredentialOptions,
} from './turn-credentials';

export const ICE_SCHEMES = ['stun', 'stuns', 'turn', 'turns'] as const;
export type IceScheme = (typeof ICE_SCHEMES)[number];
/** Servers without credentials: STUN only (browsers refuse a TURN server without a username and password). */
export const STUN_SCHEMES: readonly IceScheme[] = ['stun', 'stuns'];
export const TURN_SCHEMES: readonly IceScheme[] = ['turn', 'turns'];

/** The TURN servers of `--turn`: they share `secret` (coturn's static-auth-secret) with this server. */
export type TurnRelayOptions = {
  readonly urls: readonly string[];
  readonly secret: string;
  /** How long minted credentials stay valid (default DEFAULT_TURN_TTL_SECONDS). */
  readonly ttlSeconds?: number;
};

// RFC 7064 (stun:host[:port]) and RFC 7065 (turn:host[:port][?transport=udp|tcp]); a host is a name, an
// IPv4 address or a bracketed IPv6 address.
const ICE_URL =
  /^(stuns?|turns?):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(\?transport=(?:udp|tcp))?$/;

/** What is wrong with `url` as an ICE server URL of one of `allowed`; undefined when nothing is. */
export function iceUrlProblem(url: string, allowed: readonly IceScheme[]): string | undefined {
  const scheme = /^([a-z]+):/i.exec(url)?.[1]?.toLowerCase() as IceScheme | undefined;
  if (!scheme || !ICE_SCHEMES.includes(scheme)) {
    return `"${url}" is no STUN or TURN URL: it must start with stun:, stuns:, turn: or turns:`;
  }
  if (!allowed.includes(scheme)) {
    return TURN_SCHEMES.includes(scheme)
      ? `"${url}" is a TURN server, which needs credentials (browsers refuse one without): give it as a ` +
          "TURN relay with a shared secret (--turn, --turn-secret), or in a run config's iceServers with its " +
          'username and credential'
      : `"${url}" is a STUN server, which takes no credentials: give it as an ICE server (--ice-server)`;
  }
  const match = ICE_URL.exec(url);
  const port = match?.[3] === undefined ? undefined : Number(match[3]);
  const transportOnStun = match?.[4] !== undefined && STUN_SCHEMES.includes(scheme);
  if (!match || transportOnStun || (port !== undefined && (port < 1 || port > 65535))) {
    const form = STUN_SCHEMES.includes(scheme)
      ? `${scheme}:HOST[:PORT]`
      : `${scheme}:HOST[:PORT][?transport=udp|tcp]`;
    return `"${url}" is not a valid ${scheme}: URL: write ${form} (port 1 to 65535)`;
  }
  return undefined;
}

export class PeerIceServers {
  private readonly turn: TurnCredentialOptions | undefined;

  /**
   * `urls`: STUN URLs for every run; `turn`: TURN relays whose credentials are minted per peer. Throws an Error naming the problem for a bad URL, an empty secret or a TTL out of range.
   */
  constructor(
    private readonly urls: readonly string[] = [],
    turn?: TurnRelayOptions,
  ) {
    for (const url of urls) {
      const problem = iceUrlProblem(url, STUN_SCHEMES);
      if (problem) throw new Error(`ICE server: ${problem}`);
    }
    if (!turn) return;
    if (turn.urls.length === 0) throw new Error('TURN relay: no URL given');
    for (const url of turn.urls) {
      const problem = iceUrlProblem(url, TURN_SCHEMES);
      if (problem) throw new Error(`TURN relay: ${problem}`);
    }
    if (turn.secret === '') throw new Error('TURN relay: the shared secret is empty');
    const ttlSeconds = turn.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS;
    if (
      !Number.isInteger(ttlSeconds) ||
      ttlSeconds < MIN_TURN_TTL_SECONDS ||
      ttlSeconds > MAX_TURN_TTL_SECONDS
    ) {
      throw new Error(
        `TURN relay: the credentials' lifetime must be a whole number of seconds from ${MIN_TURN_TTL_SECONDS} to ${MAX_TURN_TTL_SECONDS}, got ${ttlSeconds}`,
      );
    }
    this.turn = { urls: [...turn.urls], secret: turn.secret, ttlSeconds };
  }

  /**
   * The run config to hand `peerId` (a member or a collector): `run` with these ICE servers after its own,
   * and TURN credentials valid from `nowMs`. `run` itself is not changed: it is what is stored and shown.
   */
  runFor(run: RunConfig, peerId: string, nowMs = Date.now()): RunConfig {
    if (this.urls.length === 0 && !this.turn) return run;
    return {
      ...run,
      iceServers: [
        ...run.iceServers,
        ...(this.urls.length > 0 ? [{ urls: [...this.urls] }] : []),
        ...(this.turn ? [mintTurnCredentials(this.turn, peerId, nowMs)] : []),
      ],
    };
  }
}

/** For the start-up log: the URLs and the credentials' lifetime, never the secret; undefined for none. */
export function describeIceServers(options: {
  iceServerUrls?: readonly string[];
  turn?: TurnRelayOptions;
}): string | undefined {
  const parts: string[] = [];
  const { iceServerUrls = [], turn } = options;
  if (iceServerUrls.length > 0) parts.push(`STUN for every run: ${iceServerUrls.join(', ')}`);
  if (turn) {
    const ttl = turn.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS;
    parts.push(`TURN relays for every run: ${turn.urls.join(', ')} (credentials per peer, valid ${ttl} s)`);
  }
  return parts.length > 0 ? parts.join('; ') : undefined;
}
