/**
 * Two peers that have no route to each other, as peers behind two home NATs: each in a network namespace
 * of its own (tests/helpers/netns.ts), both reaching the root namespace, where coturn and the signaling
 * server listen, and never each other. First a direct TCP connection from one to the other is shown to go
 * nowhere (while both reach the root namespace); then two plain peers (no --relay-only: ICE finds the way
 * by itself) train together over a link the TURN relay carries.
 * Where the machine does not let the test make namespaces (not root, no iproute2, a container without
 * the capability), the tests are skipped, saying why; coturn must be installed wherever they run.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MemberState, RunStateSchema } from '@demuon/shared/protocol';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { createSignalingServer, type SignalingServer, silentLogger } from '../../signaling-server/src';
import {
  createIsolatedNetwork,
  type IsolatedNetwork,
  namespacesUnavailable,
  tcpListener,
  tcpProbe,
} from '../helpers/netns';
import { endlessTinyRun, killPeers, startPeer, tail, until } from '../helpers/peer-process';
import { startTurnServer, type TurnServer } from '../helpers/turn-server';

const RUN = endlessTinyRun('netns');
/** How long a direct connection gets to show it goes nowhere: two SYN retransmissions. */
const PROBE_MS = 3000;

let unavailable: string | undefined;
let network: IsolatedNetwork | undefined;
let turn: TurnServer | undefined;
let server: SignalingServer | undefined;
let dataDir: string | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  unavailable = namespacesUnavailable();
  if (unavailable) {
    console.warn(`turn-netns: skipped: ${unavailable}`);
    return;
  }
  network = createIsolatedNetwork();
  // Both servers listen on the root namespace's side of A's veth; B reaches it too (it is an address of
  // the root namespace, delivered there without forwarding).
  const rootAddress = network.a.gateway;
  turn = await startTurnServer({ listeningIp: rootAddress });
  dataDir = mkdtempSync(join(tmpdir(), 'turn-netns-'));
  server = await createSignalingServer({
    host: rootAddress,
    port: 0,
    dataDir,
    runs: [RUN],
    log: silentLogger,
    turn: { urls: [turn.url], secret: turn.secret },
  });
});

afterAll(async () => {
  // Processes first: a namespace that a process still holds keeps its veth.
  await killPeers(children);
  await server?.close();
  await turn?.stop();
  network?.remove();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function skipUnlessNamespaces(ctx: TestContext): IsolatedNetwork {
  ctx.skip(unavailable !== undefined, unavailable);
  return network!;
}

async function members(): Promise<MemberState[]> {
  const response = await fetch(`${server!.url}/api/runs/${RUN.id}`);
  return RunStateSchema.parse(((await response.json()) as { state: unknown }).state).members;
}

describe('peers in two network namespaces with no route between them', () => {
  it('reach the root namespace, and not each other', async (ctx) => {
    const { a, b } = skipUnlessNamespaces(ctx);
    const listener = await tcpListener(b.launcher, b.address);
    try {
      // B's listener takes connections, and A reaches the signaling server in the root namespace.
      expect(await tcpProbe([], b.address, listener.port, PROBE_MS)).toBe('connected');
      expect(await tcpProbe(a.launcher, a.gateway, server!.port, PROBE_MS)).toBe('connected');
      expect(await tcpProbe(b.launcher, a.gateway, server!.port, PROBE_MS)).toBe('connected');
      // A's packets to B go nowhere.
      expect(await tcpProbe(a.launcher, b.address, listener.port, PROBE_MS)).not.toBe('connected');
    } finally {
      listener.close();
    }
  }, 60_000);

  it('train together over a link the TURN relay carries', async (ctx) => {
    const { a, b } = skipUnlessNamespaces(ctx);
    const args = (name: string) => [
      // `--token=…`: a token may start with '-', which parseArgs would take for a flag.
      ...['--server', server!.url, '--run', RUN.id, `--token=${server!.runs.get(RUN.id)!.secretToken()}`],
      ...['--name', name, '--wait-for', '2', '--backend', 'cpu'],
    ];
    const peers = [
      startPeer(args('in-a'), children, undefined, a.launcher),
      startPeer(args('in-b'), children, undefined, b.launcher),
    ];
    const trained = await until(
      'both peers to train 3 steps over a relayed link',
      async () => {
        const state = await members();
        const relayed = state.filter(
          (m) => (m.step ?? 0) >= 3 && m.links.some((l) => l.state === 'open' && l.route === 'relay'),
        );
        return state.length === 2 && relayed.length === 2 ? state : undefined;
      },
      120_000,
      () => peers.map((p) => tail(p, 20)).join('\n'),
    );
    for (const member of trained) {
      expect(member.links).toHaveLength(1);
      expect(member.links[0]).toMatchObject({ state: 'open', route: 'relay' });
      expect(member.links[0].bytesReceived).toBeGreaterThan(0);
    }
    expect(new Set(trained.map((m) => m.name))).toEqual(new Set(['in-a', 'in-b']));
    for (const peer of peers) peer.child.kill('SIGINT');
    for (const peer of peers) expect(await peer.exited).toBe(0);
  }, 180_000);
});
