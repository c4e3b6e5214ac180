/**
 * What reported steps and epochs mean, checked by the server over real socket.io on loopback: progress
 * only grows and stays within the run's steps, metrics name steps of the run and epochs it handed out, a
 * barrier lies within reach of the run's last step (so every activation step is one the Epoch schema
 * accepts), and a status names a step of the run. Each refusal has its code, changes nothing, and the
 * server restarts from what it stored.
 */
import { AckSchema, EpochSchema, EVENTS, type Metrics, RunConfigSchema } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import type { TestClient } from '../../signaling-server/testing/test-client';
import { run, runState, signalingMembers } from '../helpers/signaling-members';

const { start, join, members } = signalingMembers('signaling-steps-');
/** The helper's run leaves `steps` at its default. */
const STEPS = RunConfigSchema.shape.steps.parse(undefined);

function metrics(step: number, epoch: number): Metrics {
  return { step, epoch, bytesSent: 0, bytesReceived: 0, links: [] };
}

async function expectRefused(
  client: TestClient,
  code: string,
  event: string,
  payload: unknown,
  message: RegExp,
) {
  const reply = AckSchema.parse(await client.request(event, payload));
  expect(reply, `${event} ${JSON.stringify(payload)}`).toMatchObject({ ok: false, error: { code, message } });
  expect(await client.error()).toMatchObject({ code, event });
}

/** What a refused report must leave as it was. */
function observable(server: Parameters<typeof run>[0]) {
  const state = runState(server);
  return {
    epoch: state.epoch,
    activationStep: state.activationStep,
    members: state.members.map((m) => [m.peer, m.step, m.status]),
    points: run(server).metrics.points().length,
  };
}

describe('progress', () => {
  it('refuses steps past the run and steps that go back, with bad-step; the server restarts fine', async () => {
    const server = await start();
    const { peers } = await members(server, 2);
    const [a] = peers;
    expect(await a.request(EVENTS.progress, { step: 10 })).toEqual({ ok: true });
    const before = observable(server);

    const past = /progress step \d+ is past the last step of run "r" \(2000 steps\)/;
    await expectRefused(a, 'bad-step', EVENTS.progress, { step: STEPS + 1 }, past);
    // An absurd step once became the next epoch's activation step, which every peer's schema refused.
    await expectRefused(a, 'bad-step', EVENTS.progress, { step: Number.MAX_SAFE_INTEGER }, past);
    await expectRefused(
      a,
      'bad-step',
      EVENTS.progress,
      { step: 9 },
      /below step 10, which peer .* reported before/,
    );
    expect(observable(server)).toEqual(before);

    // The same step again, and the last step of the run, are fine.
    expect(await a.request(EVENTS.progress, { step: 10 })).toEqual({ ok: true });
    expect(await a.request(EVENTS.progress, { step: STEPS })).toEqual({ ok: true });
    expect(runState(server).members[0].step).toBe(STEPS);

    // What was stored brings the server back, with the steps it accepted.
    const { port } = server;
    await server.close();
    const again = await start({ port });
    expect(runState(again).members.map((m) => m.step)).toEqual([STEPS, null]);
  });
});

describe('metrics', () => {
  it('refuses steps past the run (bad-step) and epochs never handed out (bad-epoch)', async () => {
    const server = await start();
    const { peers, epochs } = await members(server, 2);
    const [a] = peers;
    const { epoch } = epochs[0];
    const before = observable(server);
    await expectRefused(
      a,
      'bad-step',
      EVENTS.metrics,
      metrics(STEPS + 1, epoch),
      /metrics step 2001 is past/,
    );
    // The largest stored epoch numbers the next epochs after a restart.
    await expectRefused(
      a,
      'bad-epoch',
      EVENTS.metrics,
      metrics(5, Number.MAX_SAFE_INTEGER),
      /has handed out epochs up to \d+ only/,
    );
    expect(observable(server)).toEqual(before);
    // Late reports (below the member's step) are fine: metrics may be held through an outage.
    expect(await a.request(EVENTS.progress, { step: 8 })).toEqual({ ok: true });
    expect(await a.request(EVENTS.metrics, metrics(5, epoch))).toEqual({ ok: true });
    expect(
      run(server)
        .metrics.points()
        .map((p) => p.step),
    ).toEqual([5]);
  });
});

describe('epoch-ready and heartbeat status', () => {
  it('refuses a barrier past the run with bad-step, and commits at the honest barriers', async () => {
    const server = await start();
    await members(server, 1);
    const b = await join(server, { barrier: false });
    const proposal = await b.proposed(0);
    await expectRefused(
      b,
      'bad-step',
      EVENTS.epochReady,
      { epoch: proposal.epoch, barrier: Number.MAX_SAFE_INTEGER },
      /barrier \d+ is past any step of run "r" \(2000 steps\): at most 2016/,
    );
    expect(runState(server).pending?.waitingFor).toEqual([b.peerId]);
    b.answer(proposal.epoch, 7);
    const epoch = EpochSchema.parse(await b.epoch(proposal.epoch));
    expect(epoch.activationStep).toBe(7);
  });

  it('refuses a status naming a step past the run with bad-step', async () => {
    const server = await start();
    const { peers } = await members(server, 2);
    const status = { step: STEPS + 1, phase: 'gradient', phaseMs: 1 };
    const before = observable(server);
    await expectRefused(peers[0], 'bad-step', EVENTS.heartbeat, { status }, /status step 2001 is past/);
    expect(observable(server)).toEqual(before);
    expect(await peers[0].request(EVENTS.heartbeat, { status: { ...status, step: STEPS } })).toEqual({
      ok: true,
    });
  });
});
