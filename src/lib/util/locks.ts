/**
 * One writer per resource across the browser's tabs and workers: the Web Locks API (`navigator.locks`),
 * which the browser releases by itself when the holder's tab or worker goes away (a closed tab, a
 * crash), so a lock never outlives its writer. Where there are no Web Locks (Node), work runs as is.
 *
 * ```ts
 * await exclusively('autointerp-cache:abc', () => new AppError('cache/busy', '...'), () => writeIt());
 * ```
 */
type LockManagerLike = {
  request<T>(name: string, options: { ifAvailable: true }, callback: (lock: unknown) => Promise<T>): Promise<T>;
  query(): Promise<{ held?: { name?: string }[] }>;
};

const locks = (): LockManagerLike | undefined => (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks;

/** Runs `work` holding lock `name`; throws `busy()` at once when another tab or worker holds it. */
export async function exclusively<T>(name: string, busy: () => Error, work: () => Promise<T>): Promise<T> {
  const manager = locks();
  if (!manager) return work();
  let got = false;
  const result = await manager.request(name, { ifAvailable: true }, async (lock) => {
    if (!lock) return undefined as T;
    got = true;
    return work();
  });
  if (!got) throw busy();
  return result;
}

/** The names of the locks held now, by any tab or worker of this origin (empty without Web Locks). */
export async function heldLocks(): Promise<Set<string>> {
  const manager = locks();
  if (!manager) return new Set();
  const state = await manager.query();
  return new Set((state.held ?? []).flatMap((lock) => (lock.name ? [lock.name] : [])));
}
