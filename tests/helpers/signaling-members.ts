/**
 * A signaling server per test with one ring run, and members joined to it through real socket.io clients
 * on loopback: what the epoch, report and status tests build on.
 */
import { type Epoch, EVENTS, type RunState, RunStateSchema } from '@demuon/shared/protocol';
import { expect } from 'vitest';
import {
  createSignalingServer,
  type SignalingServer,
  type SignalingServerOptions,
  silentLogger,
} from '../../signaling-server/src';
import type { Run } from '../../signaling-server/src/run';
import {
  type ConnectOptions,
  type JoinOptions,
  TestClient,
} from '../../signaling-server/testing/test-client';
import { signalingTestEnv } from './signaling-env';

export const RUN_ID = 'r';
const RUN = { id: RUN_ID, topology: 'ring', algorithm: { name: 'demuon', lr: { eta: 0.05 } } };

export function signalingMembers(prefix: string) {
  const env = signalingTestEnv(prefix);

  async function start(options: Partial<SignalingServerOptions> = {}): Promise<SignalingServer> {
    const server = await createSignalingServer({
      port: 0,
      dataDir: env.dataDir,
      runs: [RUN],
      log: silentLogger,
      ...options,
    });
    env.servers.push(server);
    return server;
  }

  /** Closes `server` (a restart test starts another on its port and data directory). */
  async function stop(server: SignalingServer): Promise<void> {
    await server.close();
    env.servers.splice(env.servers.indexOf(server), 1);
  }

  async function connect(server: SignalingServer, options: ConnectOptions = {}): Promise<TestClient> {
    const client = await TestClient.connect(server.url, options);
    env.clients.push(client);
    return client;
  }

  /** A client joined to the run (its proposal is answered automatically unless `barrier: false`). */
  async function join(
    server: SignalingServer,
    options: ConnectOptions & JoinOptions = {},
  ): Promise<TestClient> {
    const { barrier, ...joinOptions } = options;
    const client = await connect(server, { barrier });
    await client.join(RUN_ID, run(server).secretToken(), joinOptions);
    return client;
  }

  /** n members joined one after the other, each holding the epoch that made the last of them a member. */
  async function members(
    server: SignalingServer,
    n: number,
  ): Promise<{ peers: TestClient[]; epochs: Epoch[] }> {
    const peers: TestClient[] = [];
    for (let i = 0; i < n; i++) {
      const peer = await join(server, { name: `peer ${i}` });
      peers.push(peer);
      await peer.epoch(0);
    }
    const last = run(server).committedEpoch;
    const epochs = await Promise.all(
      peers.map((p) => (p.current?.epoch === last ? p.current : p.epoch(last))),
    );
    for (const epoch of epochs) expect(epoch.epoch).toBe(last);
    for (const peer of peers) peer.drain(EVENTS.epoch);
    return { peers, epochs };
  }

  return { env, start, stop, connect, join, members };
}

export function run(server: SignalingServer): Run {
  return server.runs.get(RUN_ID)!;
}

/** The run's state as dashboards get it, checked against its schema. */
export function runState(server: SignalingServer): RunState {
  return RunStateSchema.parse(run(server).state(Date.now()));
}

export function memberIds(server: SignalingServer): string[] {
  return runState(server).members.map((m) => m.peer);
}

/** Resolves once `condition` holds, checking every 10 ms; fails after timeoutMs naming `what`. */
export async function until(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
