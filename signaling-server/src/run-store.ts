/**
 * `<dataDir>/runs.json`: the run configs, their join tokens, the admin token and the epoch counters of
 * every run. Written atomically (temporary file, fsync, rename), so a crash leaves the old or the new file,
 * never a mix. A file that does not parse stops the server with the reason instead of being overwritten.
 */
import { existsSync, readFileSync } from 'node:fs';
import { type RunConfig, RunConfigSchema } from '@demuon/shared/protocol';
import { z } from 'zod';
import { damagedFile, writeFileAtomic } from './atomic-file';

export type StoredRun = {
  config: RunConfig;
  token: string;
  createdAt: number;
  /** The last epoch number handed out (to a proposal or a commit), so numbers keep growing after a restart. */
  lastEpoch: number;
  /**
   * The last committed epoch: a stored membership older than this was not written, and its peers hold a
   * newer epoch. Absent in files from before proposals (lastEpoch was the committed epoch then).
   */
  committedEpoch?: number;
};

export type StoredState = { adminToken: string | null; runs: StoredRun[] };

const StoredFileSchema = z
  .object({
    version: z.literal(1),
    adminToken: z.string().min(16),
    runs: z.array(
      z
        .object({
          config: z.unknown(),
          token: z.string().min(16),
          createdAt: z.number().int(),
          lastEpoch: z.number().int().min(0).default(0),
          committedEpoch: z.number().int().min(0).optional(),
        })
        .strict(),
    ),
  })
  .strict();

export class RunStore {
  constructor(readonly file: string) {}

  load(): StoredState {
    if (!existsSync(this.file)) return { adminToken: null, runs: [] };
    const fail = (why: string) => damagedFile(this.file, why);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (error) {
      throw fail(`not valid JSON: ${(error as Error).message}`);
    }
    const parsed = StoredFileSchema.safeParse(json);
    if (!parsed.success) throw fail(issuesText(parsed.error));
    const seen = new Set<string>();
    const runs = parsed.data.runs.map((run, i) => {
      const config = RunConfigSchema.safeParse(run.config);
      if (!config.success) throw fail(`runs.${i}.config: ${issuesText(config.error)}`);
      if (seen.has(config.data.id)) throw fail(`run "${config.data.id}" appears twice`);
      seen.add(config.data.id);
      return { ...run, config: config.data };
    });
    return { adminToken: parsed.data.adminToken, runs };
  }

  save(adminToken: string, runs: readonly StoredRun[]): void {
    writeFileAtomic(this.file, `${JSON.stringify({ version: 1, adminToken, runs }, null, 2)}\n`);
  }
}

export function issuesText(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
}
