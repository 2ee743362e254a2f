/**
 * The retry policy: full-jitter backoff, Retry-After in seconds or as a date, OpenRouter's metadata
 * hints, and per status what the client does (retry or not, how long it waits, when it gives up), on
 * a fake clock: every wait is recorded instead of slept.
 */
import { describe, expect, test } from 'vitest';
import { backoffMs, createLlmClient, LlmError, nextDelay, parseRetryAfter, retryAfterMs, type RetryPolicy } from '../../../src/lib/clients/index.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { failure } from '../../support/async.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');

function fakeClock(random = 0.5): { policy: Partial<RetryPolicy>; waits: number[] } {
  const waits: number[] = [];
  return { waits, policy: { now: () => NOW, random: () => random, sleep: async (ms) => void waits.push(ms), baseDelayMs: 1000, maxDelayMs: 30_000, maxAttempts: 4, maxRetryAfterMs: 60_000 } };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });
const answer = (content: string) => json(200, { choices: [{ message: { content }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 2, cost: 0.001 } });

/** A fetch that answers from `script` (one response per call; the last one repeats). */
function scriptedFetch(script: (() => Response)[]): { fetch: typeof fetch; calls: number } {
  const state = { calls: 0, fetch: (async () => script[Math.min(state.calls++, script.length - 1)]!()) as typeof fetch };
  return state;
}

const REQUEST = { model: 'test/model', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('backoff and hints', () => {
  test('full jitter: uniform below min(cap, base * 2^retry)', () => {
    const policy = { baseDelayMs: 1000, maxDelayMs: 5000 };
    expect([0, 1, 2, 3, 4].map((retry) => backoffMs(retry, { ...policy, random: () => 0.999999 }))).toEqual([999, 1999, 3999, 4999, 4999]);
    expect(backoffMs(3, { ...policy, random: () => 0 })).toBe(0);
    expect(backoffMs(1, { ...policy, random: () => 0.5 })).toBe(1000);
  });

  test.each([
    ['seconds', '3', 3000],
    ['zero', '0', 0],
    ['fractional seconds', '1.5', 1500],
    ['an HTTP date', new Date(NOW + 7000).toUTCString(), 7000],
    ['a date in the past', new Date(NOW - 7000).toUTCString(), 0],
    ['garbage', 'soon', undefined],
    ['empty', '', undefined],
  ])('Retry-After as %s', (_, value, ms) => {
    expect(parseRetryAfter(value, NOW)).toBe(ms);
  });

  test.each([
    ['the header first', { 'retry-after': '2' }, { error: { code: 429, metadata: { retry_after: 9 } } }, 2000],
    ['metadata.retry_after (seconds)', {}, { error: { code: 429, metadata: { retry_after: 9 } } }, 9000],
    ['metadata.retry_after_ms', {}, { error: { code: 429, metadata: { retry_after_ms: 1234 } } }, 1234],
    ['upstream headers passed along', {}, { error: { code: 429, metadata: { headers: { 'Retry-After': '4' } } } }, 4000],
    ['X-RateLimit-Reset in epoch ms', {}, { error: { code: 429, metadata: { headers: { 'X-RateLimit-Reset': String(NOW + 5000) } } } }, 5000],
    ['X-RateLimit-Reset in epoch seconds', {}, { error: { code: 429, metadata: { headers: { 'X-RateLimit-Reset': String((NOW + 6000) / 1000) } } } }, 6000],
    ['no hint', {}, { error: { code: 429, message: 'slow down' } }, undefined],
  ])('wait asked for: %s', (_, headers, body, ms) => {
    expect(retryAfterMs(new Headers(headers), body, NOW)).toBe(ms);
  });

  test('nextDelay: not retryable, attempts spent, and too long a wait give up', () => {
    const { policy } = fakeClock();
    const full = { ...policy } as RetryPolicy;
    expect(nextDelay({ retryable: false }, 1, full)).toBeUndefined();
    expect(nextDelay({ retryable: true }, 4, full)).toBeUndefined();
    expect(nextDelay({ retryable: true, retryAfterMs: 60_001 }, 1, full)).toBeUndefined();
    expect(nextDelay({ retryable: true, retryAfterMs: 60_000 }, 1, full)).toBe(60_000);
    expect(nextDelay({ retryable: true }, 2, full)).toBe(1000);
  });
});

describe('the client per status (fake clock)', () => {
  const error = (status: number, body: unknown = { error: { code: status, message: `status ${status}` } }, headers?: Record<string, string>) => () => json(status, body, headers);

  test.each([
    // status, first response, retried?, code when every attempt fails
    ['408', error(408), true, 'llm/timeout'],
    ['429', error(429), true, 'llm/rate-limited'],
    ['500', error(500), true, 'llm/server'],
    ['502', error(502), true, 'llm/server'],
    ['503', error(503), true, 'llm/server'],
    ['402 in-flight budget', error(402, { error: { code: 402, message: 'in-flight budget exceeded', metadata: { limit_source: 'openrouter_in_flight_budget' } } }, { 'Retry-After': '1' }), true, 'llm/rate-limited'],
    ['402 no credits', error(402, { error: { code: 402, message: 'Insufficient credits', metadata: { limit_source: 'openrouter_credits' } } }), false, 'llm/no-credits'],
    ['402 key limit', error(402, { error: { code: 402, message: 'Key limit exceeded', metadata: { limit_source: 'openrouter_key_limit' } } }), false, 'llm/no-credits'],
    ['402 bare', error(402, { error: { code: 402, message: 'Payment required' } }), false, 'llm/no-credits'],
    ['400', error(400), false, 'llm/bad-request'],
    ['401', error(401), false, 'llm/unauthorized'],
    ['403', error(403), false, 'llm/forbidden'],
    ['404', error(404), false, 'llm/not-found'],
    ['404 constraint_filtered', error(404, { error: { code: 404, message: 'No endpoints found that can handle the requested parameters.', availability: { code: 'constraint_filtered' } } }), false, 'llm/unsupported'],
    ['200 not JSON', () => new Response('<html>oops', { status: 200 }), true, 'llm/bad-response'],
    ['200 empty answer', () => answer(''), true, 'llm/empty'],
    ['200 with an error inside', () => json(200, { error: { code: 502, message: 'upstream died' } }), true, 'llm/server'],
    ['200 cut by max_tokens', () => json(200, { choices: [{ message: { content: 'half an ans' }, finish_reason: 'length' }] }), false, 'llm/truncated'],
  ])('%s', async (_, first, retried, code) => {
    // Every attempt fails the same way: the code, and how many attempts were made.
    const clock = fakeClock();
    const always = scriptedFetch([first]);
    const failed = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: always.fetch, retry: clock.policy }).complete(REQUEST));
    expect(errorCode(failed)).toBe(code);
    expect(always.calls).toBe(retried ? 4 : 1);
    expect(clock.waits.length).toBe(retried ? 3 : 0);
    // Fails once, then answers: retried failures recover.
    const once = scriptedFetch([first, () => answer('fine')]);
    const outcome = await createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: once.fetch, retry: fakeClock().policy }).complete(REQUEST).then(
      (completion) => completion.attempts,
      (error: unknown) => errorCode(error),
    );
    expect(outcome).toBe(retried ? 2 : code);
  });

  test('waits: backoff doubles with jitter; a Retry-After is honoured as given', async () => {
    const clock = fakeClock(0.5);
    const fetch = scriptedFetch([error(500), error(500), error(429, undefined, { 'Retry-After': '7' }), () => answer('ok')]).fetch;
    const completion = await createLlmClient({ baseUrl: 'https://llm.test/v1', fetch, retry: clock.policy }).complete(REQUEST);
    expect(clock.waits).toEqual([500, 1000, 7000]);
    expect(completion.attempts).toBe(4);
  });

  test('a wait longer than the policy allows ends the call and says how long', async () => {
    const clock = fakeClock();
    const fetch = scriptedFetch([error(429, { error: { code: 429, message: 'daily limit', metadata: { headers: { 'X-RateLimit-Reset': String(NOW + 3_600_000) } } } })]);
    const failed = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: fetch.fetch, retry: clock.policy }).complete(REQUEST));
    expect(errorCode(failed)).toBe('llm/rate-limited');
    expect(failed.message).toMatch(/3600 s/);
    expect(fetch.calls).toBe(1);
  });

  test('a time-out is retried; the caller cancelling is not', async () => {
    const clock = fakeClock();
    let calls = 0;
    const hang: typeof fetch = (_url, init) => {
      calls++;
      return new Promise((_, reject) => init!.signal!.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    };
    const timedOut = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: hang, retry: clock.policy, timeoutMs: 20 }).complete(REQUEST));
    expect(errorCode(timedOut)).toBe('llm/timeout');
    expect(calls).toBe(4);
    calls = 0;
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const cancelled = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: hang, retry: clock.policy, timeoutMs: 10_000 }).complete(REQUEST, controller.signal));
    expect(errorCode(cancelled)).toBe('cancelled');
    expect(calls).toBe(1);
  });

  test('usage of refused answers counts: the call reports what every attempt cost', async () => {
    const cut = () => json(200, { choices: [{ message: { content: '' }, finish_reason: 'stop' }], usage: { prompt_tokens: 10, completion_tokens: 0, cost: 0.0005 } });
    const completion = await createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: scriptedFetch([cut, cut, () => answer('ok')]).fetch, retry: fakeClock().policy }).complete(REQUEST);
    expect(completion.usage).toEqual({ promptTokens: 30, completionTokens: 2, cost: 0.002 });
    const failed = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: scriptedFetch([cut]).fetch, retry: fakeClock().policy }).complete(REQUEST));
    expect((failed as LlmError).usage).toEqual({ promptTokens: 40, completionTokens: 0, cost: 0.002 });
    expect((failed as LlmError).attempts).toBe(4);
  });
});
