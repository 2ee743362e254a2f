/**
 * Giving the event loop a turn during long synchronous work: a worker only receives a message (a
 * cancel, a progress request) between macrotasks.
 */
const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Returns a function to call inside a hot loop: about every `intervalMs` of work it awaits a
 * macrotask, so that messages reach the worker. Cheap otherwise.
 */
export function eventLoopBreather(intervalMs = 40): () => Promise<void> | undefined {
  let last = now();
  return () => {
    if (now() - last < intervalMs) return undefined;
    return new Promise<void>((done) => setTimeout(() => {
      last = now();
      done();
    }, 0));
  };
}
