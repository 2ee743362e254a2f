/** Cancellation: one way to stop for every long call, by an AbortSignal. */
import { AppError } from '../errors.ts';

/** Throws AppError `cancelled` ("<what> was cancelled.") once the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined, what = 'The operation'): void {
  if (signal?.aborted) throw new AppError('cancelled', `${what} was cancelled.`);
}

/** True for the errors fetch and stream readers throw when their AbortSignal fires. */
export const isAbortError = (error: unknown): boolean => error instanceof Error && error.name === 'AbortError';
