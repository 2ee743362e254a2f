/**
 * When and how long to wait before trying a call again: exponential backoff with full jitter (a wait
 * drawn uniformly from 0 to min(cap, base * 2^retry)), unless the server named a wait (Retry-After in
 * seconds or as an HTTP date, or OpenRouter's hints in the error's metadata), which is honoured as given.
 * A named wait longer than `maxRetryAfterMs` (a daily limit that resets tonight) is not waited for: the
 * call fails with the time it would have had to wait. Clock, sleep and random are injectable for tests.
 */
import { AppError } from '../errors.ts';
import { apiErrorOf } from './llm-error.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included (1: never retry). */
  maxAttempts: number;
  /** Cap of the first retry's wait; doubles with each retry. */
  baseDelayMs: number;
  /** No computed wait is longer. */
  maxDelayMs: number;
  /** A wait the server asks for beyond this ends the call instead. */
  maxRetryAfterMs: number;
  /** Uniform in [0, 1). */
  random: () => number;
  /** Milliseconds since the epoch (reading HTTP dates and reset times). */
  now: () => number;
  /** Resolves after `ms`; rejects (AppError `cancelled`) when `signal` fires. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export const abortableSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const cancelled = () => new AppError('cancelled', 'The LLM call was cancelled.');
    if (signal?.aborted) return reject(cancelled());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
  random: Math.random,
  now: Date.now,
  sleep: abortableSleep,
});

/** The computed wait before retry number `retry` (0 for the first retry): full jitter. */
export function backoffMs(retry: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs' | 'random'>): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor(policy.random() * cap);
}

/** A Retry-After value (seconds, or an HTTP date) in milliseconds from `now`; undefined when unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A reset time (epoch milliseconds, or seconds when small) as a wait from `now`. */
function resetToWait(value: unknown, now: number): number | undefined {
  const n = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : typeof value === 'number' ? value : NaN;
  if (!Number.isFinite(n)) return undefined;
  const ms = n < 1e11 ? n * 1000 : n;
  return Math.max(0, Math.round(ms - now));
}

/**
 * The wait the server asked for: the Retry-After header, else OpenRouter's hints in `error.metadata`
 * (`retry_after` / `retry_after_seconds` in seconds, `retry_after_ms`, or the upstream's headers passed
 * along in `metadata.headers`: Retry-After, X-RateLimit-Reset as an epoch time).
 */
export function retryAfterMs(headers: Headers | undefined, body: unknown, now: number): number | undefined {
  const fromHeader = parseRetryAfter(headers?.get('retry-after'), now);
  if (fromHeader !== undefined) return fromHeader;
  const metadata = apiErrorOf(body)?.metadata;
  if (!metadata) return undefined;
  for (const key of ['retry_after', 'retry_after_seconds']) {
    const seconds = parseRetryAfter(metadata[key] === undefined ? undefined : String(metadata[key]), now);
    if (seconds !== undefined) return seconds;
  }
  if (typeof metadata.retry_after_ms === 'number' && metadata.retry_after_ms >= 0) return metadata.retry_after_ms;
  const passed = metadata.headers;
  if (passed && typeof passed === 'object') {
    const entries = Object.entries(passed as Record<string, unknown>).map(([k, v]) => [k.toLowerCase(), v] as const);
    const get = (name: string) => entries.find(([k]) => k === name)?.[1];
    const after = parseRetryAfter(get('retry-after') === undefined ? undefined : String(get('retry-after')), now);
    if (after !== undefined) return after;
    const reset = resetToWait(get('x-ratelimit-reset'), now);
    if (reset !== undefined) return reset;
  }
  return undefined;
}

/** What a failed attempt tells the retry loop. */
export interface AttemptFailure {
  retryable: boolean;
  retryAfterMs?: number;
}

/**
 * The wait before the next attempt after `failure` on attempt `attempt` (1-based), or undefined when
 * the call should give up now (not retryable, attempts spent, or the server's wait is too long).
 */
export function nextDelay(failure: AttemptFailure, attempt: number, policy: RetryPolicy): number | undefined {
  if (!failure.retryable || attempt >= policy.maxAttempts) return undefined;
  if (failure.retryAfterMs !== undefined) return failure.retryAfterMs <= policy.maxRetryAfterMs ? failure.retryAfterMs : undefined;
  return backoffMs(attempt - 1, policy);
}

/** Whole seconds, for messages ("retry in 3600 s"). */
export const secondsText = (ms: number): string => `${Math.ceil(ms / 1000)} s`;
