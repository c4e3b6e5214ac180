/**
 * Gossip link benchmark over real WebRTC on loopback (simple-peer + @roamhq/wrtc): the throughput of
 * gossip rounds through WebRtcGossipLink (framing, encoding, reassembly, checks) against a raw blast of
 * 64 KiB messages between the same two peers, interleaved; and the bytes per step per neighbour of each
 * encoding for the GPT presets. Prints a table and writes docs/bench/gossip-link.{md,json}.
 *
 *   npm run bench:gossip [-- --megabytes 32 --repeats 3]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GPT_PRESETS, type GptPreset, gptConfig, gptParams } from '@demuon/shared/model';
import { encodeTensorFrames, runHash } from '@demuon/shared/protocol';
import { WIRE_ENCODINGS } from '@demuon/shared/tensor';
import wrtc from '@roamhq/wrtc';
import SimplePeer from 'simple-peer';
import { WebRtcGossipLink } from '../../client/src/net/webrtc-link';
import { positiveInt } from '../../client/src/node/cli-args';
import { median } from '../helpers/median';

const { values: args } = parseArgs({
  options: {
    megabytes: { type: 'string', default: '32' },
    repeats: { type: 'string', default: '3' },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
  },
});
const megabytes = positiveInt('--megabytes', args.megabytes);
const repeats = positiveInt('--repeats', args.repeats);

async function connectedPair(): Promise<[SimplePeer.Instance, SimplePeer.Instance]> {
  const a = new SimplePeer({ initiator: true, wrtc });
  const b = new SimplePeer({ wrtc });
  a.on('signal', (s) => b.signal(s));
  b.on('signal', (s) => a.signal(s));
  await Promise.all([new Promise((r) => a.once('connect', r)), new Promise((r) => b.once('connect', r))]);
  return [a, b];
}

/** MB/s of raw 64 KiB messages written with backpressure, counted at the receiver. */
async function rawBlast(a: SimplePeer.Instance, b: SimplePeer.Instance, bytes: number): Promise<number> {
  const message = new Uint8Array(64 * 1024);
  const count = Math.ceil(bytes / message.byteLength);
  let received = 0;
  const done = new Promise<void>((resolve) => {
    const onData = () => {
      if (++received === count) {
        b.off('data', onData);
        resolve();
      }
    };
    b.on('data', onData);
  });
  const started = performance.now();
  for (let i = 0; i < count; i++) if (!a.write(message)) await new Promise((r) => a.once('drain', r));
  await done;
  return (count * message.byteLength) / 1e6 / ((performance.now() - started) / 1000);
}

/** MB/s of float32 payload through gossip rounds of the tiny GPT's tensors. */
async function gossipRounds(
  sender: WebRtcGossipLink,
  receiver: WebRtcGossipLink,
  tensors: Float32Array[],
  bytes: number,
) {
  const perRound = tensors.reduce((n, t) => n + t.byteLength, 0);
  const rounds = Math.ceil(bytes / perRound);
  const started = performance.now();
  for (let round = 0; round < rounds; round++) {
    const key = { step: round, round: 0 };
    sender.send(1, key, tensors);
    await receiver.receive(0, key);
  }
  return (rounds * perRound) / 1e6 / ((performance.now() - started) / 1000);
}

const tiny = gptConfig('tiny');
const shapes = gptParams(tiny).map((p) => p.shape.reduce((a, b) => a * b, 1));
const tensors = shapes.map((n) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.02));
const linkOptions = {
  run: runHash('bench'),
  encoding: 'fp32' as const,
  tensorSizes: shapes,
  epoch: () => 1,
};

// One pair of peers for both measures: separately created connections differed by up to 1.8× here.
const [a, b] = await connectedPair();
const sender = new WebRtcGossipLink(linkOptions);
const receiver = new WebRtcGossipLink(linkOptions);
const gossipPass = async (bytes: number) => {
  sender.attach(1, a);
  receiver.attach(0, b);
  const mbps = await gossipRounds(sender, receiver, tensors, bytes);
  sender.detach(1);
  receiver.detach(0);
  return mbps;
};
const bytes = megabytes * 1e6;
await rawBlast(a, b, 4e6); // warm-up both paths
await gossipPass(4e6);
const raw: number[] = [];
const gossip: number[] = [];
for (let r = 0; r < repeats; r++) {
  raw.push(await rawBlast(a, b, bytes));
  gossip.push(await gossipPass(bytes));
}
const throughput = {
  rawMBps: median(raw),
  gossipMBps: median(gossip),
  ratio: median(gossip) / median(raw),
  raw,
  gossip,
};
for (const p of [a, b]) p.destroy();

/** Bytes one node sends one neighbour per step: DeMuon's two rounds of every parameter, as frames. */
const perStep = (Object.keys(GPT_PRESETS) as GptPreset[]).map((preset) => {
  const sizes = gptParams(gptConfig(preset)).map((p) => p.shape.reduce((a, b) => a * b, 1));
  const row: Record<string, number | string> = { preset };
  for (const encoding of WIRE_ENCODINGS) {
    const header = { encoding, run: 0, epoch: 0, step: 0, round: 0 };
    const frames = sizes.flatMap((n, tensor) =>
      encodeTensorFrames({ ...header, tensor }, new Float32Array(n)),
    );
    row[encoding] = 2 * frames.reduce((n, f) => n + f.byteLength, 0);
  }
  return row;
});

const md = [
  `Gossip rounds of the tiny GPT's ${shapes.length} tensors (${(tensors.reduce((n, t) => n + t.byteLength, 0) / 1e6).toFixed(2)} MB) through WebRtcGossipLink vs raw 64 KiB messages, same machine, loopback, medians of ${repeats} interleaved runs of ${megabytes} MB:`,
  '',
  '| raw simple-peer (MB/s) | gossip link, fp32 payload (MB/s) | gossip / raw |',
  '|---:|---:|---:|',
  `| ${throughput.rawMBps.toFixed(1)} | ${throughput.gossipMBps.toFixed(1)} | ${(100 * throughput.ratio).toFixed(0)}% |`,
  '',
  'Bytes one node sends one neighbour per DeMuon step (two rounds of every parameter, frame headers included):',
  '',
  '| preset | fp32 | bf16 | fp16 | int8 | bf16 / fp32 |',
  '|---|---:|---:|---:|---:|---:|',
  ...perStep.map(
    (r) =>
      `| ${r.preset} | ${r.fp32} | ${r.bf16} | ${r.fp16} | ${r.int8} | ${((r.bf16 as number) / (r.fp32 as number)).toFixed(4)} |`,
  ),
].join('\n');
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, 'gossip-link.md'), `${md}\n`);
writeFileSync(
  join(args.out, 'gossip-link.json'),
  `${JSON.stringify({ megabytes, repeats, throughput, perStep }, null, 2)}\n`,
);
console.log(`${md}\n\nwritten to ${args.out}/gossip-link.{md,json}`);
process.exit(0);
