/** The simulator's `--quick` run: the GPT on Brown, four DeMuon nodes on a ring, real onnxruntime-node. */
import { gptConfig, parameterCount } from '@demuon/shared/model';
import { expect, it } from 'vitest';
import { QUICK_SIMULATION, runSimulation, simulationConfig } from '../../client/src/node/simulation';

it('the quick simulation lowers the loss and keeps the nodes in consensus', async () => {
  const config = simulationConfig(QUICK_SIMULATION);
  const result = await runSimulation(config);
  const first = result.records[0];
  const last = result.records[result.records.length - 1];
  console.log(
    `quick run: val ${first.valLoss.toFixed(3)} → ${last.valLoss.toFixed(3)}, consensus ${last.consensusError.toExponential(2)}, ${last.wallSeconds.toFixed(1)} s`,
  );
  expect(result.diverged).toBe(false);
  expect(result.records.map((r) => r.step)).toEqual([0, 25, 50, 75, 100]);
  expect(last.valLoss).toBeLessThan(first.valLoss - 1);
  // All nodes started equal, drifted apart while training, and the decaying step brings them back.
  expect(Math.max(...result.records.map((r) => r.consensusError))).toBeGreaterThan(last.consensusError * 10);
  expect(last.consensusError).toBeLessThan(5e-3);
  const spread = Math.max(...last.valLossPerNode) - Math.min(...last.valLossPerNode);
  expect(spread).toBeLessThan(0.01);
  // Two rounds per step of every parameter to each of two ring neighbours, as float32.
  const paramBytes = 4 * parameterCount(gptConfig('tiny', { vocabSize: QUICK_SIMULATION.vocab }));
  expect(last.bytesPerNode).toBe(100 * 2 * 2 * paramBytes);
  // About 20 s alone; a machine busy with browsers and peer processes can make it many times that.
}, 400_000);
