import type { Checkpoint } from './format';

/**
 * Where a peer keeps its checkpoints of one run: a directory on a device, IndexedDB in a tab. A save is
 * whole or not at all; a load returns the newest checkpoint that reads back intact, and tells of every one
 * that does not, which stays where it is.
 */
export interface CheckpointStore {
  /** Where it is, for messages: a path, or the storage's name. */
  readonly location: string;
  load(problem: (where: string, reason: string) => void): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
}
