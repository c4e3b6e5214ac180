/**
 * How a Node peer or collector uses the ICE servers its join (or collect) acknowledgement gave it: relay
 * only, when asked (`--relay-only`), and a description of them for its log that leaves out passwords.
 */
import type { RunConfig } from '@demuon/shared/protocol';
import type SimplePeer from 'simple-peer';

export type Connect = (options: SimplePeer.Options) => SimplePeer.Instance;

/**
 * Connections that gather TURN relay candidates only (iceTransportPolicy 'relay'): every byte crosses a
 * TURN server, whatever the network between the two ends would allow. For testing a relay, and for
 * peers that must not show their own addresses to their neighbours.
 */
export function relayOnly(connect: Connect): Connect {
  return (options) => connect({ ...options, config: { ...options.config, iceTransportPolicy: 'relay' } });
}

type IceServer = RunConfig['iceServers'][number];

const urlsOf = (server: IceServer) => (Array.isArray(server.urls) ? server.urls : [server.urls]);

/** Whether any of the servers is a TURN relay: without one, a relay-only connection cannot open. */
export function hasTurnRelay(iceServers: readonly IceServer[]): boolean {
  return iceServers.some((server) => urlsOf(server).some((url) => /^turns?:/i.test(url)));
}

/**
 * "stun:a:3478; turn:b:3478 (user 1717000000:p-1a2b, valid until 2024-05-29T16:26:40.000Z)": the URLs and
 * user names, never a credential. A user name of the TURN REST scheme (`<expiry>:<id>`) says its expiry.
 */
export function describeIceServers(iceServers: readonly IceServer[]): string {
  if (iceServers.length === 0) return 'none: links use host addresses only, enough on one network';
  return iceServers
    .map((server) => {
      const urls = urlsOf(server).join(', ');
      if (server.username === undefined) return urls;
      const expiry = new Date(Number(/^(\d{1,12}):/.exec(server.username)?.[1]) * 1000);
      const until = Number.isNaN(expiry.getTime()) ? '' : `, valid until ${expiry.toISOString()}`;
      return `${urls} (user ${server.username}${until})`;
    })
    .join('; ');
}
