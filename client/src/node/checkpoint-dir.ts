/**
 * A device's checkpoints of one run in a directory: `latest.ckpt`, and `previous.ckpt` kept from the save
 * before it, so that a file damaged on disk (or a crash mid-save on a filesystem that does not keep renames
 * atomic) still leaves one to resume from. A save writes a temporary file, flushes it and renames it into
 * place: a reader never sees half a checkpoint.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  type Checkpoint,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
} from '@demuon/shared/checkpoint';

const LATEST = 'latest.ckpt';
const PREVIOUS = 'previous.ckpt';

export class CheckpointDir {
  constructor(readonly dir: string) {}

  save(checkpoint: Checkpoint): void {
    mkdirSync(this.dir, { recursive: true });
    const bytes = encodeCheckpoint(checkpoint);
    const temporary = join(this.dir, `.${LATEST}.${process.pid}.tmp`);
    const fd = openSync(temporary, 'w');
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (existsSync(join(this.dir, LATEST))) renameSync(join(this.dir, LATEST), join(this.dir, PREVIOUS));
    renameSync(temporary, join(this.dir, LATEST));
  }

  /**
   * The newest readable checkpoint, or undefined when there is none. `problems` gets each file that could
   * not be read and why; such a file is left as it is.
   */
  load(problems: (file: string, reason: string) => void = () => {}): Checkpoint | undefined {
    for (const name of [LATEST, PREVIOUS]) {
      const file = join(this.dir, name);
      if (!existsSync(file)) continue;
      try {
        return decodeCheckpoint(readFileSync(file));
      } catch (error) {
        if (!(error instanceof CheckpointError)) throw error;
        problems(file, error.message);
      }
    }
    return undefined;
  }
}
