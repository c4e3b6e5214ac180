/**
 * Where a networked DeMuon step's time goes: `npm run peer` processes joined through a signaling server on
 * loopback, gossiping over real WebRTC, each step split into gradient (forward + backward), optimizer
 * (momentum, Newton–Schulz, updates) and waiting (inside gossip rounds: sending, waiting on neighbours,
 * mixing), as each peer prints it. Round 2 sent whole after all of Newton–Schulz (overlap 1) and streamed
 * in groups while the next group is orthogonalised (overlap 4) run alternately. Prints a table and writes
 * docs/bench/step-breakdown.{md,json}.
 *
 *   npm run bench:breakdown [-- --presets tiny,small --peers 2 --steps 40 --repeats 2]
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { GPT_PRESETS, type GptPreset } from '@demuon/shared/model';
import type { StepTiming } from '@demuon/shared/peer';
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import { oneOf, positiveInt } from '../../client/src/node/cli-args';
import { createSignalingServer, silentLogger } from '../../signaling-server/src';
import { median } from '../helpers/median';
import { startPeer, stepLine } from '../helpers/peer-process';

const { values: args } = parseArgs({
  options: {
    presets: { type: 'string', default: 'tiny,small' },
    peers: { type: 'string', default: String(Math.max(2, Math.min(4, cpus().length))) },
    steps: { type: 'string', default: '40' },
    repeats: { type: 'string', default: '2' },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
  },
});
const presets = args.presets
  .split(',')
  .map((p) => oneOf('--presets', p, Object.keys(GPT_PRESETS) as GptPreset[]));
const peers = positiveInt('--peers', args.peers);
const steps = positiveInt('--steps', args.steps);
const repeats = positiveInt('--repeats', args.repeats);
/** Steps left out of the figures: session warm-up, first connections. */
const WARMUP = 5;
const OVERLAPS = [1, 4];

const dataDir = mkdtempSync(join(tmpdir(), 'step-breakdown-'));
const server = await createSignalingServer({ port: 0, dataDir, log: silentLogger });

interface Sample extends StepTiming {
  readonly wallMs: number;
}

/** One run with `peers` peer processes, one thread each; every peer's timing of each step after warm-up. */
async function measure(run: RunConfig): Promise<Sample[]> {
  const created = await fetch(`${server.url}/api/runs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(run),
  });
  if (!created.ok) throw new Error(`creating run ${run.id}: HTTP ${created.status} ${await created.text()}`);
  const token = server.runs.get(run.id)!.secretToken();
  const samples: Sample[] = [];
  const children: ChildProcess[] = [];
  const exits = Array.from({ length: peers }, async () => {
    const args = [
      ...['--server', server.url, '--run', run.id, `--token=${token}`],
      ...['--wait-for', String(peers), '--backend', 'cpu', '--threads', '1'],
    ];
    const peer = startPeer(args, children, (line) => {
      const parsed = stepLine(line);
      if (!parsed || parsed.step <= WARMUP) return;
      const { timing } = parsed;
      samples.push({ ...timing, wallMs: timing.gradientMs + timing.optimizerMs + timing.waitingMs });
    });
    const code = await peer.exited;
    if (code !== 0) throw new Error(`a peer exited with ${code}:\n${peer.output.slice(-2000)}`);
  });
  await Promise.all(exits);
  return samples;
}

const rows: {
  preset: GptPreset;
  overlap: number;
  steps: number;
  gradientMs: number;
  optimizerMs: number;
  waitingMs: number;
  wallMs: number;
}[] = [];
for (const preset of presets) {
  const samples = new Map<number, Sample[]>(OVERLAPS.map((o) => [o, []]));
  for (let r = 0; r < repeats; r++) {
    // Alternate the two settings so that drifts of a noisy machine hit both alike.
    for (const overlap of OVERLAPS) {
      const run = RunConfigSchema.parse({
        id: `${preset}-o${overlap}-r${r}`,
        model: { preset },
        topology: peers > 3 ? 'ring' : 'complete',
        algorithm: { name: 'demuon', lr: { eta: 0.02, schedule: 'linear' }, overlap },
        steps,
        batch: 8,
        evalEvery: 1_000_000,
        evalBatches: 1,
      });
      samples.get(overlap)!.push(...(await measure(run)));
      console.log(`${preset} overlap ${overlap} repeat ${r + 1}/${repeats} done`);
    }
  }
  for (const overlap of OVERLAPS) {
    const s = samples.get(overlap)!;
    rows.push({
      preset,
      overlap,
      steps: s.length,
      gradientMs: median(s.map((x) => x.gradientMs)),
      optimizerMs: median(s.map((x) => x.optimizerMs)),
      waitingMs: median(s.map((x) => x.waitingMs)),
      wallMs: median(s.map((x) => x.wallMs)),
    });
  }
}
await server.close();
rmSync(dataDir, { recursive: true, force: true });

const f = (x: number) => x.toFixed(1);
const table = [
  '| preset | round 2 | gradient (ms) | optimizer (ms) | waiting (ms) | step (ms) | steps measured |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.preset} | ${r.overlap === 1 ? 'whole, after Newton–Schulz' : `streamed in ${r.overlap} groups`} | ${f(r.gradientMs)} | ${f(r.optimizerMs)} | ${f(r.waitingMs)} | ${f(r.wallMs)} | ${r.steps} |`,
  ),
].join('\n');
console.log(table);
const md = `# Step-time breakdown of a networked DeMuon step

\`npm run bench:breakdown\`: ${peers} \`npm run peer\` processes (${peers > 3 ? 'ring' : 'complete graph'}) joined through the
signaling server on loopback, gossiping fp32 over WebRTC (@roamhq/wrtc); gradients and Newton–Schulz on
onnxruntime-node with one thread per session (\`--threads 1\`); batch 8; ${steps} steps per run, the first
${WARMUP} left out; ${repeats} runs of each setting, alternated. Medians over every peer and measured step.

- gradient: forward and backward pass; optimizer: momentum, Newton–Schulz, updates, on this node;
  waiting: inside gossip rounds (handing frames to the link, waiting on neighbours, mixing).
- Round 2 (X − η·dir(V)) whole: computed for every tensor, then sent. Streamed: each of ${OVERLAPS[1]} tensor
  groups is sent as soon as it is final, while the next group's Newton–Schulz runs. Results are the same
  bit for bit (tests/unit/optim/overlap.test.ts); only the timing differs.
- The peers share this machine's cores, so a peer's waiting includes its neighbours' computing.

${table}

Machine: ${process.platform} ${process.arch}, Node ${process.version}, ${cpus().length} cores.
`;
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, 'step-breakdown.md'), md);
writeFileSync(
  join(args.out, 'step-breakdown.json'),
  `${JSON.stringify({ peers, steps, warmup: WARMUP, repeats, rows }, null, 2)}\n`,
);
process.exit(0);
