/**
 * `<dataDir>/<runId>/membership.json`: the members of a run's current epoch, so that a restarted server
 * can hand every peer the very epoch it had and training goes on undisturbed. Written atomically before an
 * epoch's payloads go out (a peer never holds an epoch the file lacks), and at most once a second when
 * only the reported steps moved (they set the next epoch's activation step). A file that does not parse
 * stops the server with the reason, like runs.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { IdSchema } from '@demuon/shared/protocol';
import { z } from 'zod';
import { damagedFile, writeFileAtomic } from './atomic-file';
import type { Logger } from './log';
import { issuesText } from './run-store';

const StoredMemberSchema = z
  .object({
    id: IdSchema,
    name: z.string().max(100).optional(),
    platform: z.enum(['browser', 'node']),
    backend: z.enum(['webgpu', 'wasm', 'cpu']),
    joinedAt: z.number().int(),
    /** The largest step the peer reported; null before its first report. */
    step: z.number().int().min(0).nullable(),
  })
  .strict();
export type StoredMember = z.infer<typeof StoredMemberSchema>;

/** What re-creates an epoch's payloads: TopologyEpoch.build is a function of these and the run config. */
const MembershipFileSchema = z
  .object({
    version: z.literal(1),
    savedAt: z.number().int(),
    epoch: z.number().int().min(0),
    activationStep: z.number().int().min(0),
    /** In index order (join order). */
    members: z.array(StoredMemberSchema),
    /** Members told to bootstrap in this epoch (their payloads carry `bootstrapFrom`). */
    joiners: z.array(IdSchema),
  })
  .strict()
  .superRefine((file, ctx) => {
    const ids = new Set(file.members.map((m) => m.id));
    if (ids.size !== file.members.length) ctx.addIssue({ code: 'custom', message: 'a member appears twice' });
    for (const joiner of file.joiners) {
      if (!ids.has(joiner)) ctx.addIssue({ code: 'custom', message: `joiner ${joiner} is not a member` });
    }
  });

export type MembershipSnapshot = Omit<z.infer<typeof MembershipFileSchema>, 'version' | 'savedAt'>;

/** Steps move at every report: they are written at most this often (a crash loses at most this much). */
const STEP_SAVE_DELAY_MS = 1000;

export class MembershipStore {
  private pending: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    private readonly log: Logger,
  ) {}

  /** The stored snapshot, or null without a file; throws naming the problem when the file is damaged. */
  load(): MembershipSnapshot | null {
    if (!existsSync(this.file)) return null;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (error) {
      throw damagedFile(this.file, `not valid JSON: ${(error as Error).message}`);
    }
    const parsed = MembershipFileSchema.safeParse(json);
    if (!parsed.success) throw damagedFile(this.file, issuesText(parsed.error));
    const { version: _, savedAt: __, ...snapshot } = parsed.data;
    return snapshot;
  }

  /**
   * Writes at once (an epoch was made). A failure is reported, not thrown: the epoch must still reach the
   * members, and the next write may succeed.
   */
  save(snapshot: MembershipSnapshot): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    try {
      writeFileAtomic(this.file, `${JSON.stringify({ version: 1, savedAt: Date.now(), ...snapshot })}\n`);
    } catch (error) {
      this.log.warn(`cannot write ${this.file}: ${(error as Error).message}`);
    }
  }

  /** Writes within STEP_SAVE_DELAY_MS what `snapshot` returns then. */
  saveSoon(snapshot: () => MembershipSnapshot): void {
    this.pending ??= setTimeout(() => this.save(snapshot()), STEP_SAVE_DELAY_MS).unref();
  }

  /** Writes a pending change now (shutdown); a file with nothing new is left as it is. */
  flush(snapshot: () => MembershipSnapshot): void {
    if (this.pending) this.save(snapshot());
  }

  /** Drops a pending write: the run was replaced by one of a new config (no members, same file). */
  cancel(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
  }
}
