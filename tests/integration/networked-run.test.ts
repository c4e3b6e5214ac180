/**
 * Networked runs end to end: the signaling server on loopback, peers joining with real socket.io
 * clients, WebRTC data channels to their neighbours, DeMuon on the tiny GPT with fp32 gossip.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consensusError } from '@demuon/shared/optim';
import type { StepReport } from '@demuon/shared/peer';
import {
  FRAME_HEADER_BYTES,
  MAX_FRAME_BYTES,
  type RunConfig,
  RunConfigSchema,
} from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import type { Socket } from 'socket.io-client';
import { expect, it } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import { nodePeerEnv, type Peer, simulatedParams } from '../helpers/node-peers';
import { until } from '../helpers/peer-process';

const N = 4;
const RUN = RunConfigSchema.parse({
  id: 'net',
  model: { preset: 'tiny', vocab: 512 },
  topology: 'ring',
  algorithm: { name: 'demuon', lr: { eta: 0.05, schedule: 'linear' } },
  steps: 30,
  batch: 4,
  evalEvery: 10,
  evalBatches: 1,
  seed: 5,
  // On a loaded machine, loopback WebRTC now and then stalls for seconds (SCTP retransmission timeouts);
  // a round that timed out would mix without that neighbour and part from the simulator.
  gossipTimeoutMs: 60_000,
});
const FAULT_RUN = RunConfigSchema.parse({ ...RUN, id: 'net-fault', steps: 16 });
const LATE_RUN = RunConfigSchema.parse({ ...RUN, id: 'net-late', steps: 14 });
const LEAVE_RUN = RunConfigSchema.parse({ ...RUN, id: 'net-leave', steps: 12 });
const ROGUE_RUN = RunConfigSchema.parse({ ...RUN, id: 'net-rogue', steps: 8 });
const RESTART_RUN = RunConfigSchema.parse({ ...RUN, id: 'net-restart', steps: 20, evalEvery: 10 });

const env = nodePeerEnv([RUN, FAULT_RUN, LATE_RUN, LEAVE_RUN, ROGUE_RUN], RUN.batch, 'networked-run-');
const joinPeer = env.join;

/** Every node's final parameters when the simulator runs `run` on N nodes with the peers' seeds. */
function simulatorParams(run: RunConfig): Promise<Float32Array[][]> {
  return simulatedParams(env, run, N);
}

/** The largest absolute difference between any peer's final parameters and the first peer's. */
function spread(group: Peer[]): number {
  const [first, ...rest] = group.map((p) => p.finalParams!);
  return Math.max(
    ...rest.map((params) =>
      Math.max(...params.map((t, k) => Math.max(...t.map((v, e) => Math.abs(v - first[k][e]))))),
    ),
  );
}

it('four peers over WebRTC train to exactly the simulator’s parameters', async () => {
  const group: Peer[] = [];
  for (let i = 0; i < N; i++) group.push(await joinPeer(RUN, { waitForPeers: N }));
  await Promise.all(group.map((p) => p.train()));

  // Per-link figures reach the server: bytes, frames, throughput and no drops on each of the two links.
  // Read at once: the simulator below blocks this process (the server's too) long enough, on a loaded
  // machine, for the idle peers to miss their heartbeats and be removed.
  const state = (await (await fetch(`${env.server.url}/api/runs/${RUN.id}`)).json()) as {
    state: { members: { links: Record<string, number | string>[] }[] };
  };
  expect(state.state.members).toHaveLength(N);
  for (const member of state.state.members) {
    expect(member.links).toHaveLength(2);
    for (const link of member.links) {
      expect(link.bytesSent).toBeGreaterThan(0);
      expect(link.framesReceived).toBeGreaterThan(0);
      expect(link.bytesPerSecond).toBeGreaterThan(0);
      expect(link.drops).toBe(0);
    }
  }
  console.log(`a link as the server shows it: ${JSON.stringify(state.state.members[0].links[0])}`);

  const simulated = await simulatorParams(RUN);
  for (const [i, peer] of group.entries()) expect(peer.finalParams).toEqual(simulated[i]);

  // The server saw every peer's metrics.
  const response = await fetch(`${env.server.url}/api/runs/${RUN.id}/metrics.json`);
  const { points } = (await response.json()) as {
    points: { peer: string; step: number; valLoss?: number; disagreement?: number }[];
  };
  expect(new Set(points.map((p) => p.peer)).size).toBe(N);
  // Validation loss falls from the uniform guess (ln 512 = 6.24), and the peers stay close to consensus.
  const meanVal = (step: number) => {
    const vals = points.filter((p) => p.step === step && p.valLoss !== undefined).map((p) => p.valLoss!);
    expect(vals).toHaveLength(N);
    return vals.reduce((a, b) => a + b, 0) / N;
  };
  const [middle, last] = [meanVal(RUN.evalEvery), meanVal(RUN.steps)];
  // Each peer's disagreement with its neighbourhood is reported, and shrinks as the run settles.
  const disagreement = (step: number) =>
    Math.max(...points.filter((p) => p.step === step).map((p) => p.disagreement ?? Number.NaN));
  console.log(
    `largest disagreement with neighbours: step ${RUN.evalEvery} ${disagreement(RUN.evalEvery).toExponential(2)}, step ${RUN.steps} ${disagreement(RUN.steps).toExponential(2)}`,
  );
  expect(disagreement(RUN.steps)).toBeLessThan(disagreement(RUN.evalEvery));
  const consensus = consensusError(
    env.engine.params.map((p) => p.shape),
    group.map((p) => p.finalParams!),
  );
  console.log(
    `mean validation loss ${middle.toFixed(3)} at step ${RUN.evalEvery}, ${last.toFixed(3)} at step ${RUN.steps}; consensus error ${consensus.toExponential(2)}`,
  );
  expect(last).toBeLessThan(middle);
  expect(last).toBeLessThan(Math.log(512) - 0.5);
  expect(consensus).toBeLessThan(0.05);
});

it('a peer killed mid-run: the others finish on the new epoch and agree', async () => {
  const lastEpochSize = new Map<Peer, number>();
  const group: Peer[] = [];
  for (let i = 0; i < N; i++) {
    const victim = i === N - 1;
    group.push(
      await joinPeer(FAULT_RUN, {
        waitForPeers: N,
        onStep: (peer, socket, report, epoch) => {
          lastEpochSize.set(peer, epoch.members.length);
          if (victim && report.step === 3) {
            // As a closed tab does: its links and its socket vanish mid-run.
            void peer.close({ linger: false });
            socket.disconnect();
          }
        },
      }),
    );
  }
  await Promise.all(group.map((p) => p.train()));
  const survivors = group.slice(0, N - 1);
  for (const p of survivors) expect(lastEpochSize.get(p)).toBe(N - 1);
  expect(spread(survivors)).toBeLessThan(1e-3);
  const response = await fetch(`${env.server.url}/api/runs/${FAULT_RUN.id}`);
  const { state } = (await response.json()) as { state: { members: unknown[] } };
  expect(state.members).toHaveLength(N - 1);
});

it('a peer that leaves mid-run has its links closed from its neighbours’ end; they finish and agree', async () => {
  // Which end closed each of the leaver's connections: this one (destroyed with its channel still open)
  // or the other (simple-peer destroys it too, once its channel has closed).
  const closedBy: ('this end' | 'the other end')[] = [];
  const leaverConnect = (settings: SimplePeer.Options) => {
    const instance = new SimplePeer({ ...settings, wrtc });
    const channel = () => (instance as unknown as { _channel?: RTCDataChannel })._channel;
    let opened = false;
    instance.once('connect', () => {
      opened = true;
    });
    const destroy = instance.destroy.bind(instance);
    instance.destroy = (error?: Error) => {
      if (opened && !instance.destroyed)
        closedBy.push(channel()?.readyState === 'open' ? 'this end' : 'the other end');
      return destroy(error);
    };
    return instance;
  };
  const group: Peer[] = [];
  for (let i = 0; i < 3; i++) {
    const leaver = i === 2;
    group.push(
      await joinPeer(LEAVE_RUN, {
        waitForPeers: 3,
        ...(leaver ? { connect: leaverConnect } : {}),
        onStep: (peer, _socket, report) => {
          if (leaver && report.step === 3) peer.stop();
        },
      }),
    );
  }
  const [a, b, leaver] = group;
  const leaving = leaver.train().then(async (outcome) => {
    expect(outcome).toEqual({ kind: 'stopped' });
    await leaver.close();
  });
  await Promise.all([a.train(), b.train(), leaving]);
  // It left its two links open, and each neighbour closed its end once it heard of the leave.
  expect(closedBy).toEqual(['the other end', 'the other end']);
  expect(spread([a, b])).toBeLessThan(1e-3);
});

it('a late joiner takes its state from a neighbour and trains in step with the others', async () => {
  const logs: string[] = [];
  const firstStep = new Map<Peer, number>();
  const record = (peer: Peer, _socket: Socket, report: StepReport) => {
    if (!firstStep.has(peer)) firstStep.set(peer, report.step);
  };
  let late: Promise<Peer> | null = null;
  const joinLate = () => joinPeer(LATE_RUN, { waitForPeers: 1, onStep: record, log: (l) => logs.push(l) });
  const early = [
    await joinPeer(LATE_RUN, {
      waitForPeers: 3,
      onStep: (peer, socket, report) => {
        record(peer, socket, report);
        if (report.step === 3 && !late) late = joinLate();
      },
    }),
    await joinPeer(LATE_RUN, { waitForPeers: 3, onStep: record }),
    await joinPeer(LATE_RUN, { waitForPeers: 3, onStep: record }),
  ];
  const training = early.map((p) => p.train());
  while (!late) await new Promise((r) => setTimeout(r, 50));
  const joiner = await (late as Promise<Peer>);
  await Promise.all([...training, joiner.train()]);

  expect(firstStep.get(joiner)).toBeGreaterThan(3);
  expect(logs.some((l) => l.startsWith('took parameters and optimizer state from'))).toBe(true);
  const difference = spread([...early, joiner]);
  console.log(
    `late joiner started at step ${firstStep.get(joiner)}; largest parameter difference at the end ${difference.toExponential(2)}`,
  );
  expect(difference).toBeLessThan(1e-2);
});

/**
 * A rogue neighbour: before the first frame of every tensor it sends, garbage of every kind a broken or
 * hostile peer could send. Its honest frames still follow, so a receiver that contains the garbage ends
 * exactly where the simulator does.
 */
function rogue(connection: SimplePeer.Instance): SimplePeer.Instance {
  const write = connection.write.bind(connection) as (chunk: Uint8Array) => boolean;
  connection.write = ((chunk: Uint8Array) => {
    const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const step = view.getUint32(16, true);
    if (view.getUint16(28, true) === 0) {
      const variant = (edit: (v: DataView, bytes: Uint8Array) => void, length = chunk.byteLength) => {
        const bytes = new Uint8Array(length);
        bytes.set(chunk.subarray(0, Math.min(length, chunk.byteLength)));
        edit(new DataView(bytes.buffer), bytes);
        write(bytes);
      };
      write(Uint8Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff)); // malformed
      variant(() => {}, MAX_FRAME_BYTES + 4096); // oversized
      variant((_, b) => b.fill(0xff, FRAME_HEADER_BYTES)); // NaN values
      variant((v) => v.setUint32(8, v.getUint32(8, true) ^ 1, true)); // another run
      variant((v) => v.setUint32(32, 0x7fffffff, true)); // out of bounds
      variant((v) => v.setUint32(16, step + 1000, true)); // far ahead
      if (step > 0) variant((v) => v.setUint32(16, step - 1, true)); // stale: a step already mixed
    }
    return write(chunk);
  }) as typeof connection.write;
  return connection;
}

it('a neighbour sending malformed, oversized, NaN, foreign and stale frames is contained', async () => {
  const group: Peer[] = [];
  // What the peers said, for the failure message: a round that gave up on a neighbour names it.
  const logs: string[] = [];
  for (let i = 0; i < N; i++) {
    group.push(
      await joinPeer(ROGUE_RUN, {
        waitForPeers: N,
        log: (line) => logs.push(`peer ${i}: ${line}`),
        ...(i === 0 ? { connect: (settings) => rogue(new SimplePeer({ ...settings, wrtc })) } : {}),
      }),
    );
  }
  await Promise.all(group.map((p) => p.train()));
  // Ring 0-1-2-3: peers 1 and 3 hear the rogue and dropped its garbage; peer 2 never saw any.
  for (const victim of [group[1], group[3]]) {
    const reasons = victim.droppedFrames();
    console.log(`frames dropped by a neighbour of the rogue: ${JSON.stringify(reasons)}`);
    for (const reason of ['malformed', 'bad values', 'other run', 'out of bounds', 'stale'])
      expect(reasons[reason], reason).toBeGreaterThan(0);
  }
  expect(group[2].droppedFrames()).toEqual({});
  // Nothing of it reached the optimizer: every peer ends exactly where the simulator does.
  const simulated = await simulatorParams(ROGUE_RUN);
  for (const [i, peer] of group.entries()) {
    expect(peer.finalParams, `peer ${i}; the peers said:\n${logs.join('\n')}`).toEqual(simulated[i]);
  }
});

it('the signaling server restarted mid-run: peers train on, take back their places, nothing is lost', async () => {
  const restartDir = mkdtempSync(join(tmpdir(), 'networked-restart-'));
  const first = await createSignalingServer({
    port: 0,
    dataDir: restartDir,
    runs: [RESTART_RUN],
    log: silentLogger,
  });
  const port = Number(new URL(first.url).port);
  const epochs = new Set<number>();
  const logs: string[] = [];
  let restarted: Promise<SignalingServer> | null = null;
  const group: Peer[] = [];
  for (let i = 0; i < N; i++) {
    group.push(
      await joinPeer(RESTART_RUN, {
        at: first,
        waitForPeers: N,
        log: (line) => logs.push(line),
        onStep: (_peer, _socket, report, epoch) => {
          epochs.add(epoch.epoch);
          // The server goes down after step 5 and comes back on the same port and data directory.
          if (report.step === 5 && !restarted)
            restarted = first
              .close()
              .then(() => createSignalingServer({ port, dataDir: restartDir, log: silentLogger }));
        },
      }),
    );
  }
  await Promise.all(group.map((p) => p.train()));
  const second = await (restarted as unknown as Promise<SignalingServer>);
  try {
    // Every peer resumes its place (one that finished its steps first, once its socket is back), so the
    // restart made no new epoch and training is the simulator's.
    await until('every peer to resume its place', () =>
      logs.filter((l) => l.startsWith('signaling back: resumed as')).length === N ? true : undefined,
    );
    expect(epochs.size).toBe(1);
    const simulated = await simulatorParams(RESTART_RUN);
    for (const [i, peer] of group.entries()) expect(peer.finalParams).toEqual(simulated[i]);

    // The restarted server has the run and every peer's metrics from before, during and after the outage.
    const response = await fetch(`${second.url}/api/runs/${RESTART_RUN.id}/metrics.json`);
    const { points } = (await response.json()) as { points: { peer: string; step: number }[] };
    for (const peer of group) {
      const steps = points.filter((p) => p.peer === peer.peerId).map((p) => p.step);
      expect(steps.some((s) => s <= 5)).toBe(true);
      expect(steps).toContain(RESTART_RUN.steps);
      expect(new Set(steps).size).toBe(steps.length);
    }
  } finally {
    await second.close();
    rmSync(restartDir, { recursive: true, force: true });
  }
});
