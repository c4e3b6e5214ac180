/**
 * What the HTTP API reads and creates: every run of the server, whichever process holds it. One process
 * answers from its registry (localDirectory); scaled out, from Redis (cluster/redis-directory.ts).
 */
import type { MetricsPoint, RunConfig, RunState, RunSummary } from '@demuon/shared/protocol';
import { Refusal } from './run';
import type { RunRegistry } from './run-registry';

export type RunView = { config: RunConfig; state: RunState };
export type CreatedRun = { config: RunConfig; token: string };

export interface RunDirectory {
  readonly adminToken: string;
  summaries(): Promise<RunSummary[]>;
  /** The run's config and latest state; undefined when there is no such run. */
  view(id: string): Promise<RunView | undefined>;
  /** Every metrics point kept of the run, oldest first; undefined when there is no such run. */
  points(id: string): Promise<MetricsPoint[] | undefined>;
  /** A Refusal when the id is taken or the server holds `maxRuns` runs already. */
  create(config: RunConfig, maxRuns: number): Promise<CreatedRun | Refusal>;
}

export function localDirectory(registry: RunRegistry): RunDirectory {
  return {
    adminToken: registry.adminToken,
    summaries: async () => registry.list().map((run) => run.summary()),
    view: async (id) => {
      const run = registry.get(id);
      return run && { config: run.config, state: run.state(Date.now()) };
    },
    points: async (id) => registry.get(id)?.metrics.points(),
    create: async (config, maxRuns) => {
      const run = await registry.create(config, maxRuns);
      return run instanceof Refusal ? run : { config: run.config, token: run.secretToken() };
    },
  };
}
