/**
 * A hostile member relays WebRTC signals that the schema accepts but a connection cannot take: a candidate
 * a browser's RTCIceCandidate refuses (thrown inside simple-peer's `signal()`), junk SDP in an offer, an
 * answer for a connection that never offered, and more signals once the connection is destroyed. It joins
 * again and again with the run's token, so each time it is the honest peers' neighbour anew. The honest
 * peers (in-process NetworkPeers, real signaling server, real WebRTC; one with a browser's strict
 * RTCIceCandidate) lose that connection at most, and train on.
 */
import { EVENTS, type RelayedSignal, RunConfigSchema } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { expect, it } from 'vitest';
import { TestClient } from '../../signaling-server/testing/test-client';
import { nodePeerEnv } from '../helpers/node-peers';
import { until } from '../helpers/peer-process';
import { strictWrtc } from '../helpers/strict-wrtc';

const RUN = RunConfigSchema.parse({
  id: 'hostile',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05 } },
  steps: 100_000,
  batch: 4,
  evalEvery: 1000,
  evalBatches: 1,
  // A link that never opens is given up on after this: short, so that each attack costs little time.
  gossipTimeoutMs: 3000,
});
const ATTACKS = 3;

const env = nodePeerEnv([RUN], RUN.batch, 'hostile-signals-');

/** Signals a WebRTC peer cannot take, each of a shape the signal schema accepts. */
const JUNK = [
  // sdpMid and sdpMLineIndex both absent: a browser's RTCIceCandidate throws a TypeError.
  { type: 'candidate', candidate: { candidate: 'candidate:garbage' } },
  { type: 'offer', sdp: 'this is not SDP' },
  // An answer nobody asked for: the connection the offer above ended is gone, and a new one never offered.
  { type: 'answer', sdp: 'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' },
  { type: 'candidate', candidate: { candidate: '\u0000garbage', sdpMid: '0', sdpMLineIndex: 0 } },
  { type: 'offer', sdp: 'v=0\r\n'.repeat(1000) },
] as const;

/** Steps each honest peer has finished, and waits for a step to come. */
class Progress {
  step = -1;
  private readonly waiting: { step: number; resolve: () => void }[] = [];

  finished(step: number): void {
    this.step = step;
    for (const w of this.waiting.filter((w) => w.step <= step)) {
      this.waiting.splice(this.waiting.indexOf(w), 1);
      w.resolve();
    }
  }

  reached(step: number): Promise<void> {
    if (this.step >= step) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ step, resolve }));
  }
}

/**
 * Joins as a member, opens a genuine connection with each honest neighbour (so that theirs has a remote
 * description, where a bad candidate is built at once), then sends the junk. Leaves once every honest peer
 * has logged the failure of the junk SDP it was sent, i.e. has taken all of it.
 */
async function attack(round: number, logs: readonly string[][]): Promise<void> {
  const token = env.server.runs.get(RUN.id)!.secretToken();
  const hostile = await TestClient.connect(env.server.url);
  await hostile.join(RUN.id, token, { name: `hostile ${round}` });
  const stopHeartbeats = hostile.heartbeats(500);
  const proposal = await hostile.proposed(0, 30_000);
  const targets = proposal.members.filter((p) => p !== hostile.peerId);
  const connections = await Promise.all(
    targets.map(async (target) => {
      const own = new SimplePeer({ initiator: hostile.peerId < target, wrtc });
      own.on('error', () => {}); // the honest side hangs up on it
      own.on('signal', (data) => hostile.socket.emit(EVENTS.signal, { to: target, data }));
      const relay = ({ from, data }: RelayedSignal) => {
        if (from === target && !own.destroyed) own.signal(data as SimplePeer.SignalData);
      };
      hostile.socket.on(EVENTS.signal, relay);
      await new Promise((resolve) => {
        own.once('connect', resolve);
        own.once('close', resolve);
      });
      hostile.socket.off(EVENTS.signal, relay);
      for (const data of JUNK) hostile.socket.emit(EVENTS.signal, { to: target, data });
      return own;
    }),
  );
  // Its own ends stay open until then: closing them could close the honest ends before the junk arrives.
  const failed = new RegExp(`link to ${hostile.peerId}: .*(SDP|Expect line)`, 'i');
  await until('the honest peers to take the junk', () =>
    logs.every((log) => log.some((l) => failed.test(l))) ? true : undefined,
  );
  for (const own of connections) own.destroy();
  stopHeartbeats();
  hostile.close();
}

it('relayed signals a connection cannot take cost that connection at most; honest peers train on', async () => {
  const progress = [new Progress(), new Progress()];
  const logs: string[][] = [[], []];
  const join = (i: number, connect?: (s: SimplePeer.Options) => SimplePeer.Instance) =>
    env.join(RUN, {
      waitForPeers: 2,
      connect,
      log: (line) => {
        logs[i].push(line);
        if (process.env.HOSTILE_LOG) console.log(`${Date.now() % 100000} ${i} ${line}`);
      },
      onStep: (_peer, _socket, report) => progress[i].finished(report.step),
    });
  const honest = [await join(0), await join(1, (s) => new SimplePeer({ ...s, wrtc: strictWrtc }))];
  const training = honest.map((p) => p.train());
  await Promise.all(progress.map((p) => p.reached(2)));

  for (let round = 0; round < ATTACKS; round++) await attack(round, logs);

  // Both go on training, together and alone in the run, after the last attack.
  const after = progress.map((p) => p.step);
  await Promise.all(progress.map((p, i) => p.reached(after[i] + 5)));
  const members = env.server.runs
    .get(RUN.id)!
    .state(Date.now())
    .members.map((m) => m.peer);
  expect(members.sort()).toEqual(honest.map((p) => p.peerId).sort());
  // Each leaves once stopped, so that the other, maybe a step ahead, does not wait for it.
  for (const p of honest) p.stop();
  const outcomes = await Promise.all(training.map((t, i) => t.finally(() => honest[i].close())));
  expect(outcomes).toEqual([{ kind: 'stopped' }, { kind: 'stopped' }]);
  // The strict peer refused the bad candidate each time, with the reason.
  const refused = logs[1].filter((l) => l.includes('refused a signal'));
  expect(refused.length).toBeGreaterThanOrEqual(ATTACKS);
  expect(refused[0]).toContain('sdpMid and sdpMLineIndex are both null');
});
