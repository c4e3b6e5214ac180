/**
 * The signaling server's NAT-traversal flags: STUN servers and TURN relays for every run, the TURN secret
 * from the flag or the environment, and a usage error naming the flag for every bad value.
 */
import { describe, expect, it } from 'vitest';
import { parseCli, USAGE, UsageError } from '../../signaling-server/src/cli';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const options = parseCli(argv, env);
  if (options === 'help') throw new Error('unexpected help');
  return options;
};

const usageError = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    parseCli(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
};

describe('ICE server flags', () => {
  it('set nothing when absent', () => {
    const options = parse([]);
    expect(options.iceServerUrls).toBeUndefined();
    expect(options.turn).toBeUndefined();
  });

  it('take repeated STUN servers and TURN relays with the secret and lifetime', () => {
    const options = parse([
      '--ice-server',
      'stun:stun.example:3478',
      '--ice-server=stuns:stun.example',
      '--turn',
      'turn:relay.example:3478?transport=udp',
      '--turn',
      'turns:relay.example:443?transport=tcp',
      '--turn-secret',
      's3cret',
      '--turn-ttl',
      '3600',
    ]);
    expect(options.iceServerUrls).toEqual(['stun:stun.example:3478', 'stuns:stun.example']);
    expect(options.turn).toEqual({
      urls: ['turn:relay.example:3478?transport=udp', 'turns:relay.example:443?transport=tcp'],
      secret: 's3cret',
      ttlSeconds: 3600,
    });
  });

  it('read the secret from TURN_SECRET, the flag winning, and default the lifetime to one day', () => {
    expect(parse(['--turn', 'turn:r'], { TURN_SECRET: 'from-env' }).turn).toEqual({
      urls: ['turn:r'],
      secret: 'from-env',
      ttlSeconds: 86_400,
    });
    expect(parse(['--turn', 'turn:r', '--turn-secret', 'flag'], { TURN_SECRET: 'env' }).turn?.secret).toBe(
      'flag',
    );
    // TURN_SECRET alone (e.g. coturn's own environment) turns nothing on.
    expect(parse([], { TURN_SECRET: 'env' }).turn).toBeUndefined();
  });

  it('refuse a TURN relay without a secret, naming both ways to give it', () => {
    const message = usageError(['--turn', 'turn:relay.example']);
    expect(message).toMatch(/^--turn needs the secret/);
    expect(message).toContain('TURN_SECRET');
    expect(message).toContain('--turn-secret');
    expect(usageError(['--turn', 'turn:r'], { TURN_SECRET: '' })).toMatch(/^--turn needs the secret/);
    expect(usageError(['--turn', 'turn:r', '--turn-secret', ''])).toBe('--turn-secret is empty');
  });

  it('refuse a secret or a lifetime without a relay', () => {
    expect(usageError(['--turn-secret', 's'])).toMatch(/^--turn-secret is given without a TURN relay/);
    expect(usageError(['--turn-ttl', '600'])).toMatch(/^--turn-ttl is given without a TURN relay/);
  });

  it('refuse URLs of other schemes, and each kind under the other flag', () => {
    expect(usageError(['--ice-server', 'http://stun.example'])).toMatch(
      /^--ice-server: "http:\/\/stun.example" is no STUN or TURN URL: it must start with stun:, stuns:, turn: or turns:/,
    );
    expect(usageError(['--turn', 'relay.example:3478', '--turn-secret', 's'])).toMatch(
      /^--turn: .*must start with stun:, stuns:, turn: or turns:/,
    );
    expect(usageError(['--ice-server', 'turn:relay.example'])).toMatch(/^--ice-server: .*needs credentials/);
    expect(usageError(['--turn', 'stun:stun.example', '--turn-secret', 's'])).toMatch(
      /^--turn: .*takes no credentials/,
    );
    expect(usageError(['--turn', 'turn:relay:99999', '--turn-secret', 's'])).toMatch(/^--turn: .*port/);
  });

  it('refuse lifetimes that are no whole number of seconds in range', () => {
    for (const ttl of ['0', '59', '604801', '1.5', 'day', '-5'])
      expect(usageError(['--turn', 'turn:r', '--turn-secret', 's', `--turn-ttl=${ttl}`])).toBe(
        `--turn-ttl must be a whole number of seconds from 60 to 604800, got "${ttl}"`,
      );
  });

  it('are in the usage, without any secret', () => {
    for (const flag of ['--ice-server URL', '--turn URL', '--turn-secret S', '--turn-ttl SECONDS'])
      expect(USAGE).toContain(flag);
    expect(USAGE).toContain('TURN_SECRET');
  });
});
