/**
 * Explaining many features with a scripted client: a failed feature never ends the run, a fatal error
 * (refused key, no credits) stops it with a clear message and starts nothing new, the budget stops new
 * calls, the hooks for storing and resuming, progress, and cancellation.
 */
import { describe, expect, test } from 'vitest';
import { LlmError, scriptedClient, type CompletionRequest } from '../../../src/lib/clients/index.ts';
import { AppError, errorCode } from '../../../src/lib/errors.ts';
import type { ExplanationResult } from '../../../src/lib/explainers/index.ts';
import { runExplanations, type ExplainProgress } from '../../../src/lib/pipeline/index.ts';
import { failure } from '../../support/async.ts';
import { topicRecord, wordTokenizer } from '../explainers/fixtures.ts';

const tokenizer = wordTokenizer();
const records = Array.from({ length: 20 }, (_, f) => topicRecord(tokenizer, f));
const featureOf = (request: CompletionRequest) => records.findIndex((r) => request.messages.at(-1)!.content.includes(`<<${tokenizer.decode([r.train[0]!.tokens[2]!]).trim()}>>`)) % 10;
const wait = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(new AppError('cancelled', 'cancelled'))));
  });
const usage = { promptTokens: 100, completionTokens: 10, cost: 0.01 };

describe('runExplanations', () => {
  test('failures are recorded and the run goes on; sums and progress add up', async () => {
    const client = scriptedClient(async (request, call) => {
      await wait(1);
      if (call % 5 === 1) return new LlmError('llm/server', 'down', { retryable: true, attempts: 5 });
      if (call % 5 === 3) return { text: 'no marker here', usage };
      return { text: '[EXPLANATION]: something', usage };
    });
    const results: ExplanationResult[] = [];
    const progress: ExplainProgress[] = [];
    const summary = await runExplanations(records, { client, model: 'm', tokenizer, onResult: (r) => void results.push(r), onProgress: (p) => progress.push(p) });
    expect(results).toHaveLength(20);
    expect(summary).toMatchObject({ succeeded: 12, failed: 8, skipped: 0, explainer: 'default', model: 'm' });
    expect(summary.stopped).toBeUndefined();
    expect(results.filter((r) => r.failure?.kind === 'llm')).toHaveLength(4);
    expect(results.filter((r) => r.failure?.kind === 'parse')).toHaveLength(4);
    for (const r of results) expect(Boolean(r.explanation) !== Boolean(r.failure)).toBe(true);
    // Usage: what the 16 answered calls said (the 4 failed calls carried none).
    expect(summary.usage).toMatchObject({ calls: 16, promptTokens: 1600, completionTokens: 160 });
    expect(summary.usage.cost).toBeCloseTo(0.16, 12);
    expect(progress.at(-1)).toMatchObject({ stage: 'explain', done: 20, total: 20, succeeded: 12, failed: 8, inFlight: 0 });
    expect(progress.at(-1)!.text).toBe('Explained 20 of 20 features (8 failed) · 1760 tokens · $0.1600');
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);
  });

  test.each([
    ['a refused key', new LlmError('llm/unauthorized', 'llm.test refused the API key (401). Check the key (or sign in again), then resume the run.', { retryable: false }), /refused the API key/],
    ['no credits', new LlmError('llm/no-credits', 'The account at llm.test has no credits left (402). Add credits, then resume the run.', { retryable: false }), /no credits left/],
  ])('%s stops the run: nothing new starts, calls in flight are aborted, the message says why', async (_, fatal, message) => {
    let started = 0;
    let aborted = 0;
    const client = scriptedClient(async (_request, call, signal) => {
      started++;
      if (call === 10) return fatal;
      try {
        await wait(call < 7 ? 1 : 200, signal);
      } catch (error) {
        aborted++;
        throw error;
      }
      return { text: '[EXPLANATION]: fine', usage };
    });
    const results: ExplanationResult[] = [];
    const many = Array.from({ length: 100 }, (_, f) => topicRecord(tokenizer, f));
    const summary = await runExplanations(many, { client, model: 'm', tokenizer, concurrency: 4, onResult: (r) => void results.push(r) });
    expect(summary.stopped!.code).toBe(errorCode(fatal));
    expect(summary.stopped!.message).toMatch(/^The run stopped after 7 of 100 features: /);
    expect(summary.stopped!.message).toMatch(message);
    // Calls 7, 8 and 9 were in flight with the fatal call 10 (concurrency 4): aborted; nothing after it started.
    expect(started).toBe(11);
    expect(aborted).toBe(3);
    // The fatal call and the aborted ones are not results: a resumed run does them again.
    expect(results.map((r) => r.feature).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(results.every((r) => r.explanation === 'fine')).toBe(true);
  });

  test('the budget stops new calls; calls in flight finish and are kept', async () => {
    const client = scriptedClient(async () => {
      await wait(5);
      return { text: '[EXPLANATION]: fine', usage: { promptTokens: 100, completionTokens: 10, cost: 0.25 } };
    });
    const results: ExplanationResult[] = [];
    const summary = await runExplanations(records, { client, model: 'm', tokenizer, concurrency: 2, budget: { maxCost: 1 }, onResult: (r) => void results.push(r) });
    expect(summary.stopped?.code).toBe('llm/budget');
    expect(summary.stopped?.message).toMatch(/budget of \$1 is spent/);
    // Four calls reach $1; the two in flight when it was reached end (at most concurrency - 1 more).
    expect(client.requests.length).toBeGreaterThanOrEqual(4);
    expect(client.requests.length).toBeLessThanOrEqual(5);
    expect(results).toHaveLength(client.requests.length);
    expect(summary.usage.cost).toBe(client.requests.length * 0.25);
  });

  test('skip and onResult: the resume hooks', async () => {
    const client = scriptedClient(() => ({ text: '[EXPLANATION]: fine', usage }));
    const stored = new Map<number, ExplanationResult>();
    const skip = (feature: number) => feature % 4 === 0;
    const summary = await runExplanations(records, { client, model: 'm', tokenizer, skip: async (f) => skip(f), onResult: async (r) => void stored.set(r.feature, r) });
    expect(summary).toMatchObject({ skipped: 5, succeeded: 15 });
    expect([...stored.keys()].sort((a, b) => a - b)).toEqual(records.map((r) => r.feature).filter((f) => !skip(f)));
    expect(client.requests).toHaveLength(15);
  });

  test('an error while storing a result stops the run', async () => {
    const client = scriptedClient(() => ({ text: '[EXPLANATION]: fine', usage }));
    const summary = await runExplanations(records, {
      client,
      model: 'm',
      tokenizer,
      concurrency: 1,
      onResult: (r) => {
        if (r.feature === 3) throw new AppError('storage/quota', 'The browser storage is full.');
      },
    });
    expect(summary.stopped).toEqual({ code: 'storage/quota', message: 'The run stopped after 3 of 20 features: The browser storage is full.' });
  });

  test('records from an async source; total given for progress', async () => {
    async function* source() {
      for (const record of records.slice(0, 5)) yield record;
    }
    const progress: ExplainProgress[] = [];
    const client = scriptedClient(() => ({ text: '[EXPLANATION]: fine', usage }));
    const summary = await runExplanations(source(), { client, model: 'm', tokenizer, total: 5, onProgress: (p) => progress.push(p) });
    expect(summary.succeeded).toBe(5);
    expect(progress.at(-1)).toMatchObject({ done: 5, total: 5 });
  });

  test('cancelling throws cancelled; aborted features have no result', async () => {
    const controller = new AbortController();
    const client = scriptedClient(async (_r, call, signal) => {
      if (call === 6) controller.abort();
      await wait(call < 6 ? 1 : 100, signal);
      return { text: '[EXPLANATION]: fine', usage };
    });
    const results: ExplanationResult[] = [];
    const error = await failure(() => runExplanations(records, { client, model: 'm', tokenizer, concurrency: 3, signal: controller.signal, onResult: (r) => void results.push(r) }));
    expect(errorCode(error)).toBe('cancelled');
    expect(results.length).toBeLessThanOrEqual(6);
    expect(client.requests.length).toBeLessThanOrEqual(9);
  });

  test('the scripted client saw each feature once', async () => {
    const client = scriptedClient(() => '[EXPLANATION]: fine');
    await runExplanations(records.slice(0, 10), { client, model: 'm', tokenizer });
    expect(client.requests.map(featureOf).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});
