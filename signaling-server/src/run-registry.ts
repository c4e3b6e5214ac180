/**
 * All runs of a server, persisted in `<dataDir>/runs.json` with their tokens, and their metrics and
 * current membership under `<dataDir>/<runId>/`. A run is written to disk before anyone learns its token,
 * so a token that was handed out always survives a restart; so do the members of every run's epoch.
 */
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { RunConfig } from '@demuon/shared/protocol';
import { MAX_EPOCH_NUMBER } from './limits';
import type { Logger } from './log';
import { type MembershipSnapshot, MembershipStore } from './membership-store';
import { type MetricsLimits, MetricsStore } from './metrics-store';
import { Refusal, Run } from './run';
import { RunStore, type StoredRun } from './run-store';
import { newToken } from './secrets';

export type RegistryOptions = {
  dataDir: string;
  log: Logger;
  signalGraceMs: number;
  epochBatchMs: number;
  proposalTimeoutMs: number;
  suspicionMs: number;
  metricsLimits: MetricsLimits;
  /** Use this admin token instead of the stored (or a new random) one. */
  adminToken?: string;
  onChange: (run: Run) => void;
};

/** Epoch counters change at every join and leave; they are written at most this often. */
const EPOCH_SAVE_DELAY_MS = 1000;

export class RunRegistry {
  private readonly runs = new Map<string, Run>();
  /** Ids being created (their metrics file is being read), so that two requests cannot both create one. */
  private readonly reserved = new Set<string>();
  private saveTimer: NodeJS.Timeout | undefined;
  /** Per run, the epoch counters runs.json holds (`last/committed`). */
  private readonly savedEpochs = new Map<string, string>();

  private constructor(
    private readonly store: RunStore,
    readonly adminToken: string,
    private readonly options: RegistryOptions,
  ) {}

  /** Loads runs.json (or starts empty); throws naming the problem when the file is not valid. */
  static async open(options: RegistryOptions): Promise<RunRegistry> {
    const store = new RunStore(join(options.dataDir, 'runs.json'));
    const loaded = store.load();
    const adminToken = options.adminToken ?? loaded.adminToken ?? newToken();
    const registry = new RunRegistry(store, adminToken, options);
    for (const stored of loaded.runs) {
      registry.add(await registry.instantiate(saneCounters(stored, options.log), { restore: true }));
    }
    if (adminToken !== loaded.adminToken) registry.save();
    return registry;
  }

  get(id: string): Run | undefined {
    return this.runs.get(id);
  }

  list(): Run[] {
    return [...this.runs.values()];
  }

  /**
   * Creates a run with a fresh token; a Refusal when the id is taken, or when the server already holds
   * `maxRuns` runs (runs being created count).
   */
  async create(config: RunConfig, maxRuns = Number.POSITIVE_INFINITY): Promise<Run | Refusal> {
    if (this.runs.has(config.id) || this.reserved.has(config.id)) {
      return new Refusal('run-exists', `a run with id "${config.id}" already exists; choose another id`);
    }
    if (this.runs.size + this.reserved.size >= maxRuns) {
      return new Refusal('too-many-runs', `this server holds at most ${maxRuns} runs`);
    }
    this.reserved.add(config.id);
    try {
      const stored = { config, token: newToken(), createdAt: Date.now(), lastEpoch: 0, committedEpoch: 0 };
      const run = await this.instantiate(stored, { restore: false });
      this.add(run);
      try {
        this.save();
      } catch (error) {
        this.runs.delete(run.id);
        await run.metrics.close();
        throw error;
      }
      return run;
    } finally {
      this.reserved.delete(config.id);
    }
  }

  /**
   * Makes sure these runs exist (the config file, the default run). A run that exists with another config
   * takes the new one and keeps its token, epoch counter and metrics: the file is the host's word.
   */
  async ensure(configs: readonly RunConfig[]): Promise<void> {
    for (const config of configs) {
      const existing = this.runs.get(config.id);
      if (!existing) {
        await this.create(config);
        continue;
      }
      if (sameConfig(existing.config, config)) continue;
      if (existing.memberCount > 0) {
        // Peers that resume would train on with the old config: the host decides, nothing is dropped.
        throw new Error(
          `run "${config.id}": its config changed, but ${existing.memberCount} peer(s) from before the restart ` +
            `may resume it (${existing.membershipFile}); start with its old config so that they can, or ` +
            'remove that file to start the run afresh',
        );
      }
      this.options.log.warn(`run "${config.id}": config changed, keeping its token and metrics`);
      existing.retire();
      const stored = { ...existing.stored(), config };
      this.add(new Run({ ...this.runOptions(existing.metrics, this.membershipStore(config.id)), stored }));
      this.save();
    }
  }

  /** Schedules writing runs.json when the run's epoch counters moved since they were last written. */
  noteChange(run: Run): void {
    if (this.savedEpochs.get(run.id) === epochCounters(run.stored())) return;
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      this.saveOrWarn();
    }, EPOCH_SAVE_DELAY_MS).unref();
  }

  async close(): Promise<void> {
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.saveOrWarn();
    await Promise.all(this.list().map((run) => run.close()));
  }

  private save(): void {
    const runs = this.list().map((run) => run.stored());
    this.store.save(this.adminToken, runs);
    for (const run of runs) this.savedEpochs.set(run.config.id, epochCounters(run));
  }

  private saveOrWarn(): void {
    try {
      this.save();
    } catch (error) {
      this.options.log.warn(`cannot write ${this.store.file}: ${(error as Error).message}`);
    }
  }

  /** A Run over its files; `restore` takes back the members stored before a restart. */
  private async instantiate(stored: StoredRun, { restore }: { restore: boolean }): Promise<Run> {
    const membershipStore = this.membershipStore(stored.config.id);
    const restored = restore ? this.restorable(membershipStore, stored) : undefined;
    const file = join(this.options.dataDir, stored.config.id, 'metrics.jsonl');
    const metrics = await MetricsStore.open(file, this.options.metricsLimits, this.options.log);
    const options = { ...this.runOptions(metrics, membershipStore), stored };
    if (!restored) return new Run(options);
    try {
      return new Run({ ...options, restored });
    } catch (error) {
      // A stored epoch that cannot be rebuilt must not keep the server from starting: its peers join again.
      this.options.log.warn(
        `${membershipStore.file}: cannot rebuild its epoch (${(error as Error).message}); ` +
          'the run starts without its members (their peers join again)',
      );
      return new Run(options);
    }
  }

  /**
   * The stored membership, unless runs.json knows of a later committed epoch (the membership write
   * failed): peers hold newer. A later proposal number alone is no reason: proposals are not stored.
   */
  private restorable(store: MembershipStore, stored: StoredRun): MembershipSnapshot | undefined {
    const snapshot = store.load(stored.config.steps);
    const committed = stored.committedEpoch ?? stored.lastEpoch;
    if (!snapshot || snapshot.epoch >= committed) return snapshot ?? undefined;
    this.options.log.warn(
      `${store.file}: epoch ${snapshot.epoch} is older than the run's epoch ${committed}; ` +
        'its peers must join again',
    );
    return undefined;
  }

  private membershipStore(runId: string): MembershipStore {
    return new MembershipStore(join(this.options.dataDir, runId, 'membership.json'), this.options.log);
  }

  private runOptions(metrics: MetricsStore, membershipStore: MembershipStore) {
    const { signalGraceMs, epochBatchMs, proposalTimeoutMs, suspicionMs, onChange } = this.options;
    return {
      metrics,
      membershipStore,
      signalGraceMs,
      epochBatchMs,
      proposalTimeoutMs,
      suspicionMs,
      onChange,
      log: this.options.log,
    };
  }

  private add(run: Run): void {
    this.runs.set(run.id, run);
  }
}

/**
 * Epoch counters beyond any run's are the trace of reports with absurd epoch numbers (accepted before they
 * were checked): they are dropped, with a warning, and the stored membership and metrics number the next
 * epochs instead, so that every epoch number stays one peers accept.
 */
function saneCounters(stored: StoredRun, log: Logger): StoredRun {
  const { lastEpoch, committedEpoch = lastEpoch } = stored;
  if (lastEpoch <= MAX_EPOCH_NUMBER && committedEpoch <= MAX_EPOCH_NUMBER) return stored;
  log.warn(
    `runs.json: run "${stored.config.id}": epoch counters ${lastEpoch}/${committedEpoch} are beyond any ` +
      "run's; numbering the next epochs from its membership and metrics",
  );
  return { ...stored, lastEpoch: 0, committedEpoch: 0 };
}

function epochCounters(run: StoredRun): string {
  return `${run.lastEpoch}/${run.committedEpoch}`;
}

function sameConfig(a: RunConfig, b: RunConfig): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)));
}
