/**
 * The signaling server's HTTP API, metrics hub, dashboards' `watch`, persistence across restarts, and
 * its configuration errors (CLI flags, config files, a damaged data directory).
 */
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AckSchema,
  EVENTS,
  METRICS_COLUMNS,
  type Metrics,
  MetricsPointSchema,
  RunStateSchema,
  RunSummarySchema,
} from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import {
  createSignalingServer,
  type Logger,
  type SignalingServer,
  silentLogger,
} from '../../signaling-server/src';
import { parseCli } from '../../signaling-server/src/cli';
import { TestClient } from '../../signaling-server/testing/test-client';
import { signalingTestEnv } from '../helpers/signaling-env';

const demuon = { name: 'demuon', lr: { eta: 0.05 } };
const env = signalingTestEnv('signaling-http-');

async function start(options: { runs?: unknown[]; log?: Logger } = {}): Promise<SignalingServer> {
  const server = await createSignalingServer({
    port: 0,
    dataDir: env.dataDir,
    log: silentLogger,
    ...options,
  });
  env.servers.push(server);
  return server;
}

async function stop(server: SignalingServer): Promise<void> {
  await server.close();
  env.servers.splice(env.servers.indexOf(server), 1);
}

async function joined(server: SignalingServer, runId: string): Promise<TestClient> {
  const client = await TestClient.connect(server.url);
  env.clients.push(client);
  await client.join(runId, server.runs.get(runId)!.secretToken());
  await client.epoch(0);
  return client;
}

function metrics(step: number, epoch: number): Metrics {
  return {
    step,
    epoch,
    trainLoss: 5 - step / 10,
    valLoss: step === 20 ? 4.2 : undefined,
    bytesSent: step * 1000,
    bytesReceived: step * 900,
    timing: { gradientMs: 12.5, optimizerMs: 3, waitingMs: 1.25 },
    links: [{ peer: 'someone', state: 'open', rttMs: 2, bytesSent: 10, bytesReceived: 20, drops: 0 }],
  };
}

const getJson = async (url: string) => {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
};

describe('metrics hub and persistence', () => {
  it('serves metrics as JSON and CSV, and a restarted server keeps runs, tokens and metrics', async () => {
    const first = await start({ runs: [{ id: 'm', topology: 'ring', algorithm: demuon }] });
    const peer = await joined(first, 'm');
    const epoch = peer.current!.epoch;
    for (const step of [10, 20, 30]) {
      expect(await peer.request(EVENTS.metrics, metrics(step, epoch))).toEqual({ ok: true });
    }
    const { body } = await getJson(`${first.url}/api/runs/m/metrics.json`);
    expect(body.runId).toBe('m');
    const points = body.points.map((p: unknown) => MetricsPointSchema.parse(p));
    expect(points.map((p: { step: number }) => p.step)).toEqual([10, 20, 30]);
    expect(points[1]).toMatchObject({
      peer: peer.peerId,
      epoch,
      valLoss: 4.2,
      gradientMs: 12.5,
      bytesSent: 20_000,
    });
    expect(points[0].valLoss).toBeUndefined();

    const csvResponse = await fetch(`${first.url}/api/runs/m/metrics.csv`);
    expect(csvResponse.headers.get('content-type')).toMatch(/^text\/csv/);
    const rows = (await csvResponse.text()).trim().split('\n');
    expect(rows[0]).toBe(METRICS_COLUMNS.join(','));
    expect(rows).toHaveLength(4);
    expect(rows[2].split(',')).toEqual([
      String(points[1].t),
      peer.peerId,
      '20',
      String(epoch),
      '3',
      '4.2',
      '20000',
      '18000',
      '', // no disagreement reported
      '12.5',
      '3',
      '1.25',
    ]);

    const state = RunStateSchema.parse((await getJson(`${first.url}/api/runs/m`)).body.state);
    expect(state.members[0]).toMatchObject({ peer: peer.peerId, step: 30, latest: points[2] });
    expect(state.members[0].links[0]).toMatchObject({ peer: 'someone', state: 'open' });

    const tokens = {
      m: first.runs.get('m')!.secretToken(),
      default: first.runs.get('default')!.secretToken(),
    };
    const admin = first.adminToken;
    await stop(first);

    const second = await start();
    expect(second.adminToken).toBe(admin);
    expect(second.runs.get('m')!.secretToken()).toBe(tokens.m);
    expect(second.runs.get('default')!.secretToken()).toBe(tokens.default);
    expect(second.runs.get('m')!.config.topology).toEqual({ kind: 'ring' });
    expect((await getJson(`${second.url}/api/runs/m/metrics.json`)).body.points).toEqual(body.points);
    const again = await joined(second, 'm');
    expect(again.current!.epoch).toBeGreaterThan(epoch);
  });

  it('skips a damaged line of metrics.jsonl with a warning and appends after it on a fresh line', async () => {
    const first = await start({ runs: [{ id: 'm', algorithm: demuon }] });
    const peer = await joined(first, 'm');
    await peer.request(EVENTS.metrics, metrics(1, peer.current!.epoch));
    await stop(first);
    appendFileSync(join(env.dataDir, 'm', 'metrics.jsonl'), '{"t":17,"peer":"crashed-mid-wri');

    const warnings: string[] = [];
    const second = await start({ log: { info() {}, warn: (m) => warnings.push(m) } });
    expect(warnings.join('\n')).toMatch(/metrics\.jsonl: skipped 1 malformed line\(s\), first at line 2/);
    const next = await joined(second, 'm');
    await next.request(EVENTS.metrics, metrics(2, next.current!.epoch));
    await stop(second);

    const third = await start();
    const { body } = await getJson(`${third.url}/api/runs/m/metrics.json`);
    expect(body.points.map((p: { step: number }) => p.step)).toEqual([1, 2]);
  });
});

describe('watch', () => {
  it('sends run-state snapshots without a token, at most about 4 per second', async () => {
    const server = await start();
    const dashboard = await TestClient.connect(server.url);
    env.clients.push(dashboard);
    expect(AckSchema.parse(await dashboard.request(EVENTS.watch, { runId: 'nope' }))).toMatchObject({
      ok: false,
      error: { code: 'unknown-run' },
    });
    expect(await dashboard.request(EVENTS.watch, { runId: 'default' })).toEqual({ ok: true });
    const empty = RunStateSchema.parse(await dashboard.next(EVENTS.runState));
    expect(empty).toMatchObject({ runId: 'default', members: [], topology: 'ring' });

    const peer = await joined(server, 'default');
    let withPeer = RunStateSchema.parse(await dashboard.next(EVENTS.runState));
    // A snapshot may show the peer's proposal before its commit: the commit sends another.
    while (withPeer.pending !== null) withPeer = RunStateSchema.parse(await dashboard.next(EVENTS.runState));
    expect(withPeer.members.map((m) => m.peer)).toEqual([peer.peerId]);
    expect(withPeer.epoch).toBe(peer.current!.epoch);

    // 30 reports over about 600 ms: unthrottled that would be about 30 snapshots.
    const started = Date.now();
    for (let step = 1; step <= 30; step++) {
      peer.socket.emit(EVENTS.progress, { step });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    let snapshots = 0;
    for (let latest = withPeer; latest.members[0].step !== 30; snapshots++) {
      latest = RunStateSchema.parse(await dashboard.next(EVENTS.runState));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    snapshots += dashboard.drain(EVENTS.runState).length;
    expect(snapshots).toBeGreaterThanOrEqual(2);
    expect(snapshots).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - started) / 250));
  });
});

describe('HTTP API', () => {
  it('creates runs only with the admin token, and never lists tokens', async () => {
    const server = await start();
    const config = { id: 'made', topology: 'exp', algorithm: demuon, maxPeers: 8 };
    const post = (body: unknown, token?: string) =>
      fetch(`${server.url}/api/runs`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });

    for (const token of [undefined, 'wrong']) {
      const res = await post(config, token);
      expect(res.status).toBe(401);
      expect((await res.json()).error.code).toBe('bad-admin-token');
    }
    expect(server.runs.get('made')).toBeUndefined();

    const bad = await post({ ...config, algorithm: { name: 'demuon', lr: { eta: -1 } } }, server.adminToken);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/algorithm\.lr\.eta/);
    expect((await post('{"id":', server.adminToken)).status).toBe(400);

    const created = await post(config, server.adminToken);
    expect(created.status).toBe(201);
    const answer = await created.json();
    expect(answer.joinUrl).toBe(`${server.url}/join/made?token=${answer.token}`);
    expect(answer.overviewUrl).toBe(`${server.url}/runs/made`);
    expect(answer.run).toMatchObject({ id: 'made', maxPeers: 8, topology: { kind: 'exp' } });
    expect((await post(config, server.adminToken)).status).toBe(409);

    const peer = await TestClient.connect(server.url);
    env.clients.push(peer);
    expect((await peer.join('made', answer.token)).run.id).toBe('made');

    const list = await getJson(`${server.url}/api/runs`);
    expect(list.body.map((r: unknown) => RunSummarySchema.parse(r).id).sort()).toEqual(['default', 'made']);
    const everything = JSON.stringify([list.body, (await getJson(`${server.url}/api/runs/made`)).body]);
    expect(everything).not.toContain(answer.token);
    expect(everything).not.toContain(server.runs.get('default')!.secretToken());
  });

  it('answers unknown routes and runs with 404 JSON and serves placeholder pages', async () => {
    const server = await start();
    expect(await getJson(`${server.url}/nothing/here`)).toMatchObject({
      status: 404,
      type: 'application/json; charset=utf-8',
      body: { error: { code: 'not-found' } },
    });
    expect(await getJson(`${server.url}/api/runs/nope/metrics.csv`)).toMatchObject({
      status: 404,
      body: { error: { code: 'unknown-run' } },
    });
    expect((await fetch(`${server.url}/api/runs`, { method: 'DELETE' })).status).toBe(405);
    for (const page of ['/join/default?token=x', '/runs/default']) {
      const res = await fetch(`${server.url}${page}`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/browser client is not built/);
    }
  });
});

describe('configuration errors', () => {
  it('refuses a damaged runs.json without overwriting it, and bad run configs naming the run', async () => {
    writeFileSync(join(env.dataDir, 'runs.json'), '{"version":1,"adminToken":');
    await expect(start()).rejects.toThrow(/runs\.json: not valid JSON.*does not overwrite/);
    expect(readFileSync(join(env.dataDir, 'runs.json'), 'utf8')).toBe('{"version":1,"adminToken":');
    rmSync(join(env.dataDir, 'runs.json'));

    await expect(
      start({
        runs: [
          { id: 'ok', algorithm: demuon },
          { id: 'x', topology: 'moebius' },
        ],
      }),
    ).rejects.toThrow(/runs: run 1 \("x"\): .*unknown topology "moebius".*algorithm/);
  });

  it('names bad flags, a bad PORT and bad config files', () => {
    expect(() => parseCli(['--port', 'abc'], {})).toThrow(
      '--port must be an integer from 0 to 65535, got "abc"',
    );
    expect(() => parseCli([], { PORT: '70000' })).toThrow('PORT must be an integer');
    expect(() => parseCli(['--colour'], {})).toThrow(/colour/);
    expect(() => parseCli(['--heartbeat-ms', '5'], {})).toThrow(/--heartbeat-ms must be an integer from 100/);
    expect(parseCli(['--port', '0', '--host', '0.0.0.0'], { PORT: '9' })).toMatchObject({
      port: 0,
      host: '0.0.0.0',
    });
    expect(parseCli([], { PORT: '9001' })).toMatchObject({ port: 9001 });

    const file = join(env.dataDir, 'runs-config.json');
    expect(() => parseCli(['--config', file], {})).toThrow(/cannot read config file .*runs-config\.json/);
    const cases: [string, RegExp][] = [
      ['[{"id": "a",', /is not valid JSON/],
      ['{"id": "a"}', /expected a JSON array of run configs, got an object/],
      [
        '[{"id": "a", "algorithm": {"name": "demuon", "lr": {"eta": 0.1}}, "stepz": 3}]',
        /run 0 \("a"\): .*stepz/,
      ],
      [
        `[${JSON.stringify({ id: 'a', algorithm: demuon })}, ${JSON.stringify({ id: 'a', algorithm: demuon })}]`,
        /"a" is used twice/,
      ],
    ];
    for (const [text, problem] of cases) {
      writeFileSync(file, text);
      expect(() => parseCli(['--config', file], {})).toThrow(problem);
    }
    writeFileSync(file, JSON.stringify([{ id: 'a', algorithm: demuon, topology: 'torus:2x3' }]));
    expect(parseCli(['--config', file], {})).toMatchObject({
      runs: [{ id: 'a', topology: { kind: 'torus' } }],
    });
  });
});
