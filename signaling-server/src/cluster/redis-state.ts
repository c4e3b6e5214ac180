/**
 * What the server processes of a scaled-out deployment share in Redis, and the scripts that change it
 * atomically. Keys of one run carry its id as a hash tag (`{run:ID}`), so that a Redis Cluster keeps them
 * in one slot and a script can touch them together.
 *
 *   demuon:admin-token             the admin token (the first process to start sets it)
 *   demuon:runs                    hash: run id → {config, token, createdAt}
 *   demuon:{run:ID}:owner          the process that holds the run's membership, with a lease (PX)
 *   demuon:{run:ID}:epochs         hash: last (the last epoch number handed out), committed
 *   demuon:{run:ID}:membership     the committed epoch's members (membership-store.ts's format)
 *   demuon:{run:ID}:metrics        list: every metrics point, one JSON line each (the newest kept)
 *   demuon:{run:ID}:state          the latest run-state snapshot, for the HTTP API of every process
 *
 * One process owns a run at a time: it alone decides its membership changes, and its commit of an epoch
 * (the `commit` script) succeeds only while its lease holds, so two processes never publish different
 * epochs for one run. A process that loses its lease (frozen past it) finds out at its next commit or
 * renewal and steps down.
 */
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import { Redis } from 'ioredis';
import { z } from 'zod';

const PREFIX = 'demuon:';

export const runKey = (id: string, what: 'owner' | 'epochs' | 'membership' | 'metrics' | 'state') =>
  `${PREFIX}{run:${id}}:${what}`;
export const RUNS_KEY = `${PREFIX}runs`;
const ADMIN_TOKEN_KEY = `${PREFIX}admin-token`;
export const processChannel = (name: string) => `${PREFIX}process:${name}`;

/** Metrics lines kept per run: the newest, so that Redis memory stays bounded. */
const MAX_METRICS_LINES = 1_000_000;

const StoredRunSchema = z.object({ config: z.unknown(), token: z.string().min(16), createdAt: z.number() });
export type SharedRun = { config: RunConfig; token: string; createdAt: number };

/** Takes the lease when free, or renews it when it is ours; records the last epoch number handed out. */
const CLAIM = `
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if ARGV[3] then
  local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
  if tonumber(ARGV[3]) > last then redis.call('HSET', KEYS[2], 'last', ARGV[3]) end
end
return 1`;

/** Takes the lease from a process known to be gone (nobody listens on its channel). */
const TAKE_FROM = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

/**
 * Stores a committed epoch's snapshot, only for the lease holder and never older than the stored one:
 * 1 stored, 0 not the owner, -1 an older epoch than the stored one.
 */
const COMMIT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local committed = tonumber(redis.call('HGET', KEYS[2], 'committed') or '0')
local epoch = tonumber(ARGV[2])
if epoch < committed then return -1 end
redis.call('SET', KEYS[3], ARGV[4])
local last = math.max(tonumber(redis.call('HGET', KEYS[2], 'last') or '0'), tonumber(ARGV[3]), epoch)
redis.call('HSET', KEYS[2], 'committed', epoch, 'last', last)
return 1`;

/** Adds a run unless its id is taken or `ARGV[3]` runs exist. */
const CREATE = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'exists' end
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'`;

export type CommitOutcome = 'ok' | 'not-owner' | 'stale';

export class SharedState {
  constructor(readonly redis: Redis) {}

  /** Connects, failing with the reason when Redis does not answer within a few seconds. */
  static async connect(url: string): Promise<SharedState> {
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3, enableAutoPipelining: true });
    // It reconnects on its own, and commands report their own failures; the last error names the cause.
    let lastError: Error | undefined;
    redis.on('error', (error: Error) => {
      lastError = error;
    });
    try {
      await redis.connect();
      await redis.ping();
    } catch (error) {
      redis.disconnect();
      throw new Error(`cannot reach Redis at ${url}: ${(lastError ?? (error as Error)).message}`);
    }
    return new SharedState(redis);
  }

  /** The shared admin token: `given` when set (it replaces the stored one), else the stored or `fresh`. */
  async adminToken(given: string | undefined, fresh: string): Promise<string> {
    if (given !== undefined) {
      await this.redis.set(ADMIN_TOKEN_KEY, given);
      return given;
    }
    await this.redis.set(ADMIN_TOKEN_KEY, fresh, 'NX');
    return (await this.redis.get(ADMIN_TOKEN_KEY)) ?? fresh;
  }

  async runs(): Promise<SharedRun[]> {
    const all = await this.redis.hgetall(RUNS_KEY);
    return Object.values(all)
      .map(parseRun)
      .filter((r): r is SharedRun => r !== undefined);
  }

  async run(id: string): Promise<SharedRun | undefined> {
    const text = await this.redis.hget(RUNS_KEY, id);
    return text === null ? undefined : parseRun(text);
  }

  async createRun(run: SharedRun, maxRuns: number): Promise<'ok' | 'exists' | 'full'> {
    const limit = Number.isFinite(maxRuns) ? maxRuns : 1e9;
    return (await this.redis.eval(CREATE, 1, RUNS_KEY, run.config.id, JSON.stringify(run), limit)) as
      | 'ok'
      | 'exists'
      | 'full';
  }

  async replaceRun(run: SharedRun): Promise<void> {
    await this.redis.hset(RUNS_KEY, run.config.id, JSON.stringify(run));
  }

  async owner(id: string): Promise<string | null> {
    return this.redis.get(runKey(id, 'owner'));
  }

  /** Takes or renews the lease of run `id` for `me`; false when another process holds it. */
  async claim(id: string, me: string, leaseMs: number, lastEpoch?: number): Promise<boolean> {
    const args = lastEpoch === undefined ? [] : [lastEpoch];
    const keys = [runKey(id, 'owner'), runKey(id, 'epochs')];
    return (await this.redis.eval(CLAIM, 2, ...keys, me, leaseMs, ...args)) === 1;
  }

  async takeFrom(id: string, gone: string, me: string, leaseMs: number): Promise<boolean> {
    return (await this.redis.eval(TAKE_FROM, 1, runKey(id, 'owner'), gone, me, leaseMs)) === 1;
  }

  async release(id: string, me: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, runKey(id, 'owner'), me);
  }

  async commit(
    id: string,
    me: string,
    epoch: number,
    lastEpoch: number,
    text: string,
  ): Promise<CommitOutcome> {
    const keys = [runKey(id, 'owner'), runKey(id, 'epochs'), runKey(id, 'membership')];
    const result = await this.redis.eval(COMMIT, 3, ...keys, me, epoch, lastEpoch, text);
    return result === 1 ? 'ok' : result === 0 ? 'not-owner' : 'stale';
  }

  async epochs(id: string): Promise<{ last: number; committed: number }> {
    const { last = '0', committed = '0' } = await this.redis.hgetall(runKey(id, 'epochs'));
    return { last: Number(last) || 0, committed: Number(committed) || 0 };
  }

  membership(id: string): Promise<string | null> {
    return this.redis.get(runKey(id, 'membership'));
  }

  appendMetrics(id: string, line: string): Promise<unknown> {
    const key = runKey(id, 'metrics');
    return this.redis.multi().rpush(key, line).ltrim(key, -MAX_METRICS_LINES, -1).exec();
  }

  /** The run's metrics lines, oldest first, read in pages. */
  async *metricsLines(id: string): AsyncIterable<string> {
    const key = runKey(id, 'metrics');
    const page = 10_000;
    for (let start = 0; ; start += page) {
      const lines = await this.redis.lrange(key, start, start + page - 1);
      yield* lines;
      if (lines.length < page) return;
    }
  }

  putState(id: string, text: string): Promise<unknown> {
    return this.redis.set(runKey(id, 'state'), text);
  }

  state(id: string): Promise<string | null> {
    return this.redis.get(runKey(id, 'state'));
  }

  /** How many subscribers listen on each process's channel (0: that process is gone). */
  async listeners(processes: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (processes.length === 0) return counts;
    const reply = (await this.redis.call('PUBSUB', 'NUMSUB', ...processes.map(processChannel))) as unknown[];
    for (const [i, name] of processes.entries()) counts.set(name, Number(reply[2 * i + 1]) || 0);
    return counts;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => {});
  }
}

function parseRun(text: string): SharedRun | undefined {
  try {
    const stored = StoredRunSchema.parse(JSON.parse(text));
    return { ...stored, config: RunConfigSchema.parse(stored.config) };
  } catch {
    return undefined;
  }
}
