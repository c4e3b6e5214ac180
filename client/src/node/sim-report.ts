/** Simulator outputs: a JSONL log and SVG plots per run. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SimulationResult } from './simulation';
import { lineChartSvg } from './svg-plot';

export function writeRunReport(result: SimulationResult, dir: string, label: string): void {
  mkdirSync(dir, { recursive: true });
  const lines = [
    { type: 'config', label, ...result.config },
    ...result.records.map((r) => ({ type: 'eval', ...r })),
    {
      type: 'result',
      diverged: result.diverged,
      stopped: result.stopped,
      restarts: result.restarts,
      clipped: result.clipped,
      leftOut: result.leftOut,
      shards: result.shardSummary,
    },
  ];
  writeFileSync(join(dir, `${label}.jsonl`), `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  const at = (pick: (r: SimulationResult['records'][number]) => number) =>
    result.records.map((r) => [r.step, pick(r)] as const).filter(([, y]) => Number.isFinite(y));
  writeFileSync(
    join(dir, `${label}.svg`),
    lineChartSvg({
      title: label,
      xLabel: 'iteration',
      yLabel: 'loss',
      series: [
        { name: 'validation (node mean)', points: at((r) => r.valLoss) },
        { name: 'validation of X̄', points: at((r) => r.valLossOfAverage) },
        { name: 'training (node mean)', points: at((r) => r.trainLoss) },
      ],
    }),
  );
  writeFileSync(
    join(dir, `${label}-consensus.svg`),
    lineChartSvg({
      title: `${label}: consensus error`,
      xLabel: 'iteration',
      yLabel: 'consensus error',
      logY: true,
      series: [{ name: 'consensus error', points: at((r) => r.consensusError) }],
    }),
  );
}
