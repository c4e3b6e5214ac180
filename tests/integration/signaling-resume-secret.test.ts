/**
 * Peer identity, over real socket.io on loopback: peer ids are public (run state, relayed signals), so a
 * join hands each peer a secret, and taking back a place takes that secret; before and after a server
 * restart, a resume without it or with another is refused ('bad-secret') and changes nothing, and the
 * right one takes the place back. The secret is in no API answer, snapshot or log line. The client's
 * SignalingSession keeps it and resumes with it by itself after a restart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AckSchema, type Epoch, type EpochProposal, EVENTS, JoinAckSchema } from '@demuon/shared/protocol';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { SignalingSession } from '../../client/src/net/signaling-session';
import { SocketIoSignaling } from '../../client/src/net/signaling-socket';
import type { Logger, SignalingServer } from '../../signaling-server/src';
import type { TestClient } from '../../signaling-server/testing/test-client';
import { signalingMembers, until } from '../helpers/signaling-members';

const RUN = { id: 'r', topology: 'ring', algorithm: { name: 'demuon', lr: { eta: 0.05 } } };
const logLines: string[] = [];
const log: Logger = { info: (line) => logLines.push(line), warn: (line) => logLines.push(line) };
const members = signalingMembers('signaling-resume-secret-');
const { env, stop, connect } = members;
const start = (port = 0) => members.start({ port, runs: [RUN], heartbeatTimeoutMs: 30_000, log });

/** Two members of run r. */
async function pair(server: SignalingServer): Promise<TestClient[]> {
  const peers: TestClient[] = [];
  for (const name of ['a', 'b']) {
    const peer = await connect(server);
    await peer.join('r', server.runs.get('r')!.secretToken(), { name });
    peers.push(peer);
  }
  await Promise.all(peers.map((peer) => peer.epoch(2)));
  return peers;
}

/** A resume of `peerId` from a new socket, with `secret` (left out when undefined). */
async function resume(server: SignalingServer, peerId: string, secret?: string) {
  const client = await connect(server);
  const reply = await client.request(EVENTS.join, {
    runId: 'r',
    token: server.runs.get('r')!.secretToken(),
    platform: 'node',
    backend: 'cpu',
    resume: secret === undefined ? { peerId } : { peerId, secret },
  });
  return { client, reply: AckSchema.parse(reply) };
}

function membersOf(server: SignalingServer) {
  return server.runs
    .get('r')!
    .state(Date.now())
    .members.map((m) => [m.peer, m.away]);
}

describe('resume secrets', () => {
  it('are handed out per peer, and shown by no API, snapshot or log line', async () => {
    const server = await start();
    const peers = await pair(server);
    const secrets = peers.map((peer) => peer.secret);
    expect(secrets[0]).toMatch(/^[0-9a-f]{36}$/);
    expect(secrets[1]).not.toBe(secrets[0]);

    const watcher = await connect(server);
    expect(await watcher.request(EVENTS.watch, { runId: 'r' })).toEqual({ ok: true });
    const seen = [
      await (await fetch(`${server.url}/api/runs`)).text(),
      await (await fetch(`${server.url}/api/runs/r`)).text(),
      await (await fetch(`${server.url}/api/runs/r/metrics.json`)).text(),
      JSON.stringify(await watcher.next(EVENTS.runState)),
      JSON.stringify(peers.map((peer) => peer.current)),
      ...logLines,
    ].join('\n');
    for (const secret of secrets) expect(seen).not.toContain(secret);
    // Only the membership file holds them (a restarted server needs them), and nothing serves it.
    await stop(server);
    const stored = readFileSync(join(env.dataDir, 'r', 'membership.json'), 'utf8');
    for (const secret of secrets) expect(stored).toContain(secret);
    const again = await start(server.port);
    expect((await fetch(`${again.url}/r/membership.json`)).status).toBe(404);
    expect(logLines.join('\n')).not.toContain(secrets[0]);
  });

  it('refuse a resume without the secret or with another, before and after a restart; the right one resumes', async () => {
    const first = await start();
    const peers = await pair(first);
    const [a, b] = peers;

    // Connected members cannot be displaced, and whether one is connected is not told without its secret.
    for (const secret of [undefined, 'guess', b.secret]) {
      const { reply } = await resume(first, a.peerId, secret);
      expect(reply).toMatchObject({ ok: false, error: { code: 'bad-secret' } });
    }
    expect((await resume(first, a.peerId, a.secret)).reply).toMatchObject({
      ok: false,
      error: { code: 'cannot-resume', message: /connected on another socket/ },
    });

    await stop(first);
    const second = await start(first.port);
    const before = membersOf(second);
    expect(before).toEqual([
      [a.peerId, true],
      [b.peerId, true],
    ]);
    const refusals = [
      [undefined, /resume needs the peer's secret/],
      ['', /resume needs the peer's secret/],
      ['0'.repeat(36), /wrong secret for peer/],
      [b.secret, /wrong secret for peer/],
      [`${a.secret}0`, /wrong secret for peer/],
    ] as const;
    for (const [secret, message] of refusals) {
      const { client, reply } = await resume(second, a.peerId, secret);
      expect(reply, String(secret)).toEqual({
        ok: false,
        error: { code: 'bad-secret', message: expect.stringMatching(message) },
      });
      expect(await client.error()).toMatchObject({ code: 'bad-secret', event: EVENTS.join });
      expect(client.drain(EVENTS.epoch)).toEqual([]);
      expect(membersOf(second)).toEqual(before);
    }

    const { client, reply } = await resume(second, a.peerId, a.secret);
    expect(JoinAckSchema.parse(reply)).toMatchObject({ peerId: a.peerId, secret: a.secret });
    expect((await client.epoch(0)).members).toEqual([a.peerId, b.peerId]);
    expect(membersOf(second)).toEqual([
      [a.peerId, false],
      [b.peerId, true],
    ]);
  });

  it('are kept by the client session, which resumes with its own after a restart', async () => {
    const first = await start();
    const socket = io(first.url, { transports: ['websocket'], forceNew: true });
    const signaling = new SocketIoSignaling(socket);
    const lines: string[] = [];
    const epochs: Epoch[] = [];
    const handlers = {
      epoch: (epoch: Epoch) => epochs.push(epoch),
      // As a peer that has not started: it holds before step 0 until the commit.
      proposal: (proposal: EpochProposal) =>
        signaling.emit(EVENTS.epochReady, { epoch: proposal.epoch, barrier: 0 }),
      signal() {},
      evicted: (reason: string) => lines.push(`evicted: ${reason}`),
      collect() {},
      log: (line: string) => lines.push(line),
    };
    try {
      const request = {
        runId: 'r',
        token: first.runs.get('r')!.secretToken(),
        platform: 'node',
        backend: 'cpu',
      } as const;
      const session = await SignalingSession.join(signaling, request, handlers);
      await until('the first epoch to be committed', () => epochs.length > 0);
      await stop(first);
      const second = await start(first.port);
      await until(
        'the session to resume its place',
        () => lines.some((l) => l.startsWith('signaling back')),
        10_000,
      );
      expect(lines).toEqual([`signaling back: resumed as ${session.peerId}, sending 0 held reports`]);
      expect(membersOf(second)).toEqual([[session.peerId, false]]);
      session.close(true);
    } finally {
      signaling.close();
    }
  });
});
