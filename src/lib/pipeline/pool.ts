/**
 * Many tasks at once under a limit: at most `concurrency` run at any time, each started as soon as a
 * slot frees. Items are pulled one at a time from an array, an iterable or an async iterable (records
 * built block by block), so nothing is read ahead of need. A task that throws stops the pool: nothing
 * new starts, the tasks in flight finish (or are aborted, when `abortOnError` says so), and the report
 * carries the error. Tasks that must not stop the pool catch their own failures.
 */
import { AppError } from '../errors.ts';

export const DEFAULT_CONCURRENCY = 8;

export interface PoolOptions {
  /** Tasks in flight at most (default 8). */
  concurrency?: number;
  signal?: AbortSignal;
  /** Whether an error that stops the pool also aborts the tasks in flight (default: yes). */
  abortOnError?: (error: unknown) => boolean;
  /** Milliseconds, monotonic; for the utilization figure. */
  now?: () => number;
}

export interface PoolReport {
  concurrency: number;
  started: number;
  finished: number;
  /** Most tasks that were in flight at once. */
  maxInFlight: number;
  /** Time tasks ran, summed over tasks. */
  busyMs: number;
  wallMs: number;
  /** busyMs / (concurrency x wallMs): 1 when every slot was busy all the time. */
  utilization: number;
  /** What stopped the pool, if a task threw. */
  error?: unknown;
}

export async function runPool<T>(items: Iterable<T> | AsyncIterable<T>, task: (item: T, signal: AbortSignal) => Promise<void>, options: PoolOptions = {}): Promise<PoolReport> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new AppError('pipeline/bad-options', `Concurrency must be a whole number from 1 (got ${concurrency}).`);
  const now = options.now ?? (() => performance.now());
  const stopper = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stopper.signal]) : stopper.signal;
  const iterator: Iterator<T> | AsyncIterator<T> = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  const report: PoolReport = { concurrency, started: 0, finished: 0, maxInFlight: 0, busyMs: 0, wallMs: 0, utilization: 0 };
  let stopped = false;
  let inFlight = 0;
  const stop = (error: unknown) => {
    if (stopped) return;
    stopped = true;
    report.error = error;
    if (options.abortOnError?.(error) ?? true) stopper.abort(error);
  };
  // One pull at a time: iterators are not safe to advance concurrently.
  let queue: Promise<unknown> = Promise.resolve();
  const pull = (): Promise<IteratorResult<T>> => {
    const next = queue.then(() => (stopped || signal.aborted ? ({ done: true, value: undefined } as IteratorResult<T>) : iterator.next()));
    queue = next.catch(() => undefined);
    return next;
  };
  const worker = async () => {
    while (!stopped && !signal.aborted) {
      let next: IteratorResult<T>;
      try {
        next = await pull();
      } catch (error) {
        stop(error);
        return;
      }
      if (next.done || stopped || signal.aborted) return;
      report.started++;
      report.maxInFlight = Math.max(report.maxInFlight, ++inFlight);
      const begun = now();
      try {
        await task(next.value, signal);
      } catch (error) {
        stop(error);
      } finally {
        inFlight--;
        report.finished++;
        report.busyMs += now() - begun;
      }
    }
  };
  const begun = now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  report.wallMs = now() - begun;
  report.utilization = report.wallMs > 0 ? report.busyMs / (concurrency * report.wallMs) : 0;
  await Promise.resolve(iterator.return?.()).catch(() => undefined);
  if (options.signal?.aborted) throw new AppError('cancelled', 'The run was cancelled.');
  return report;
}
