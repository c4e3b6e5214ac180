import { consensusError } from '@demuon/shared/optim';
import type { StepReport } from '@demuon/shared/peer';
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { expect, it } from 'vitest';
import { type JoinOptions, nodePeerEnv, type Peer } from '../helpers/node-peers';

const BASE = {
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
  batch: 4,
  evalEvery: 1000,
  evalBatches: 1,
  seed: 3,
};
/** The connection deadline (gossipTimeoutMs) is short so that the test of a mute member is quick. */
const MUTE_RUN = RunConfigSchema.parse({ ...BASE, id: 'mute', steps: 12, gossipTimeoutMs: 3000 });
const CHURN_RUN = RunConfigSchema.parse({ ...BASE, id: 'churn', topology: 'complete', steps: 30 });

const env = nodePeerEnv([MUTE_RUN, CHURN_RUN], BASE.batch, 'peer-liveness-');

async function joinPeer(
  run: RunConfig,
  { onStep, ...options }: Omit<JoinOptions, 'onStep'> & { onStep?: (report: StepReport) => void } = {},
) {
  return env.join(run, {
    ...options,
    onStep: (_peer, _socket, report) => onStep?.(report),
    log: process.env.LIVENESS_LOG ? (line) => console.log(`${Date.now() % 100000} ${line}`) : undefined,
  });
}

/** Rounds that waited for a deadline and gave up (a closed channel gives up at once: not a deadline). */
function deadlineMisses(peer: Peer): number {
  const { silent = 0, stuck = 0, 'no-connection': noConnection = 0 } = peer.misses;
  return silent + stuck + noConnection;
}

it('a member whose data channels never open is routed around after the connection deadline', async () => {
  const honest = [
    await joinPeer(MUTE_RUN, { waitForPeers: 3 }),
    await joinPeer(MUTE_RUN, { waitForPeers: 3 }),
  ];
  // Its WebRTC offers and answers never leave it, as behind a strict NAT without TURN.
  const mute = await joinPeer(MUTE_RUN, {
    waitForPeers: 3,
    connect: (settings) => {
      const connection = new SimplePeer({ ...settings, wrtc });
      connection.emit = ((event: string, ...args: unknown[]) =>
        event === 'signal' ? false : SimplePeer.prototype.emit.call(connection, event, ...args)) as never;
      return connection;
    },
  });
  const outcomes = await Promise.all([...honest, mute].map((p) => p.train()));
  expect(outcomes.slice(0, 2)).toEqual([{ kind: 'done' }, { kind: 'done' }]);
  expect(outcomes[2].kind).toBe('evicted');
  // Each honest peer gave up on the mute one once, for its connection, and never waited for it again.
  for (const p of honest) expect(p.misses).toEqual({ 'no-connection': 1 });
  // Without it, the two trained together to the end and agree.
  const shapes = env.engine.params.map((p) => p.shape);
  const error = consensusError(
    shapes,
    honest.map((p) => p.finalParams!),
  );
  expect(error).toBeLessThan(0.05);
  const { state } = (await (await fetch(`${env.server.url}/api/runs/${MUTE_RUN.id}`)).json()) as {
    state: { members: { peer: string }[] };
  };
  expect(state.members.map((m) => m.peer).sort()).toEqual(honest.map((p) => p.peerId).sort());
});

it('a membership change at every step costs no round a deadline', async () => {
  const extras: { peer: Peer; training: Promise<unknown> }[] = [];
  let visitor: Peer | null = null;
  let changes = 0;
  let changing = Promise.resolve();
  // After each of 20 steps of the first stable peer, someone joins or the last joiner leaves.
  const change = async () => {
    if (visitor) {
      visitor.stop();
      visitor = null;
      return;
    }
    const peer = await joinPeer(CHURN_RUN);
    visitor = peer;
    // A visitor leaves the run once it stops, as a closed tab does.
    extras.push({ peer, training: peer.train().then(() => peer.close()) });
  };
  const stable = [
    await joinPeer(CHURN_RUN, {
      waitForPeers: 2,
      onStep: (report) => {
        if (report.step < 2 || changes >= 20) return;
        changes++;
        changing = changing.then(change);
      },
    }),
    await joinPeer(CHURN_RUN, { waitForPeers: 2 }),
  ];
  await Promise.all(stable.map((p) => p.train()));
  await changing;
  for (const e of extras) e.peer.stop();
  await Promise.all(extras.map((e) => e.training));
  expect(changes).toBe(20);
  expect(extras.length).toBe(10);
  for (const p of [...stable, ...extras.map((e) => e.peer)]) expect(deadlineMisses(p)).toBe(0);
  for (const p of stable) expect(p.finalParams).not.toBeNull();
  const waits = stable.flatMap((p) => p.barrierWaits);
  console.log(
    `membership changes: ${changes}; the stable peers were held for a commit ${waits.length} times, ` +
      `longest ${Math.max(0, ...waits).toFixed(1)} ms`,
  );
});
