/**
 * Attack class `frames`: a joined member that opens WebRTC links to its honest neighbours and sends bad
 * gossip frames on them (first chunks claiming 65535 chunks, messages never finished, counts and offsets
 * past the end, NaN, other runs, …), then reads from the honest peers' metrics what they dropped.
 */
import { gptConfig, gptParams } from '@demuon/shared/model';
import { chunkElements, FRAME_HEADER_BYTES, FRAME_MAGIC, runHash } from '@demuon/shared/protocol';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { errorText, sleep } from './hostile-attack-tools';
import { getJson, joinRun, type Membership, MemberView } from './hostile-membership';
import type { Tally, Target } from './hostile-tally';

interface FrameFields {
  exchange?: number;
  run: number;
  epoch: number;
  step: number;
  round: number;
  tensor: number;
  chunk: number;
  chunks: number;
  offset: number;
  count: number;
}

/** A gossip frame whose header holds `h` as given, valid or not, then `payload`. */
function frame(h: FrameFields, payload: Uint8Array, magic = FRAME_MAGIC): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, magic, true);
  v.setUint8(4, 1);
  v.setUint8(5, 0); // fp32
  v.setUint16(6, h.exchange ?? 0, true);
  v.setUint32(8, h.run >>> 0, true);
  v.setUint32(12, h.epoch >>> 0, true);
  v.setUint32(16, h.step >>> 0, true);
  v.setUint32(20, h.round >>> 0, true);
  v.setUint32(24, h.tensor >>> 0, true);
  v.setUint16(28, h.chunk, true);
  v.setUint16(30, h.chunks, true);
  v.setUint32(32, h.offset >>> 0, true);
  v.setUint32(36, h.count >>> 0, true);
  bytes.set(payload, FRAME_HEADER_BYTES);
  return bytes;
}

const floats = (n: number, value: number) => new Uint8Array(new Float32Array(n).fill(value).buffer);

/** [kind, frame] for a neighbour at `step` of `epoch`. */
function badFrames(
  run: number,
  epoch: number,
  step: number,
  sizes: readonly number[],
): [string, Uint8Array][] {
  const per = chunkElements('fp32');
  const round = Math.floor(Math.random() * 4);
  const ahead = step + Math.floor(Math.random() * 8);
  const base = { run, epoch, step: ahead, round, tensor: 0, chunk: 0, offset: 0 };
  // The largest tensor, its real layout: chunk 0 of a message that will never be finished.
  const big = sizes.reduce((best, s, i) => (s > sizes[best] ? i : best), 0);
  const bigChunks = Math.max(1, Math.ceil(sizes[big] / per));
  const bigCount = Math.min(per, sizes[big]);
  // The smallest (a LayerNorm vector): one whole chunk of NaN.
  const small = sizes.reduce((best, s, i) => (s < sizes[best] ? i : best), 0);
  return [
    ['first chunk claims 65535 chunks', frame({ ...base, chunks: 0xffff, count: 16 }, floats(16, 0.5))],
    [
      'first chunk of a real layout, never finished',
      frame({ ...base, tensor: big, chunks: bigChunks, count: bigCount }, floats(bigCount, 0.5)),
    ],
    [
      'state exchange claiming 65535 chunks',
      frame({ ...base, exchange: 1, chunks: 0xffff, count: 16 }, floats(16, 0.5)),
    ],
    ['count 2^32-1, 64 bytes', frame({ ...base, chunks: 1, count: 0xffffffff }, floats(16, 0.5))],
    ['tensor index 2^32-1', frame({ ...base, tensor: 0xffffffff, chunks: 1, count: 16 }, floats(16, 0.5))],
    ['offset 2^32-16', frame({ ...base, chunks: 1, offset: 0xfffffff0, count: 16 }, floats(16, 0.5))],
    [
      'NaN values',
      frame({ ...base, tensor: small, chunks: 1, count: sizes[small] }, floats(sizes[small], Number.NaN)),
    ],
    ['chunk 9 of 3', frame({ ...base, chunk: 9, chunks: 3, count: 16 }, floats(16, 0.5))],
    ['other run', frame({ ...base, run: run ^ 1, chunks: 1, count: 16 }, floats(16, 0.5))],
    ['epoch 2^32-1', frame({ ...base, epoch: 0xffffffff, chunks: 1, count: 16 }, floats(16, 0.5))],
    ['wrong magic', frame({ ...base, chunks: 1, count: 16 }, floats(16, 0.5), 0x12345678)],
    ['70 KiB frame', frame({ ...base, chunks: 1, count: 17_500 }, floats(17_500, 0.5))],
    ['random bytes', Uint8Array.from({ length: 1000 }, () => Math.floor(Math.random() * 256))],
  ];
}

export async function attackFrames(target: Target, until: number, tally: Tally): Promise<void> {
  const view = new MemberView(target);
  const run = runHash(target.runId);
  const sizes = gptParams(gptConfig('tiny', { vocabSize: 512 })).map((p) =>
    p.shape.reduce((a, b) => a * b, 1),
  );
  while (Date.now() < until) {
    let honestStep = 0;
    const links = new Map<string, { peer: SimplePeer.Instance; open: boolean }>();
    let m: Membership | undefined;
    const link = (peer: string) => {
      const known = links.get(peer);
      if (known) return known.peer;
      const instance = new SimplePeer({
        initiator: (m?.peerId ?? '') < peer,
        wrtc,
        config: { iceServers: [] },
      });
      const entry = { peer: instance, open: false };
      links.set(peer, entry);
      instance.on('signal', (data) => {
        if (m?.socket.connected) m.socket.emit('signal', { to: peer, data });
      });
      instance.on('connect', () => {
        entry.open = true;
        tally.answer('link', 'data channel opened');
      });
      instance.on('close', () => {
        if (entry.open) tally.answer('link', 'data channel closed');
        entry.open = false;
        links.delete(peer);
      });
      instance.on('error', (error) => tally.answer('link', `link error: ${errorText(error).slice(0, 50)}`));
      return instance;
    };
    const neighbours = (e: { [k: string]: unknown }) => {
      const ins = ((e.inNeighbours as { peer: string }[] | undefined) ?? []).map((n) => n.peer);
      const outs = (e.outNeighbours as string[] | undefined) ?? [];
      return [...new Set([...ins, ...outs])];
    };
    m = await joinRun(
      target,
      tally,
      'hostile-frames',
      // Plain heartbeats, no status (it never says what it does): alive, as a slow peer would be.
      undefined,
      (e) => {
        for (const peer of neighbours(e)) link(peer);
      },
    );
    if (!m) {
      await sleep(500);
      continue;
    }
    const member = m;
    member.socket.on('signal', (s: { from: string; data: SimplePeer.SignalData }) => {
      try {
        link(s.from).signal(s.data);
      } catch (error) {
        tally.answer('link', `signal refused: ${errorText(error).slice(0, 40)}`);
      }
    });
    while (Date.now() < until && !member.evicted && !member.disconnected) {
      const others = await view.others(member.peerId);
      honestStep = Math.max(0, ...others.map((o) => o.step ?? 0));
      for (const [, entry] of links) {
        if (!entry.open) continue;
        // 13 junk frames per link every 100 ms.
        for (const [kind, bytes] of badFrames(run, member.epoch, honestStep, sizes)) {
          try {
            entry.peer.send(bytes);
            tally.sent(kind);
          } catch (error) {
            tally.sent(kind);
            tally.answer(kind, `send failed: ${errorText(error).slice(0, 40)}`);
          }
        }
      }
      await sleep(100);
    }
    await countDrops(target, member.peerId, tally);
    member.stop();
    await sleep(300);
    for (const { peer } of links.values()) peer.destroy();
    await sleep(200);
  }
}

/** What the honest neighbours' latest metrics say of their links to `self`: frames received and dropped. */
async function countDrops(target: Target, self: string, tally: Tally): Promise<void> {
  try {
    const body = (await getJson(`${target.url}/api/runs/${target.runId}`)) as {
      state?: {
        members?: { peer: string; links?: { peer: string; drops?: number; framesReceived?: number }[] }[];
      };
    };
    const seen: string[] = [];
    let matched = 0;
    for (const member of body.state?.members ?? []) {
      if (member.peer === self) continue;
      seen.push(`${member.peer} → ${(member.links ?? []).map((l) => l.peer).join(',') || 'none'}`);
      for (const l of member.links ?? []) {
        if (l.peer !== self) continue;
        matched++;
        tally.answer('honest neighbours (their latest metrics)', 'frames they dropped', l.drops ?? 0);
        tally.answer(
          'honest neighbours (their latest metrics)',
          'frames they received',
          l.framesReceived ?? 0,
        );
      }
    }
    if (matched === 0)
      tally.note(
        `no honest neighbour's latest metrics list a link to ${self} (none reported since it joined?); links: ${seen.join('; ')}`,
      );
  } catch (error) {
    tally.note(`could not read the run state: ${errorText(error)}`);
  }
}
