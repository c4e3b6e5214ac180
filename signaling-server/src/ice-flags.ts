/**
 * The signaling server's NAT-traversal flags: STUN servers and TURN relays for every run. The TURN secret
 * is read from `--turn-secret` or, better (command lines are visible to every user of the machine), from
 * the environment variable TURN_SECRET; it is never printed.
 */
import { iceUrlProblem, STUN_SCHEMES, TURN_SCHEMES, type TurnRelayOptions } from './ice-servers';
import { DEFAULT_TURN_TTL_SECONDS, MAX_TURN_TTL_SECONDS, MIN_TURN_TTL_SECONDS } from './turn-credentials';

export const ICE_FLAGS: [string, string][] = [
  ['--ice-server URL', 'a STUN server every peer is told to use (stun:HOST[:PORT]); repeatable'],
  [
    '--turn URL',
    'a TURN relay every peer is told to use, with credentials minted per peer\n' +
      '(turn:HOST[:PORT][?transport=udp|tcp] or turns:…); repeatable; needs the secret',
  ],
  [
    '--turn-secret S',
    "the secret shared with the TURN server (coturn's static-auth-secret);\ndefault: $TURN_SECRET, which keeps it off the command line",
  ],
  [
    '--turn-ttl SECONDS',
    `how long a peer's TURN credentials stay valid (default ${DEFAULT_TURN_TTL_SECONDS}: one day; ${MIN_TURN_TTL_SECONDS} to ${MAX_TURN_TTL_SECONDS})`,
  ],
];

export type IceFlagValues = {
  'ice-server'?: string[];
  turn?: string[];
  'turn-secret'?: string;
  'turn-ttl'?: string;
};

/** The server options of the ICE flags; throws an Error naming the flag and the problem. */
export function iceServerOptions(
  values: IceFlagValues,
  env: NodeJS.ProcessEnv,
): { iceServerUrls?: string[]; turn?: TurnRelayOptions } {
  const stun = values['ice-server'] ?? [];
  for (const url of stun) {
    const problem = iceUrlProblem(url, STUN_SCHEMES);
    if (problem) throw new Error(`--ice-server: ${problem}`);
  }
  const turnUrls = values.turn ?? [];
  for (const url of turnUrls) {
    const problem = iceUrlProblem(url, TURN_SCHEMES);
    if (problem) throw new Error(`--turn: ${problem}`);
  }
  const options = stun.length > 0 ? { iceServerUrls: stun } : {};
  if (turnUrls.length === 0) {
    // TURN_SECRET alone is fine (the environment may be coturn's too); the flags alone are a mistake.
    for (const flag of ['turn-secret', 'turn-ttl'] as const) {
      if (values[flag] !== undefined)
        throw new Error(`--${flag} is given without a TURN relay: add --turn turn:HOST[:PORT]`);
    }
    return options;
  }
  if (values['turn-secret'] === '') throw new Error('--turn-secret is empty');
  const secret = values['turn-secret'] ?? env.TURN_SECRET;
  if (!secret) {
    throw new Error(
      "--turn needs the secret it shares with the TURN server (coturn's static-auth-secret): set the " +
        'environment variable TURN_SECRET, or give --turn-secret SECRET',
    );
  }
  const ttl = values['turn-ttl'];
  const ttlSeconds = ttl === undefined ? DEFAULT_TURN_TTL_SECONDS : Number(ttl);
  if (
    ttl !== undefined &&
    (!/^\d+$/.test(ttl.trim()) || ttlSeconds < MIN_TURN_TTL_SECONDS || ttlSeconds > MAX_TURN_TTL_SECONDS)
  ) {
    throw new Error(
      `--turn-ttl must be a whole number of seconds from ${MIN_TURN_TTL_SECONDS} to ${MAX_TURN_TTL_SECONDS}, got "${ttl}"`,
    );
  }
  return { ...options, turn: { urls: turnUrls, secret, ttlSeconds } };
}
