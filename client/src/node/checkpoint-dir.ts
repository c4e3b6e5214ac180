/**
 * A device's checkpoints of one run in a directory: `latest.ckpt`, and `previous.ckpt` kept from the save
 * before it, so that a file damaged on disk (or a crash mid-save on a filesystem that does not keep renames
 * atomic) still leaves one to resume from. A save writes a temporary file, flushes it and renames it into
 * place: a reader never sees half a checkpoint. A file that does not read back (damaged, or not a
 * checkpoint) is never written over: a save moves it aside to `latest.<time>.unreadable` instead.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  type Checkpoint,
  CheckpointError,
  type CheckpointStore,
  encodeCheckpoint,
  readCheckpoint,
} from '@demuon/shared/checkpoint';

const LATEST = 'latest.ckpt';
const PREVIOUS = 'previous.ckpt';

const LOCK = 'lock';

export class CheckpointDir implements CheckpointStore {
  constructor(readonly location: string) {}

  /**
   * Makes this process the directory's only user: two peers saving into one directory would take each
   * other's checkpoints. A lock left by a process that is gone is taken over.
   */
  lock(): void {
    mkdirSync(this.location, { recursive: true });
    const file = join(this.location, LOCK);
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(file, 'utf8'));
    if (Number.isInteger(holder) && holder !== process.pid && alive(holder))
      throw new Error(
        `another peer (process ${holder}) keeps its checkpoints in ${this.location}: ` +
          'give this one another --name or --checkpoints',
      );
    writeFileSync(file, String(process.pid));
  }

  /** Lets another process use the directory. */
  unlock(): void {
    const file = join(this.location, LOCK);
    if (existsSync(file) && readFileSync(file, 'utf8') === String(process.pid)) unlinkSync(file);
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    mkdirSync(this.location, { recursive: true });
    const bytes = encodeCheckpoint(checkpoint);
    const temporary = join(this.location, `.${LATEST}.${process.pid}.tmp`);
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    const latest = join(this.location, LATEST);
    if (existsSync(latest)) {
      const keep = readable(latest) ? join(this.location, PREVIOUS) : `${latest}.${Date.now()}.unreadable`;
      renameSync(latest, keep);
    }
    renameSync(temporary, latest);
  }

  /**
   * The newest readable checkpoint, or undefined when there is none. `problem` gets each file that could
   * not be read and why; such a file is left as it is.
   */
  async load(problem: (file: string, reason: string) => void = () => {}): Promise<Checkpoint | undefined> {
    for (const name of [LATEST, PREVIOUS]) {
      const file = join(this.location, name);
      if (!existsSync(file)) continue;
      const read = readCheckpoint(readFileSync(file));
      if (!(read instanceof CheckpointError)) return read;
      problem(file, read.message);
    }
    return undefined;
  }
}

function readable(file: string): boolean {
  return !(readCheckpoint(readFileSync(file)) instanceof CheckpointError);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
