/**
 * A tab's checkpoints of one run in IndexedDB (usable in the peer worker): under `<key>/latest`, and
 * `<key>/previous` kept from the save before it, so that an entry damaged in storage still leaves one to
 * resume from. A save is one transaction: it happens whole or not at all. An entry that does not decode
 * (damaged, or not a checkpoint) is never written over: a save moves it aside to
 * `<key>/<latest|previous>.<time>.unreadable` first, as the device's checkpoint directory does with files.
 */
import {
  type Checkpoint,
  CheckpointError,
  type CheckpointStore,
  encodeCheckpoint,
  readCheckpoint,
} from '@demuon/shared/checkpoint';

/** One database per origin holds the checkpoints of every run and slot, each under its own key. */
export const CHECKPOINT_DATABASE = 'demuon-checkpoints';
const ENTRIES = 'checkpoints';
const LATEST = 'latest';
const PREVIOUS = 'previous';

/** What a save took: its step, its size and the time to encode and write it. */
export interface CheckpointSaved {
  readonly step: number;
  readonly bytes: number;
  readonly ms: number;
}

export class IdbCheckpointStore implements CheckpointStore {
  readonly location: string;

  private constructor(
    private readonly db: IDBDatabase,
    private readonly key: string,
    private readonly onSaved: (saved: CheckpointSaved) => void,
  ) {
    this.location = `IndexedDB ${CHECKPOINT_DATABASE}/${key}`;
  }

  /** The store under `key` (a run and a slot, say); throws when this context has no usable IndexedDB. */
  static async open(
    key: string,
    onSaved: (saved: CheckpointSaved) => void = () => {},
  ): Promise<IdbCheckpointStore> {
    if (typeof indexedDB === 'undefined') throw new Error('this browser context has no IndexedDB');
    const opening = indexedDB.open(CHECKPOINT_DATABASE, 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(ENTRIES);
    const db = await settled(opening);
    // Another tab upgrading the database later must not wait on this one.
    db.onversionchange = () => db.close();
    return new IdbCheckpointStore(db, key, onSaved);
  }

  /**
   * The newest readable checkpoint, or undefined when there is none. `problem` gets each entry that could
   * not be read and why; such an entry is left as it is.
   */
  async load(problem: (where: string, reason: string) => void = () => {}): Promise<Checkpoint | undefined> {
    const entries = this.db.transaction(ENTRIES, 'readonly').objectStore(ENTRIES);
    const [latest, previous] = await Promise.all(
      [LATEST, PREVIOUS].map((name) => settled(entries.get(this.entry(name)))),
    );
    for (const [name, value] of [
      [LATEST, latest],
      [PREVIOUS, previous],
    ] as const) {
      if (value === undefined) continue;
      const read = readEntry(value);
      if (!(read instanceof CheckpointError)) return read;
      problem(`${this.location}/${name}`, read.message);
    }
    return undefined;
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    const started = performance.now();
    const bytes = encodeCheckpoint(checkpoint);
    const transaction = this.db.transaction(ENTRIES, 'readwrite');
    const written = committed(transaction);
    const entries = transaction.objectStore(ENTRIES);
    // Every request is made while the transaction is active: in the success callbacks, not after an await.
    const latestRequest = entries.get(this.entry(LATEST));
    const previousRequest = entries.get(this.entry(PREVIOUS));
    previousRequest.onsuccess = () => {
      const latest: unknown = latestRequest.result;
      const previous: unknown = previousRequest.result;
      const now = Date.now();
      if (previous !== undefined && !readable(previous))
        entries.put(previous, this.entry(`${PREVIOUS}.${now}.unreadable`));
      if (latest !== undefined) {
        if (readable(latest)) entries.put(latest, this.entry(PREVIOUS));
        else entries.put(latest, this.entry(`${LATEST}.${now}.unreadable`));
      }
      entries.put(bytes, this.entry(LATEST));
    };
    await written;
    this.onSaved({ step: checkpoint.header.step, bytes: bytes.length, ms: performance.now() - started });
  }

  close(): void {
    this.db.close();
  }

  private entry(name: string): string {
    return `${this.key}/${name}`;
  }
}

/** The checkpoint in a stored value, or why there is none (a value that is not bytes is none). */
function readEntry(value: unknown): Checkpoint | CheckpointError {
  if (value instanceof Uint8Array) return readCheckpoint(value);
  if (value instanceof ArrayBuffer) return readCheckpoint(new Uint8Array(value));
  return new CheckpointError('not a checkpoint (the stored value is not bytes)');
}

const readable = (value: unknown) => !(readEntry(value) instanceof CheckpointError);

function settled<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.addEventListener('success', () => resolve(request.result));
    request.addEventListener('error', () => reject(request.error));
  });
}

function committed(transaction: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error ?? new Error('the checkpoint save was aborted'));
  });
}
