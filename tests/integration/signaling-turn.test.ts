/**
 * Server-wide ICE servers over real socket.io on loopback: every member's join acknowledgement and every
 * collector's collect acknowledgement carry the run's own ICE servers, the server's STUN servers and TURN
 * credentials minted for that peer (user name `<expiry>:<id>`, expiring within the TTL); the stored run
 * config, the HTTP API, run-state and the data directory never carry a credential or the secret.
 */
import { createHmac } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CollectAckSchema, EVENTS, type RunConfig } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import { RUN_ID, run, signalingMembers } from '../helpers/signaling-members';

const SECRET = 'a-secret-only-coturn-and-the-server-know';
const TTL = 3600;
const OWN = { urls: 'stun:own.example:3478' };
const RUN = {
  id: RUN_ID,
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05 } },
  iceServers: [OWN],
};
const TURN_URL = 'turn:127.0.0.1:3478?transport=udp';

const members = signalingMembers('signaling-turn-');
const start = () =>
  members.start({
    runs: [RUN],
    iceServerUrls: ['stun:stun.example:19302'],
    turn: { urls: [TURN_URL], secret: SECRET, ttlSeconds: TTL },
  });

/** Checks the ICE servers handed to `id`: the run's, the server's STUN, then TURN credentials of `id`. */
function expectIceServersFor(config: RunConfig, id: string, before: number, after: number): string {
  expect(config.iceServers.slice(0, 2)).toEqual([OWN, { urls: ['stun:stun.example:19302'] }]);
  const turn = config.iceServers[2];
  expect(config.iceServers).toHaveLength(3);
  expect(turn.urls).toEqual([TURN_URL]);
  const [expiry, owner] = turn.username!.split(':');
  expect(owner).toBe(id);
  expect(Number(expiry)).toBeGreaterThanOrEqual(Math.floor(before / 1000) + TTL);
  expect(Number(expiry)).toBeLessThanOrEqual(Math.floor(after / 1000) + TTL);
  expect(turn.credential).toBe(createHmac('sha1', SECRET).update(turn.username!).digest('base64'));
  return turn.credential!;
}

/** Every file under `dir`, as text. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [readFileSync(path, 'utf8')];
  });
}

describe('server-wide ICE servers and TURN credentials', () => {
  it('reach each member and collector in its own acknowledgement, and nothing stored or shown', async () => {
    const server = await start();
    const credentials: string[] = [];
    const ids: string[] = [];
    for (const name of ['a', 'b']) {
      const before = Date.now();
      const client = await members.connect(server);
      const ack = await client.join(RUN_ID, run(server).secretToken(), { name });
      credentials.push(expectIceServersFor(ack.run, ack.peerId, before, Date.now()));
      ids.push(ack.peerId);
      await client.epoch(0);
    }
    // Each peer has credentials of its own.
    expect(credentials[0]).not.toBe(credentials[1]);

    const collector = await members.connect(server);
    const before = Date.now();
    const collect = CollectAckSchema.parse(await collector.request(EVENTS.collect, { runId: RUN_ID }));
    credentials.push(expectIceServersFor(collect.run, collect.collector, before, Date.now()));

    // What is stored and shown: the run's own config, and no credential, user name or secret anywhere.
    expect(run(server).config.iceServers).toEqual([OWN]);
    const api = (await (await fetch(`${server.url}/api/runs/${RUN_ID}`)).json()) as { config: RunConfig };
    expect(api.config.iceServers).toEqual([OWN]);
    const shown = [
      JSON.stringify(api),
      await (await fetch(`${server.url}/api/runs`)).text(),
      JSON.stringify(run(server).state(Date.now())),
    ];
    await members.stop(server);
    const stored = filesUnder(members.env.dataDir);
    expect(stored.length).toBeGreaterThan(0);
    for (const text of [...shown, ...stored]) {
      expect(text).not.toContain(SECRET);
      for (const credential of credentials) expect(text).not.toContain(credential);
      for (const id of [...ids, collect.collector]) expect(text).not.toMatch(new RegExp(`\\d+:${id}`));
    }
  });

  it('are fresh for every join', async () => {
    const server = await start();
    const client = await members.connect(server);
    const first = await client.join(RUN_ID, run(server).secretToken());
    await client.epoch(0);
    client.socket.emit(EVENTS.leave);
    const before = Date.now();
    const again = await client.join(RUN_ID, run(server).secretToken());
    expect(again.peerId).not.toBe(first.peerId);
    expectIceServersFor(again.run, again.peerId, before, Date.now());
  });
});
