/**
 * Peers that link only through a TURN relay: a real coturn on loopback (TURN REST credentials), the
 * signaling server with `--turn` options, and two `npm run peer --relay-only` processes. They train
 * together, their links report the route `relay`, and the credentials each got are its own and expire
 * within the TTL. A relay-only peer given no TURN relay stops with an error that says what is missing.
 * coturn (`turnserver`) must be installed: without it these tests fail, saying so.
 */
import type { ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MemberState, RunStateSchema } from '@demuon/shared/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { endlessTinyRun, killPeers, type PeerProcess, startPeer, tail, until } from '../helpers/peer-process';
import { startTurnServer, type TurnServer } from '../helpers/turn-server';

const RUN = endlessTinyRun('relay');
const TTL_SECONDS = 600;

let turn: TurnServer;
let server: SignalingServer;
const dataDirs: string[] = [];
const servers: SignalingServer[] = [];
const children: ChildProcess[] = [];

async function signalingServer(options: Partial<Parameters<typeof createSignalingServer>[0]> = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'turn-relay-'));
  dataDirs.push(dataDir);
  const started = await createSignalingServer({
    port: 0,
    dataDir,
    runs: [RUN],
    log: silentLogger,
    ...options,
  });
  servers.push(started);
  return started;
}

beforeAll(async () => {
  // Both peers are on loopback, so the relay must be allowed to send to 127.0.0.1.
  turn = await startTurnServer({ listeningIp: '127.0.0.1', allowLoopbackPeers: true });
  server = await signalingServer({
    turn: { urls: [turn.url], secret: turn.secret, ttlSeconds: TTL_SECONDS },
  });
});

afterAll(async () => {
  await killPeers(children);
  for (const s of servers) await s.close();
  await turn?.stop();
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

const peerArgs = (at: SignalingServer, name: string) => [
  // `--token=…`: a token may start with '-', which parseArgs would take for a flag.
  ...['--server', at.url, '--run', RUN.id, `--token=${at.runs.get(RUN.id)!.secretToken()}`],
  ...['--name', name, '--wait-for', '2', '--backend', 'cpu', '--relay-only'],
];

async function members(at: SignalingServer): Promise<MemberState[]> {
  const response = await fetch(`${at.url}/api/runs/${RUN.id}`);
  return RunStateSchema.parse(((await response.json()) as { state: unknown }).state).members;
}

/** The peer id and TURN user name a peer printed once it joined. */
function joinedAs(peer: PeerProcess): { peerId: string; username: string } | undefined {
  const peerId = /joined run '[\w-]+' as ([\w-]+)/.exec(peer.output)?.[1];
  const username = /^ICE servers: .*turn:\S+ \(user (\d+:[\w-]+),/m.exec(peer.output)?.[1];
  return peerId && username ? { peerId, username } : undefined;
}

it('two relay-only peers train together through coturn, their links say relay, their credentials expire', async () => {
  const joinedAfter = Math.floor(Date.now() / 1000);
  const peers = ['a', 'b'].map((name) => startPeer(peerArgs(server, name), children));
  const outputs = () => peers.map((p) => tail(p, 20)).join('\n');

  // Both trained past step 3, and each reports its link to the other open through the relay.
  const trained = await until(
    'both peers to train 3 steps over relayed links',
    async () => {
      const state = await members(server);
      const relayed = state.filter(
        (m) =>
          (m.step ?? 0) >= 3 &&
          state.every(
            (other) =>
              other === m ||
              m.links.some((l) => l.peer === other.peer && l.state === 'open' && l.route === 'relay'),
          ),
      );
      return state.length === 2 && relayed.length === 2 ? state : undefined;
    },
    90_000,
    outputs,
  );
  for (const member of trained) {
    expect(member.step).toBeGreaterThanOrEqual(3);
    const [link] = member.links;
    expect(link).toMatchObject({
      state: 'open',
      route: 'relay',
      candidates: { local: 'relay', remote: 'relay' },
    });
    expect(link.bytesReceived).toBeGreaterThan(0);
  }

  // Each peer got credentials of its own that expire within the TTL of its join.
  const joinedBefore = Math.floor(Date.now() / 1000);
  const credentials = peers.map((peer) => joinedAs(peer));
  expect(new Set(credentials.map((c) => c?.peerId))).toEqual(new Set(trained.map((m) => m.peer)));
  for (const credential of credentials) {
    const [expiry, owner] = credential!.username.split(':');
    expect(owner).toBe(credential!.peerId);
    expect(Number(expiry)).toBeGreaterThanOrEqual(joinedAfter + TTL_SECONDS);
    expect(Number(expiry)).toBeLessThanOrEqual(joinedBefore + TTL_SECONDS);
  }
  // No peer printed its password.
  for (const [i, peer] of peers.entries()) {
    const password = createHmac('sha1', turn.secret).update(credentials[i]!.username).digest('base64');
    expect(peer.output).not.toContain(password);
  }

  for (const peer of peers) peer.child.kill('SIGINT');
  for (const peer of peers) expect(await peer.exited).toBe(0);
}, 150_000);

it('a relay-only peer given no TURN relay stops, naming what is missing', async () => {
  const withoutTurn = await signalingServer();
  const peer = startPeer(peerArgs(withoutTurn, 'lonely'), children);
  expect(await peer.exited).toBe(1);
  expect(peer.output).toContain("--relay-only, but neither the server nor run 'relay' gives a TURN relay");
  expect(peer.output).toContain('--turn');
}, 120_000);
