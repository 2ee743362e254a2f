/**
 * Internal helpers of the corpus stage: cancellation and giving the event loop a turn during long
 * synchronous work (a worker only receives a cancel message between macrotasks).
 */
import { AppError } from '../errors.ts';

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AppError('cancelled', `${what} was cancelled.`);
}

/** True for the errors fetch and stream readers throw when their AbortSignal fires. */
export const isAbortError = (error: unknown): boolean => error instanceof Error && error.name === 'AbortError';

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

/**
 * Returns a function to call inside a hot loop: about every `intervalMs` of work it awaits a
 * macrotask, so that messages (a cancel, a progress request) reach the worker. Cheap otherwise.
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

/** A file's name for messages: a File's name, or a neutral phrase for a bare Blob. */
export const blobName = (blob: Blob): string => {
  const name = (blob as Partial<File>).name;
  return typeof name === 'string' && name ? `"${name}"` : 'the file';
};
