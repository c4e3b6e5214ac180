/**
 * `<dataDir>/<runId>/membership.json`: the members of a run's current epoch, so that a restarted server
 * can hand every peer the very epoch it had and training goes on undisturbed. Written atomically before an
 * epoch's payloads go out (a peer never holds an epoch the file lacks), and at most once a second when
 * only the reported steps moved (a restarted server shows them). It also holds every member's
 * resume secret, and nothing serves it.
 *
 * Loading never stops the server: a file that does not parse, or whose epoch no run can have, is moved
 * aside (`membership.json.damaged`) with a warning, and the run starts without those members (their peers
 * join again); a member's step that is no step of the run is forgotten (null) with a warning.
 */
import { existsSync, readFileSync, renameSync } from 'node:fs';
import { IdSchema, PeerSecretSchema } from '@demuon/shared/protocol';
import { z } from 'zod';
import { writeFileAtomic } from './atomic-file';
import { MAX_EPOCH_NUMBER, maxActivationStep } from './limits';
import type { Logger } from './log';
import { issuesText } from './run-store';

const StepSchema = z.number().int().min(0);

const StoredMemberSchema = z
  .object({
    id: IdSchema,
    secret: PeerSecretSchema,
    name: z.string().max(100).optional(),
    platform: z.enum(['browser', 'node']),
    backend: z.enum(['webgpu', 'wasm', 'cpu']),
    joinedAt: z.number().int(),
    /** The largest step the peer reported; null before its first report. Checked against the run on load. */
    step: StepSchema.nullable(),
  })
  .strict();
export type StoredMember = z.infer<typeof StoredMemberSchema>;

/** What re-creates an epoch's payloads: TopologyEpoch.build is a function of these and the run config. */
const MembershipFileSchema = z
  .object({
    version: z.literal(1),
    savedAt: z.number().int(),
    epoch: z.number().int().min(0).max(MAX_EPOCH_NUMBER),
    activationStep: StepSchema,
    /** In index order (join order). */
    members: z.array(StoredMemberSchema.extend({ step: z.unknown() })),
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

export type MembershipSnapshot = {
  epoch: number;
  activationStep: number;
  /** In index order (join order). */
  members: StoredMember[];
  joiners: string[];
};

/**
 * Where a run's current membership is kept: this file store, or Redis when the server is scaled out
 * (cluster/redis-membership.ts).
 */
export interface MembershipKeeper {
  /** Where it is kept, for messages. */
  readonly file: string;
  /** Keeps an epoch's snapshot before any member hears of it. */
  save(snapshot: MembershipSnapshot): void;
  /** Keeps within a second what `snapshot` returns then (only steps moved). */
  saveSoon(snapshot: () => MembershipSnapshot): void;
  /** Keeps a pending change now (shutdown). */
  flush(snapshot: () => MembershipSnapshot): void | Promise<void>;
  /** Drops a pending change. */
  cancel(): void;
}

/**
 * The snapshot a stored JSON text holds for a run of `steps` steps, or why it cannot be taken back. A
 * member's step that is no step of the run is forgotten (null), with a warning naming `where`.
 */
export function readSnapshot(
  text: string,
  steps: number,
  where: string,
  log: Logger,
): MembershipSnapshot | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `not valid JSON: ${(error as Error).message}`;
  }
  const parsed = MembershipFileSchema.safeParse(json);
  if (!parsed.success) return issuesText(parsed.error);
  const { epoch, activationStep, members, joiners } = parsed.data;
  if (activationStep > maxActivationStep(steps)) {
    return `activation step ${activationStep} is past the run's ${steps} steps`;
  }
  // A step is only shown and persisted, never acted on: one that is no step of the run is forgotten.
  const forgotten: string[] = [];
  const stored = members.map((member) => {
    const step = StepSchema.max(steps).nullable().safeParse(member.step);
    if (!step.success) forgotten.push(`${member.id} (${String(JSON.stringify(member.step)).slice(0, 40)})`);
    return { ...member, step: step.success ? step.data : null };
  });
  if (forgotten.length > 0) {
    log.warn(`${where}: forgot the steps of ${forgotten.join(', ')}: not steps of a run of ${steps} steps`);
  }
  return { epoch, activationStep, members: stored, joiners };
}

/** The stored form of a snapshot (what readSnapshot reads). */
export function snapshotText(snapshot: MembershipSnapshot): string {
  return JSON.stringify({ version: 1, savedAt: Date.now(), ...snapshot });
}

/** Steps move at every report: they are written at most this often (a crash loses at most this much). */
const STEP_SAVE_DELAY_MS = 1000;

export class MembershipStore implements MembershipKeeper {
  private pending: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    private readonly log: Logger,
  ) {}

  /**
   * The stored snapshot of a run of `steps` steps; null without a file, or when it is damaged (then it is
   * moved aside, and the warning says why).
   */
  load(steps: number): MembershipSnapshot | null {
    if (!existsSync(this.file)) return null;
    const read = readSnapshot(readFileSync(this.file, 'utf8'), steps, this.file, this.log);
    return typeof read === 'string' ? this.damaged(read) : read;
  }

  /**
   * A file that cannot be taken back: moved aside for whoever wants to look at it (the next epoch would
   * overwrite it), and the run starts without its members.
   */
  private damaged(why: string): null {
    const aside = `${this.file}.damaged`;
    let moved = `moved to ${aside}`;
    try {
      renameSync(this.file, aside);
    } catch (error) {
      moved = `could not move it aside: ${(error as Error).message}`;
    }
    this.log.warn(
      `${this.file}: ${why}; the run starts without the members it held (their peers join again); ${moved}`,
    );
    return null;
  }

  /**
   * Writes at once (an epoch was made). A failure is reported, not thrown: the epoch must still reach the
   * members, and the next write may succeed.
   */
  save(snapshot: MembershipSnapshot): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    try {
      writeFileAtomic(this.file, `${snapshotText(snapshot)}\n`);
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
