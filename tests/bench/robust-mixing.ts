/**
 * Robust mixing: a ring of 8 (`tiny`) with one bad node (node 0) that gossips its values ×1e30 or
 * sign-flipped, with plain and with robust gossip, against two clean references: the same ring with node 0
 * honest, and the ring without node 0 (the path of 7 its removal leaves: the most the honest nodes can get
 * once they stop listening to it). In the simulator, and with `--network` also as real runs of 8 headless
 * peers over WebRTC (robust-mixing-network.ts). Prints the honest nodes' final validation loss and writes
 * docs/bench/robust-mixing.{md,json}.
 *
 *   npm run bench:robust [-- --steps 200 --algo demuon --network]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Attack } from '@demuon/shared/gossip';
import { positiveInt } from '../../client/src/node/cli-args';
import { runSimulation, simulationConfig } from '../../client/src/node/simulation';
import { type NetworkResult, runNetworkCase } from './robust-mixing-network';

const { values: args } = parseArgs({
  options: {
    steps: { type: 'string', default: '200' },
    algo: { type: 'string', default: 'demuon' },
    network: { type: 'boolean', default: false },
    out: { type: 'string', default: join(dirname(fileURLToPath(import.meta.url)), '../../docs/bench') },
  },
});
const steps = positiveInt('--steps', args.steps);
const NODES = 8;
/** The ring 0-1-…-7-0 without node 0, renumbered: nodes 1…7 become 0…6. */
const PATH_OF_7 = `edges:${Array.from({ length: NODES - 2 }, (_, i) => `${i}-${i + 1}`).join(',')}`;

interface Case {
  readonly label: string;
  readonly robust: boolean;
  readonly attack?: Attack;
  readonly withoutNode0?: boolean;
}

const CASES: Case[] = [
  { label: 'clean', robust: false },
  { label: 'clean', robust: true },
  { label: 'node 0 absent (path of 7)', robust: false, withoutNode0: true },
  ...[
    { label: 'node 0 sends ×1e30', attack: { kind: 'scale', factor: 1e30 } } as const,
    { label: 'node 0 sends −x', attack: { kind: 'sign-flip' } } as const,
  ].flatMap((c) => [false, true].map((robust) => ({ ...c, robust }))),
];

interface Row {
  readonly label: string;
  readonly robust: boolean;
  readonly honestValLoss: number;
  readonly diverged: boolean;
  readonly restarts: number;
  readonly clippedPerNodeStep: number;
  readonly leftOut: number;
  readonly wallSeconds: number;
}

const rows: Row[] = [];
for (const { label, robust, attack, withoutNode0 } of CASES) {
  const config = simulationConfig({
    preset: 'tiny',
    vocab: 512,
    nodes: withoutNode0 ? NODES - 1 : NODES,
    topology: withoutNode0 ? PATH_OF_7 : 'ring',
    algorithm: { name: args.algo, lr: { eta: 0.02, schedule: 'linear' } },
    steps,
    evalEvery: steps,
    evalBatches: 4,
    ...(robust ? { robustMixing: {} } : {}),
    byzantine: attack ? [{ node: 0, attack }] : [],
  });
  const result = await runSimulation(config);
  const last = result.records[result.records.length - 1];
  const row: Row = {
    label,
    robust,
    honestValLoss: last.honestValLoss,
    diverged: result.diverged,
    restarts: result.restarts,
    clippedPerNodeStep: result.clipped.reduce((a, b) => a + b, 0) / config.nodes / Math.max(1, last.step),
    leftOut: result.leftOut.reduce((a, b) => a + b, 0),
    wallSeconds: last.wallSeconds,
  };
  rows.push(row);
  console.log(
    `${label.padEnd(26)} ${robust ? 'robust' : 'plain '} honest val ${row.honestValLoss.toFixed(4)}${row.diverged ? ' (diverged)' : ''} restarts ${row.restarts} clipped/node/step ${row.clippedPerNodeStep.toFixed(1)} rounds left out ${row.leftOut} ${row.wallSeconds.toFixed(0)} s`,
  );
}

const clean = rows.find((r) => r.label === 'clean' && !r.robust)!.honestValLoss;
const absent = rows.find((r) => r.label.startsWith('node 0 absent'))!.honestValLoss;
const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${x.toFixed(4)}` : String(x));
const table = [
  '| run | mixing | honest final val loss | vs clean ring | vs ring without node 0 | nodes restored | clipped per node and step | rounds left out | wall s |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.label} | ${r.robust ? 'robust' : 'plain'} | ${fmt(r.honestValLoss)}${r.diverged ? ' (diverged)' : ''} | ${signed(r.honestValLoss - clean)} | ${signed(r.honestValLoss - absent)} | ${r.restarts} | ${r.clippedPerNodeStep.toFixed(1)} | ${r.leftOut} | ${r.wallSeconds.toFixed(0)} |`,
  ),
].join('\n');
interface NetworkRow extends NetworkResult {
  readonly label: string;
  readonly robust: boolean;
}
const networkRows: NetworkRow[] = [];
if (args.network) {
  // Plain gossip under attack is left to the simulator: there, honest peers restart over and over.
  for (const c of CASES.filter((c) => !c.withoutNode0 && (c.robust || !c.attack))) {
    const result = await runNetworkCase({
      steps,
      nodes: NODES,
      algo: args.algo,
      robust: c.robust,
      attack: c.attack,
    });
    networkRows.push({ label: c.label, robust: c.robust, ...result });
    console.log(
      `network: ${c.label.padEnd(20)} ${c.robust ? 'robust' : 'plain '} honest val ${fmt(result.honestValLoss)} (${result.finished} finished) restarts ${result.restarts} ${result.wallSeconds.toFixed(0)} s`,
    );
  }
}
const networkClean = networkRows.find((r) => r.label === 'clean' && !r.robust)?.honestValLoss ?? Number.NaN;
const networkTable = [
  '| run | mixing | honest final val loss | vs clean ring (network) | vs simulator, same run | honest peers finished | restarts | wall s |',
  '|---|---|---|---|---|---|---|---|',
  ...networkRows.map((r) => {
    const simulated = rows.find((s) => s.label === r.label && s.robust === r.robust)!.honestValLoss;
    return `| ${r.label} | ${r.robust ? 'robust' : 'plain'} | ${fmt(r.honestValLoss)} | ${signed(r.honestValLoss - networkClean)} | ${signed(r.honestValLoss - simulated)} | ${r.finished} | ${r.restarts} | ${r.wallSeconds.toFixed(0)} |`;
  }),
].join('\n');

const md = `# Robust mixing

\`npm run bench:robust -- --steps ${steps} --algo ${args.algo}${args.network ? ' --network' : ''}\`: ring of 8, \`tiny\` preset (vocab 512), ${args.algo},
lr 0.02 linear, batch 8, ${steps} steps, iid data. Node 0 trains honestly but gossips corrupted values in
every round; "honest final val loss" is the mean final validation loss of the other nodes. "Robust" is the
run option \`robustMixing: {}\` (ClippedGossip with one suspect per round, liars beyond 10 radii left out);
"clipped" counts neighbour tensors scaled down per node and step (each round has 37 tensors per neighbour);
"rounds left out" counts neighbour rounds left out for lying, over all nodes. A node whose state turns
non-finite takes a neighbour's state again ("nodes restored"). The reference "ring without node 0" trains the
7 other nodes on the path its removal leaves: what the honest nodes can reach once they no longer listen to it.

## Simulator

${table}
${
  networkRows.length > 0
    ? `
## Network

The same runs with 8 headless peers (\`npm run peer\`, CPU, one thread each) on a signaling server and WebRTC
on loopback, the bad one started with \`--byzantine\`.

${networkTable}
`
    : ''
}`;
console.log(`\n${table}\n\n${networkTable}`);
mkdirSync(args.out, { recursive: true });
writeFileSync(join(args.out, 'robust-mixing.md'), md);
writeFileSync(
  join(args.out, 'robust-mixing.json'),
  `${JSON.stringify({ steps, algo: args.algo, simulator: rows, network: networkRows }, null, 2)}\n`,
);
