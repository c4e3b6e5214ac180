/**
 * TURN REST credentials (coturn's use-auth-secret): the user name is `<expiry>:<peer id>`, the password
 * base64(HMAC-SHA1(secret, user name)); and the run config a peer is handed carries the server-wide ICE
 * servers and fresh credentials for that peer, while the run's own config is left as it is.
 */
import { createHmac } from 'node:crypto';
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import {
  iceUrlProblem,
  PeerIceServers,
  STUN_SCHEMES,
  TURN_SCHEMES,
} from '../../signaling-server/src/ice-servers';
import { DEFAULT_TURN_TTL_SECONDS, mintTurnCredentials } from '../../signaling-server/src/turn-credentials';

const SECRET = 'north-secret';
const TURN = { secret: SECRET, urls: ['turn:relay.example:3478?transport=udp'], ttlSeconds: 600 };

describe('mintTurnCredentials', () => {
  it('gives the known answer', () => {
    // `printf '%s' 1700000600:p-1a2b3c | openssl dgst -sha1 -hmac north-secret -binary | base64`
    const server = mintTurnCredentials(TURN, 'p-1a2b3c', 1_700_000_000_000);
    expect(server).toEqual({
      urls: ['turn:relay.example:3478?transport=udp'],
      username: '1700000600:p-1a2b3c',
      credential: '9MuWAUc7gkitpwOepEs16SgC/+o=',
    });
  });

  it('signs the user name with the secret, as the TURN server checks it', () => {
    const { username, credential } = mintTurnCredentials(TURN, 'c-99', Date.now());
    expect(credential).toBe(createHmac('sha1', SECRET).update(username).digest('base64'));
    expect(mintTurnCredentials({ ...TURN, secret: 'other' }, 'c-99', Date.now()).credential).not.toBe(
      credential,
    );
  });

  it('expires the TTL after now, in whole unix seconds', () => {
    const now = 1_700_000_000_999;
    const { username } = mintTurnCredentials({ ...TURN, ttlSeconds: 86_400 }, 'p-1', now);
    const [expiry, peer] = username.split(':');
    expect(peer).toBe('p-1');
    expect(Number(expiry)).toBe(Math.floor(now / 1000) + 86_400);
  });
});

const run = (iceServers: unknown[] = []): RunConfig =>
  RunConfigSchema.parse({ id: 'r', algorithm: { name: 'demuon', lr: { eta: 0.05 } }, iceServers });

describe('PeerIceServers', () => {
  it("hands a peer its run's ICE servers, then the server's STUN, then its own TURN credentials", () => {
    const own = { urls: 'turn:own.example', username: 'u', credential: 'c' };
    const config = run([own]);
    const before = structuredClone(config);
    const servers = new PeerIceServers(['stun:stun.example:3478'], TURN);
    const now = Date.now();
    const forPeer = servers.runFor(config, 'p-7', now);
    expect(forPeer.iceServers).toEqual([
      own,
      { urls: ['stun:stun.example:3478'] },
      mintTurnCredentials(TURN, 'p-7', now),
    ]);
    expect({ ...forPeer, iceServers: config.iceServers }).toEqual(config);
    // The stored config stays without anyone's credentials.
    expect(config).toEqual(before);
  });

  it('uses one day as the default lifetime', () => {
    const servers = new PeerIceServers([], { secret: SECRET, urls: ['turn:r'] });
    const now = Date.now();
    const turn = servers.runFor(run(), 'p-1', now).iceServers[0];
    expect(turn.username).toBe(`${Math.floor(now / 1000) + DEFAULT_TURN_TTL_SECONDS}:p-1`);
  });

  it('changes nothing without server-wide servers', () => {
    const config = run();
    expect(new PeerIceServers().runFor(config, 'p-1')).toBe(config);
  });

  it('refuses bad URLs, an empty secret and a lifetime out of range, naming them', () => {
    expect(() => new PeerIceServers(['http://stun.example'])).toThrow(
      /must start with stun:, stuns:, turn: or turns:/,
    );
    expect(() => new PeerIceServers(['turn:r'])).toThrow(/needs credentials/);
    expect(() => new PeerIceServers([], { ...TURN, urls: ['stun:r'] })).toThrow(/takes no credentials/);
    expect(() => new PeerIceServers([], { ...TURN, urls: [] })).toThrow(/no URL/);
    expect(() => new PeerIceServers([], { ...TURN, secret: '' })).toThrow(/secret is empty/);
    expect(() => new PeerIceServers([], { ...TURN, ttlSeconds: 0 })).toThrow(/from 60 to 604800, got 0/);
    expect(() => new PeerIceServers([], { ...TURN, ttlSeconds: 1.5 })).toThrow(/whole number/);
  });
});

describe('iceUrlProblem', () => {
  it('accepts the URL forms of RFC 7064 and 7065', () => {
    for (const url of ['stun:stun.example', 'stun:10.0.0.1:3478', 'stuns:[2001:db8::1]:5349'])
      expect(iceUrlProblem(url, STUN_SCHEMES)).toBeUndefined();
    for (const url of [
      'turn:relay.example',
      'turn:127.0.0.1:3478?transport=udp',
      'turns:relay:443?transport=tcp',
    ])
      expect(iceUrlProblem(url, TURN_SCHEMES)).toBeUndefined();
  });

  it('names what is wrong', () => {
    expect(iceUrlProblem('relay.example:3478', TURN_SCHEMES)).toMatch(/no STUN or TURN URL/);
    expect(iceUrlProblem('turn:', TURN_SCHEMES)).toMatch(/write turn:HOST\[:PORT\]\[\?transport=udp\|tcp\]/);
    expect(iceUrlProblem('turn:relay:0', TURN_SCHEMES)).toMatch(/port 1 to 65535/);
    expect(iceUrlProblem('turn:relay:70000', TURN_SCHEMES)).toMatch(/port 1 to 65535/);
    expect(iceUrlProblem('turn:relay?transport=sctp', TURN_SCHEMES)).toMatch(/not a valid turn: URL/);
    expect(iceUrlProblem('stun:relay?transport=udp', STUN_SCHEMES)).toMatch(/write stun:HOST\[:PORT\]/);
    expect(iceUrlProblem('turn:user@relay', TURN_SCHEMES)).toMatch(/not a valid turn: URL/);
  });
});
