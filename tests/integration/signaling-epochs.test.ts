/**
 * Epoch proposals on a real signaling server with socket.io clients on loopback: a change is proposed,
 * every member answers with a barrier, and the epoch is committed at the largest one; a member that does
 * not answer is evicted, a join waits for the pending proposal while a departure from it replaces it,
 * answers to anything but the pending proposal are refused, and signals flow between neighbours of the proposal before the commit.
 */
import { AckSchema, EpochSchema, EVENTS } from '@demuon/shared/protocol';
import { describe, expect, it } from 'vitest';
import { memberIds, run, runState, signalingMembers, until } from '../helpers/signaling-members';
import { CANDIDATE, OFFER } from '../helpers/signals';

const { start, join, members } = signalingMembers('signaling-epochs-');

describe('epoch proposals', () => {
  it('commits an epoch once every member answered, at the largest barrier, never before the last activation', async () => {
    const server = await start();
    const a = await join(server, { barrier: false });
    const first = await a.proposed(0);
    expect(first).toMatchObject({ members: [a.peerId], index: 0, selfWeight: 1 });
    expect(first).not.toHaveProperty('activationStep');
    expect(a.drain(EVENTS.epoch)).toEqual([]);
    expect(await a.request(EVENTS.epochReady, { epoch: first.epoch, barrier: 5 })).toEqual({ ok: true });
    expect(await a.epoch(first.epoch)).toEqual({ ...first, activationStep: 5 });

    const b = await join(server, { barrier: false });
    const [forA, forB] = await Promise.all([a.proposed(first.epoch + 1), b.proposed(0)]);
    expect(forB).toMatchObject({ epoch: forA.epoch, members: [a.peerId, b.peerId], index: 1 });
    expect(forB.bootstrapFrom).toBe(a.peerId);
    expect(await a.request(EVENTS.epochReady, { epoch: forA.epoch, barrier: 9 })).toEqual({ ok: true });
    // One answer is not enough: the proposal waits for b, and nobody holds the new epoch yet.
    expect(runState(server)).toMatchObject({
      epoch: first.epoch,
      pending: { epoch: forA.epoch, members: [a.peerId, b.peerId], waitingFor: [b.peerId] },
    });
    expect([...a.drain(EVENTS.epoch), ...b.drain(EVENTS.epoch)]).toEqual([]);

    expect(await b.request(EVENTS.epochReady, { epoch: forB.epoch, barrier: 7 })).toEqual({ ok: true });
    const [epochA, epochB] = await Promise.all([a.epoch(forA.epoch), b.epoch(forB.epoch)]);
    expect(epochA).toEqual({ ...forA, activationStep: 9 });
    expect(epochB).toEqual({ ...forB, activationStep: 9 });
    expect(runState(server)).toMatchObject({ epoch: forA.epoch, activationStep: 9, pending: null });

    // Barriers below the epoch in force cannot move the next one back.
    b.close();
    const alone = await a.proposed(forA.epoch + 1);
    a.answer(alone.epoch, 0);
    expect((await a.epoch(alone.epoch)).activationStep).toBe(9);
  });

  it('evicts a member that does not answer within proposalTimeoutMs and commits the epoch for the rest', async () => {
    const server = await start({ proposalTimeoutMs: 300 });
    const {
      peers: [a, b],
      epochs,
    } = await members(server, 2);
    const mute = await join(server, { barrier: false });
    const proposal = await mute.proposed(0);
    expect(proposal.members).toEqual([a.peerId, b.peerId, mute.peerId]);

    expect(await mute.evicted()).toMatch(
      new RegExp(`peer ${mute.peerId} did not answer the epoch proposal within 300 ms`),
    );
    // The next epoch a and b receive is the one without the mute member: its proposal was never committed.
    const [forA, forB] = await Promise.all(
      [a, b].map(async (p) => EpochSchema.parse(await p.next(EVENTS.epoch))),
    );
    expect(forA).toMatchObject({ epoch: proposal.epoch + 1, members: [a.peerId, b.peerId] });
    expect(forB.epoch).toBe(forA.epoch);
    expect(forA.epoch).toBe(epochs[0].epoch + 2);
    expect(mute.drain(EVENTS.epoch)).toEqual([]);
    expect(memberIds(server)).toEqual([a.peerId, b.peerId]);

    const after = AckSchema.parse(
      await mute.request(EVENTS.epochReady, { epoch: proposal.epoch, barrier: 0 }),
    );
    expect(after).toMatchObject({ ok: false, error: { code: 'not-joined' } });
  });

  it('lets a join wait for the pending proposal, replaces it when one of its members leaves, and refuses answers to anything but the pending one', async () => {
    const server = await start();
    const a = await join(server, { barrier: false });
    a.answer((await a.proposed(0)).epoch, 0);
    const committed = await a.epoch(0);

    const b = await join(server, { barrier: false });
    const second = await a.proposed(committed.epoch + 1);
    await b.proposed(second.epoch);
    expect(await a.request(EVENTS.epochReady, { epoch: second.epoch, barrier: 3 })).toEqual({ ok: true });

    // c joins (answering at once) before b answered: the proposal over a, b keeps its answers and stands.
    const c = await join(server);
    expect(runState(server).pending).toMatchObject({
      epoch: second.epoch,
      members: [a.peerId, b.peerId],
      waitingFor: [b.peerId],
    });
    expect(memberIds(server)).toEqual([a.peerId, b.peerId, c.peerId]);
    // b's answer commits it; the next proposal takes c in.
    expect(await b.request(EVENTS.epochReady, { epoch: second.epoch, barrier: 1 })).toEqual({ ok: true });
    for (const p of [a, b]) expect((await p.epoch(second.epoch)).activationStep).toBe(3);
    const third = await a.proposed(second.epoch + 1);
    expect(third.members).toEqual([a.peerId, b.peerId, c.peerId]);
    await until('c answered', () => runState(server).pending?.waitingFor.includes(c.peerId) === false);
    expect(await a.request(EVENTS.epochReady, { epoch: third.epoch, barrier: 2 })).toEqual({ ok: true });

    // c leaves before b answered: the proposal could never complete, and one over a, b replaces it.
    c.close();
    const fourth = await a.proposed(third.epoch + 1);
    expect(fourth.members).toEqual([a.peerId, b.peerId]);
    const staleAnswer = AckSchema.parse(
      await b.request(EVENTS.epochReady, { epoch: third.epoch, barrier: 1 }),
    );
    expect(staleAnswer).toMatchObject({
      ok: false,
      error: { code: 'stale-epoch', message: new RegExp(`pending proposal is epoch ${fourth.epoch}`) },
    });
    expect(await b.error()).toMatchObject({ code: 'stale-epoch', event: EVENTS.epochReady });
    for (const never of [fourth.epoch + 1, 999]) {
      const ack = AckSchema.parse(await a.request(EVENTS.epochReady, { epoch: never, barrier: 0 }));
      expect(ack).toMatchObject({ ok: false, error: { code: 'stale-epoch' } });
    }
    expect(runState(server).pending).toMatchObject({ epoch: fourth.epoch });

    // a's answer to the replaced proposal does not count: the commit waits for its new answer.
    expect(await b.request(EVENTS.epochReady, { epoch: fourth.epoch, barrier: 4 })).toEqual({ ok: true });
    expect(runState(server).pending).toMatchObject({ epoch: fourth.epoch, waitingFor: [a.peerId] });
    expect(await a.request(EVENTS.epochReady, { epoch: fourth.epoch, barrier: 2 })).toEqual({ ok: true });
    // The next epoch each receives is the fourth: the replaced proposal was never committed.
    const epochs = await Promise.all([a, b].map(async (p) => EpochSchema.parse(await p.next(EVENTS.epoch))));
    expect(epochs.map((e) => [e.epoch, e.activationStep])).toEqual([
      [fourth.epoch, 4],
      [fourth.epoch, 4],
    ]);
    // An answer after the commit is refused too.
    const late = AckSchema.parse(await a.request(EVENTS.epochReady, { epoch: fourth.epoch, barrier: 9 }));
    expect(late).toMatchObject({
      ok: false,
      error: { code: 'stale-epoch', message: /no proposal is pending/ },
    });
    expect(runState(server)).toMatchObject({ epoch: fourth.epoch, activationStep: 4, pending: null });
  });

  it('relays signals between neighbours of the pending proposal before it is committed', async () => {
    const server = await start();
    const { peers } = await members(server, 4);
    const [a, , c, d] = peers;
    // Ring a-b-c-d; e joins without answering, so the ring a-b-c-d-e stays a proposal.
    const e = await join(server, { barrier: false });
    const proposal = await e.proposed(0);
    expect(proposal.members).toEqual([...peers.map((p) => p.peerId), e.peerId]);
    await until('a to d answered the proposal', () => runState(server).pending?.waitingFor.length === 1);
    expect(runState(server).pending?.waitingFor).toEqual([e.peerId]);

    expect(await e.request(EVENTS.signal, { to: a.peerId, data: OFFER })).toEqual({ ok: true });
    expect(await a.next(EVENTS.signal)).toEqual({ from: e.peerId, data: OFFER });
    expect(await d.request(EVENTS.signal, { to: e.peerId, data: CANDIDATE })).toEqual({ ok: true });
    expect(await e.next(EVENTS.signal)).toEqual({ from: d.peerId, data: CANDIDATE });
    // c is no neighbour of e in the proposal (nor was e in any epoch before).
    const refused = AckSchema.parse(await e.request(EVENTS.signal, { to: c.peerId, data: OFFER }));
    expect(refused).toMatchObject({ ok: false, error: { code: 'not-neighbour' } });
    expect(run(server).committedEpoch).toBe(proposal.epoch - 1);
    expect(e.current).toBeUndefined();
  });
});
