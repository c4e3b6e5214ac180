/**
 * A restarted signaling server and damaged or hostile stored state, over real socket.io on loopback: a
 * membership.json that does not parse, names an epoch or activation step no run reaches, lacks the resume
 * secrets, or holds steps that are no steps of the run never keeps the server from starting. The damaged
 * file is moved aside with a warning naming the problem, and the run goes on (peers join again, epoch
 * numbers stay ones every peer accepts); a bad step alone is forgotten and the members are kept. Epoch
 * counters in runs.json or metrics.jsonl beyond any run's are dropped with a warning.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EpochSchema, EVENTS } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import type { Logger, SignalingServer } from '../../signaling-server/src';
import type { TestClient } from '../../signaling-server/testing/test-client';
import { signalingMembers } from '../helpers/signaling-members';

const RUN = { id: 'r', topology: 'ring', steps: 100, algorithm: { name: 'demuon', lr: { eta: 0.05 } } };
const members = signalingMembers('signaling-stored-state-');
const { env, stop, connect } = members;

function start(warnings: string[] = [], port = 0): Promise<SignalingServer> {
  const log: Logger = { info() {}, warn: (line) => warnings.push(line) };
  return members.start({ port, runs: [RUN], log });
}

/** Three members of run r that reported steps 5, 6 and 7; the server is stopped, its files written. */
async function storedRun(): Promise<{ file: string; text: string; peers: TestClient[]; epoch: number }> {
  const server = await start();
  const peers: TestClient[] = [];
  for (const name of ['a', 'b', 'c']) {
    const peer = await connect(server);
    await peer.join('r', server.runs.get('r')!.secretToken(), { name });
    peers.push(peer);
  }
  await Promise.all(peers.map((peer) => peer.epoch(3)));
  for (const [i, peer] of peers.entries())
    expect(await peer.request(EVENTS.progress, { step: 5 + i })).toEqual({ ok: true });
  await stop(server);
  const file = join(env.dataDir, 'r', 'membership.json');
  return { file, text: readFileSync(file, 'utf8'), peers, epoch: 3 };
}

/** A fresh peer joins the run of `server`: its epoch is one every peer's schema accepts. */
async function joinsAfresh(server: SignalingServer, after: number): Promise<void> {
  const peer = await connect(server);
  await peer.join('r', server.runs.get('r')!.secretToken());
  const epoch = EpochSchema.parse(await peer.epoch(0));
  expect(epoch.epoch).toBeGreaterThan(after);
  expect(epoch.members).toContain(peer.peerId);
}

describe('a damaged membership.json', () => {
  it('is moved aside with a warning naming the problem, and the run starts without its members', async () => {
    const { file, text, epoch } = await storedRun();
    const stored = JSON.parse(text);
    const cases: [string, RegExp][] = [
      ['{"version":1,"epoch":', /not valid JSON/],
      [text.replace(/"joiners":\[[^\]]*\]/, '"joiners":["ghost"]'), /joiner ghost is not a member/],
      [text.replace('"platform":"node"', '"platform":"toaster"'), /members\.0\.platform/],
      // An epoch number no run reaches: the next one would be no safe integer.
      [JSON.stringify({ ...stored, epoch: Number.MAX_SAFE_INTEGER }), /epoch/],
      // An activation step past the run: every peer's schema refused the epoch it came in.
      [
        JSON.stringify({ ...stored, activationStep: Number.MAX_SAFE_INTEGER }),
        /activation step \d+ is past the run's 100 steps/,
      ],
      // A file from before resume secrets: nobody could prove a place its own.
      [text.replaceAll(/"secret":"[0-9a-f]+",/g, ''), /members\.0\.secret/],
    ];
    for (const [damaged, problem] of cases) {
      writeFileSync(file, damaged);
      const warnings: string[] = [];
      const server = await start(warnings);
      expect(warnings.join('\n'), problem.source).toMatch(problem);
      expect(warnings.join('\n')).toMatch(
        /starts without the members it held .*moved to .*membership\.json\.damaged/,
      );
      expect(readFileSync(`${file}.damaged`, 'utf8')).toBe(damaged);
      expect(server.runs.get('r')!.memberCount).toBe(0);
      await joinsAfresh(server, epoch);
      await stop(server);
    }
  });

  it('forgets a member step that is no step of the run, keeping the members', async () => {
    const { file, text, peers } = await storedRun();
    const stored = JSON.parse(text);
    stored.members[0].step = Number.MAX_SAFE_INTEGER;
    stored.members[1].step = -3;
    writeFileSync(file, JSON.stringify(stored));
    const warnings: string[] = [];
    const server = await start(warnings);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /forgot the steps of .*9007199254740991.*-3.*not steps of a run of 100 steps/,
    );
    const state = server.runs.get('r')!.state(Date.now());
    expect(state.members.map((m) => [m.peer, m.away, m.step])).toEqual([
      [peers[0].peerId, true, null],
      [peers[1].peerId, true, null],
      [peers[2].peerId, true, 7],
    ]);
    // The members keep their places: a peer resumes as before.
    const back = await connect(server);
    const ack = await back.join('r', server.runs.get('r')!.secretToken(), {
      resume: { peerId: peers[0].peerId, secret: peers[0].secret },
    });
    expect(ack.peerId).toBe(peers[0].peerId);
    expect(existsSync(`${file}.damaged`)).toBe(false);
  });
});

describe('epoch numbers no run reaches', () => {
  it('in runs.json are dropped with a warning; the membership numbers the next epochs', async () => {
    const { epoch } = await storedRun();
    const file = join(env.dataDir, 'runs.json');
    const runs = JSON.parse(readFileSync(file, 'utf8'));
    const r = runs.runs.find((stored: { config: { id: string } }) => stored.config.id === 'r');
    Object.assign(r, { lastEpoch: Number.MAX_SAFE_INTEGER, committedEpoch: Number.MAX_SAFE_INTEGER });
    writeFileSync(file, JSON.stringify(runs));

    const warnings: string[] = [];
    const server = await start(warnings);
    expect(warnings).toEqual([
      expect.stringMatching(/run "r": epoch counters \d+\/\d+ are beyond any run's/),
    ]);
    expect(server.runs.get('r')!.memberCount).toBe(3);
    // The members are back; the next epoch (a fresh joiner) has a number every peer accepts.
    await joinsAfresh(server, epoch);
  });

  it('in metrics.jsonl are skipped with a warning; new epochs are numbered from the sane ones', async () => {
    const first = await start();
    const peer = await connect(first);
    await peer.join('r', first.runs.get('r')!.secretToken());
    await peer.epoch(1);
    await peer.request(EVENTS.leave);
    await stop(first);
    const point = {
      t: 1,
      peer: 'x',
      step: 1,
      epoch: Number.MAX_SAFE_INTEGER,
      bytesSent: 0,
      bytesReceived: 0,
    };
    appendFileSync(join(env.dataDir, 'r', 'metrics.jsonl'), `${JSON.stringify(point)}\n`);

    const warnings: string[] = [];
    const second = await start(warnings);
    expect(warnings.join('\n')).toMatch(
      /skipped 1 malformed line\(s\), first at line 1: epoch \d+ is beyond any run's/,
    );
    await joinsAfresh(second, 1);
  });
});
