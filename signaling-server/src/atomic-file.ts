/** Whole-file writes that a crash cannot leave half done: temporary file, fsync, rename over the old one. */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export function writeFileAtomic(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, file);
}

/** The error for a stored file that does not parse: the server stops rather than overwrite it. */
export function damagedFile(file: string, why: string): Error {
  return new Error(`${file}: ${why} (fix or move the file away; the server does not overwrite it)`);
}
