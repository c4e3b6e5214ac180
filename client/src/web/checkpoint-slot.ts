/**
 * Which checkpoint slot of a run a tab uses. Tabs of one browser profile share IndexedDB, and two peers
 * saving into one slot would take each other's checkpoints: each tab holds a Web Lock on its slot (0, 1,
 * 2, …) for as long as its peer worker lives, and a tab takes the lowest slot no other tab holds. A
 * reloaded tab asks for the slot it had first (the page keeps it in sessionStorage), waiting a moment
 * for it: the worker of the page it replaces may still be ending, and its lock goes with it.
 */

/** How long a reloaded tab waits for its slot before it takes the lowest free one instead. */
export const PREVIOUS_SLOT_WAIT_MS = 5000;
/** More tabs of one run than this in one browser is a mistake, not a reason to look further. */
export const MAX_SLOTS = 64;

/** The IndexedDB key of a run's slot (see IdbCheckpointStore). */
export function slotKey(runId: string, slot: number): string {
  return `${runId}/slot-${slot}`;
}

function lockName(runId: string, slot: number): string {
  return `demuon-checkpoint-slot:${slotKey(runId, slot)}`;
}

/**
 * Takes a slot of `runId` and holds it until this context ends; `preferred` is the slot this tab had
 * before a reload. Throws when the context has no Web Locks (pages not served over https or localhost).
 */
export async function takeCheckpointSlot(
  runId: string,
  preferred: number | undefined,
  {
    locks = globalThis.navigator?.locks,
    waitMs = PREVIOUS_SLOT_WAIT_MS,
  }: { locks?: LockManager | undefined; waitMs?: number } = {},
): Promise<number> {
  if (!locks) throw new Error('this page has no Web Locks (open it over https, or on localhost)');
  if (preferred !== undefined && Number.isInteger(preferred) && preferred >= 0 && preferred < MAX_SLOTS) {
    const signal = AbortSignal.timeout(waitMs);
    if (await holdForLife(locks, lockName(runId, preferred), { signal })) return preferred;
  }
  for (let slot = 0; slot < MAX_SLOTS; slot++)
    if (await holdForLife(locks, lockName(runId, slot), { ifAvailable: true })) return slot;
  throw new Error(`all ${MAX_SLOTS} checkpoint slots of run '${runId}' are held by other tabs`);
}

/** Whether the lock was granted; a granted lock is never released by this context. */
function holdForLife(locks: LockManager, name: string, options: LockOptions): Promise<boolean> {
  return new Promise((resolve, reject) => {
    locks
      .request(name, options, (lock) => {
        resolve(lock !== null);
        // The callback's promise is what holds the lock: it never settles.
        return lock ? new Promise<never>(() => {}) : undefined;
      })
      .catch((error: unknown) => {
        // Given up waiting (the signal fired): not granted.
        if (options.signal?.aborted) resolve(false);
        else reject(error);
      });
  });
}
