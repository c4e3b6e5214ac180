/** The HTTP API's view of the runs of a scaled-out deployment: read from Redis, whichever process owns them. */
import { formatTopologySpec } from '@demuon/shared/graph';
import { type MetricsPoint, MetricsPointSchema, type RunState } from '@demuon/shared/protocol';
import { Refusal } from '../run';
import type { RunDirectory } from '../run-directory';
import { newToken } from '../secrets';
import type { SharedRun, SharedState } from './redis-state';

export function sharedDirectory(state: SharedState, adminToken: string): RunDirectory {
  const latest = async (run: SharedRun): Promise<RunState> => {
    const text = await state.state(run.config.id);
    if (text !== null) return JSON.parse(text) as RunState;
    return blankState(run, (await state.epochs(run.config.id)).committed);
  };
  return {
    adminToken,
    async summaries() {
      const runs = await state.runs();
      return Promise.all(
        runs.map(async (run) => {
          const { config, createdAt } = run;
          const current = await latest(run);
          return {
            id: config.id,
            name: config.name,
            topology: formatTopologySpec(config.topology),
            algorithm: config.algorithm.name,
            members: current.members.length,
            maxPeers: config.maxPeers,
            epoch: current.epoch,
            createdAt,
          };
        }),
      );
    },
    async view(id) {
      const run = await state.run(id);
      return run && { config: run.config, state: await latest(run) };
    },
    async points(id) {
      if (!(await state.run(id))) return undefined;
      const points: MetricsPoint[] = [];
      for await (const line of state.metricsLines(id)) {
        const parsed = MetricsPointSchema.safeParse(safeJson(line));
        if (parsed.success) points.push(parsed.data);
      }
      return points.sort((a, b) => a.t - b.t);
    },
    async create(config, maxRuns) {
      const run = { config, token: newToken(), createdAt: Date.now() };
      const outcome = await state.createRun(run, maxRuns);
      if (outcome === 'exists') {
        return new Refusal('run-exists', `a run with id "${config.id}" already exists; choose another id`);
      }
      if (outcome === 'full')
        return new Refusal('too-many-runs', `this server holds at most ${maxRuns} runs`);
      return { config, token: run.token };
    },
  };
}

/** The state of a run no process has taken up yet: nobody is connected to it. */
function blankState({ config }: SharedRun, epoch: number): RunState {
  return {
    runId: config.id,
    name: config.name,
    topology: formatTopologySpec(config.topology),
    epoch,
    activationStep: 0,
    period: 1,
    pending: null,
    members: [],
    links: [],
    linksTruncated: false,
    failedLinks: [],
    updatedAt: Date.now(),
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
