/**
 * Experiments: a JSON file of simulator runs sharing a base config, each run optionally a grid of step
 * sizes. For every run the best step size (lowest final mean validation loss, diverged runs excluded) is
 * kept for the comparison plots and the results table, as the DeMuon authors tuned each method per graph.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeRunReport } from './sim-report';
import { type EvalRecord, runSimulation, type SimulationResult, simulationConfig } from './simulation';
import { lineChartSvg } from './svg-plot';

const ExperimentSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    base: z.record(z.string(), z.unknown()),
    runs: z
      .array(
        z
          .object({
            label: z.string().regex(/^[\w.-]+$/, 'labels may use letters, digits, _ . - only'),
            /** Step sizes to try; each becomes `algorithm.lr.eta` of one simulation. */
            etas: z.array(z.number().positive()).min(1),
            overrides: z.record(z.string(), z.unknown()).default({}),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export type Experiment = z.infer<typeof ExperimentSchema>;

interface Outcome {
  label: string;
  eta: number;
  result: SimulationResult;
  final: EvalRecord;
}

export interface ExperimentOptions {
  log: (line: string) => void;
  /** Build the table and plots from the runs already on disk, running nothing. */
  reportOnly?: boolean;
}

export async function runExperiment(
  input: unknown,
  outDir: string,
  { log, reportOnly = false }: ExperimentOptions,
) {
  const parsed = ExperimentSchema.safeParse(input);
  if (!parsed.success) {
    throw new Error(
      `invalid experiment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const experiment = parsed.data;
  // Validate every run before spending time on the first.
  const plans = experiment.runs.flatMap((run) =>
    run.etas.map((eta) => {
      const merged = deepMerge(experiment.base, run.overrides) as Record<string, unknown> & {
        algorithm?: object;
      };
      const algorithm = {
        ...(merged.algorithm ?? {}),
        lr: { ...((merged.algorithm as { lr?: object })?.lr ?? {}), eta },
      };
      try {
        return { run, eta, config: simulationConfig({ ...merged, algorithm }) };
      } catch (error) {
        throw new Error(`run '${run.label}' with η ${eta}: ${(error as Error).message}`);
      }
    }),
  );
  mkdirSync(outDir, { recursive: true });
  const outcomes: Outcome[] = [];
  const started = performance.now();
  for (const [k, { run, eta, config }] of plans.entries()) {
    const label = `${run.label}@${eta}`;
    const cached = join(outDir, 'runs', `${label}.jsonl`);
    let result: SimulationResult;
    if (existsSync(cached)) {
      result = readRun(cached);
      log(`[${k + 1}/${plans.length}] ${label}: reusing ${cached}`);
    } else if (reportOnly) {
      log(`[${k + 1}/${plans.length}] ${label}: not run yet, left out`);
      continue;
    } else {
      log(`[${k + 1}/${plans.length}] ${label} …`);
      result = await runSimulation(config);
      writeRunReport(result, join(outDir, 'runs'), label);
    }
    const final = result.records[result.records.length - 1];
    outcomes.push({ label: run.label, eta, result, final });
    log(
      `  ${result.diverged ? 'diverged' : `val ${final.valLoss.toFixed(4)}, consensus ${final.consensusError.toExponential(2)}`} (${final.wallSeconds.toFixed(0)} s)`,
    );
  }

  const best = experiment.runs.flatMap((run) => {
    const candidates = outcomes.filter((o) => o.label === run.label);
    if (candidates.length === 0) return [];
    const finite = candidates.filter((o) => !o.result.diverged && Number.isFinite(o.final.valLoss));
    return (finite.length ? finite : candidates).reduce((a, b) =>
      b.final.valLoss < a.final.valLoss ? b : a,
    );
  });
  const series = (pick: (r: EvalRecord) => number) =>
    best.map((o) => ({
      name: `${o.label} (η ${o.eta})`,
      points: o.result.records.map((r) => [r.step, pick(r)] as const),
    }));
  writeFileSync(
    join(outDir, 'validation-loss.svg'),
    lineChartSvg({
      title: `${experiment.name}: mean validation loss`,
      xLabel: 'iteration',
      yLabel: 'loss',
      series: series((r) => r.valLoss),
    }),
  );
  writeFileSync(
    join(outDir, 'consensus.svg'),
    lineChartSvg({
      title: `${experiment.name}: consensus error`,
      xLabel: 'iteration',
      yLabel: 'consensus error',
      logY: true,
      series: series((r) => r.consensusError),
    }),
  );
  const table = [
    '| run | best η | final mean val loss | val loss of X̄ | consensus error | MB sent per node | wall (s) | η tried (final val loss) |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...best.map((o) => {
      const tried = outcomes
        .filter((c) => c.label === o.label)
        .map((c) => `${c.eta}: ${c.result.diverged ? 'diverged' : c.final.valLoss.toFixed(3)}`)
        .join(', ');
      return `| ${o.label} | ${o.eta} | ${o.final.valLoss.toFixed(4)} | ${o.final.valLossOfAverage.toFixed(4)} | ${o.final.consensusError.toExponential(2)} | ${(o.final.bytesPerNode / 1e6).toFixed(1)} | ${o.final.wallSeconds.toFixed(0)} | ${tried} |`;
    }),
  ].join('\n');
  writeFileSync(
    join(outDir, 'results.md'),
    `# ${experiment.name}\n\n${experiment.description ?? ''}\n\n${table}\n`,
  );
  log(
    `\n${table}\n\nwrote ${outDir}/results.md, validation-loss.svg, consensus.svg (${((performance.now() - started) / 60000).toFixed(1)} min)`,
  );
  return best;
}

function readRun(file: string): SimulationResult {
  const lines = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const { type: _t, label: _l, ...config } = lines[0];
  const end = lines[lines.length - 1];
  return {
    config,
    records: lines.filter((l) => l.type === 'eval').map(({ type: _, ...r }) => r as EvalRecord),
    diverged: end.diverged,
    stopped: end.stopped,
    restarts: end.restarts ?? 0,
    clipped: end.clipped ?? [],
    leftOut: end.leftOut ?? [],
    shardSummary: end.shards,
  };
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      prev &&
      typeof prev === 'object' &&
      !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
