/**
 * Scoring many features: with a scripted client (failures recorded and the run goes on, a fatal error
 * stops it with a clear message, the budget, the resume hooks, progress, cancellation, cost
 * estimates) and against the LLM stand-in over HTTP with 30% of its answers faulty (every feature
 * finishes, failures recorded, token and cost sums equal to the server's own log).
 */
import { afterEach, describe, expect, test } from 'vitest';
import { startLlmServer, type LlmServer } from '../../../scripts/servers/llm-server.ts';
import { LlmError, openRouterClient, scriptedClient, type CompletionRequest } from '../../../src/lib/clients/index.ts';
import { AppError, errorCode } from '../../../src/lib/errors.ts';
import { estimateScoreCost, promptTokens, runScores, scorePromptTokens, type ScoreItem, type ScoreProgress } from '../../../src/lib/pipeline/index.ts';
import type { ScoreResult } from '../../../src/lib/scorers/index.ts';
import { failure } from '../../support/async.ts';
import { scoreRecord, TOPICS, wordTokenizer } from '../scorers/fixtures.ts';

const tokenizer = wordTokenizer();
const items = (n: number): ScoreItem[] => Array.from({ length: n }, (_, f) => ({ record: scoreRecord(tokenizer, f, { tests: 5, negatives: 5 }), explanation: `the word "${TOPICS[f % TOPICS.length]}"` }));
const excerpts = (request: CompletionRequest) => [...request.messages.at(-1)!.content.matchAll(/^Example \d+: (.*)$/gm)].map((m) => m[1]!);
const word = (request: CompletionRequest) => /^Explanation: the word "(\w+)"/.exec(request.messages.at(-1)!.content)![1]!;
const oracle = (request: CompletionRequest) => `[${excerpts(request).map((t) => (t.includes(word(request)) ? 1 : 0)).join(', ')}]`;
const usage = { promptTokens: 100, completionTokens: 5, cost: 0.01 };
const wait = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), reject(new AppError('cancelled', 'cancelled'))));
  });

describe('runScores with a scripted client', () => {
  test('failed calls are recorded in their feature and the run goes on; counts, sums and progress add up', async () => {
    // 10 samples a feature, 5 a call: 2 calls a feature. Every third call answers nonsense, every seventh fails.
    const client = scriptedClient(async (request, call) => {
      await wait(1);
      if (call % 7 === 6) return new LlmError('llm/server', 'down', { retryable: true, attempts: 3 });
      return { text: call % 3 === 2 ? 'hmm' : oracle(request), usage };
    });
    const results: ScoreResult[] = [];
    const progress: ScoreProgress[] = [];
    const summary = await runScores(items(12), { client, model: 'm', tokenizer, onResult: (r) => void results.push(r), onProgress: (p) => progress.push(p) });
    expect(results).toHaveLength(12);
    expect(client.requests).toHaveLength(24);
    const failures = results.flatMap((r) => r.failures);
    expect(failures.filter((f) => f.code === 'llm/server')).toHaveLength(3); // calls 6, 13, 20
    expect(failures.filter((f) => f.code === 'score/unparseable')).toHaveLength(8 - 1); // calls 2, 5, 8, 11, 14, 17, 23 (20 failed first)
    // A feature fails only when neither of its calls gave verdicts.
    const none = results.filter((r) => r.kind === 'classifier' && r.examples.every((e) => e.prediction === null)).length;
    expect(summary).toMatchObject({ scorer: 'detection', model: 'm', seed: 22, succeeded: 12 - none, failed: none, skipped: 0 });
    expect(summary.stopped).toBeUndefined();
    for (const r of results) {
      const answered = r.kind === 'classifier' ? r.examples.filter((e) => e.prediction !== null) : [];
      expect(answered.every((e) => e.correct)).toBe(true);
      expect(r.metrics.failed).toBe(10 - answered.length);
    }
    // Usage: the 21 answered calls (the failed ones carried none).
    expect(summary.usage).toMatchObject({ calls: 21, promptTokens: 2100, completionTokens: 105 });
    expect(progress.at(-1)).toMatchObject({ stage: 'score', done: 12, total: 12, inFlight: 0 });
    expect(progress.at(-1)!.text).toMatch(/^Scored 12 of 12 features( \(\d failed\))? · 2205 tokens · \$0\.2100$/);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!.done).toBeGreaterThanOrEqual(progress[i - 1]!.done);
  });

  test('a refused key stops the run: nothing new starts, the features in flight get no result, the message says why', async () => {
    const client = scriptedClient(async (request, call, signal) => {
      if (call === 9) return new LlmError('llm/unauthorized', 'llm.test refused the API key (401). Check the key (or sign in again), then resume the run.', { retryable: false });
      await wait(call < 6 ? 1 : 100, signal);
      return oracle(request);
    });
    const results: ScoreResult[] = [];
    const summary = await runScores(items(40), { client, model: 'm', tokenizer, concurrency: 3, onResult: (r) => void results.push(r) });
    expect(summary.stopped?.code).toBe('llm/unauthorized');
    expect(summary.stopped?.message).toMatch(/^The run stopped after 3 of 40 features: llm\.test refused the API key/);
    expect(results).toHaveLength(3);
    expect(client.requests.length).toBeLessThanOrEqual(10);
  });

  test('the budget stops new calls', async () => {
    const client = scriptedClient(async (request) => {
      await wait(2);
      return { text: oracle(request), usage: { promptTokens: 100, completionTokens: 10, cost: 0.25 } };
    });
    const summary = await runScores(items(20), { client, model: 'm', tokenizer, concurrency: 1, budget: { maxCost: 1 } });
    expect(summary.stopped?.code).toBe('llm/budget');
    expect(summary.stopped?.message).toMatch(/budget of \$1 is spent/);
    expect(summary.succeeded).toBe(2);
    expect(client.requests).toHaveLength(4);
  });

  test('skip and onResult (the resume hooks); a meter carried over from an earlier session', async () => {
    const { UsageMeter } = await import('../../../src/lib/pipeline/index.ts');
    const meter = new UsageMeter({}, undefined, { calls: 10, attempts: 10, promptTokens: 1000, completionTokens: 50, cost: 0.1, uncostedCalls: 0, estimatedCost: 0 });
    const client = scriptedClient((request) => ({ text: oracle(request), usage }));
    const stored = new Map<number, ScoreResult>();
    const summary = await runScores(items(8), { client, model: 'm', tokenizer, meter, skip: async (f) => f % 4 === 0, onResult: async (r) => void stored.set(r.feature, r) });
    expect(summary).toMatchObject({ skipped: 2, succeeded: 6 });
    expect([...stored.keys()].sort()).toEqual([1, 2, 3, 5, 6, 7]);
    expect(summary.usage).toMatchObject({ calls: 22, promptTokens: 2200 });
  });

  test('an error while storing a result stops the run', async () => {
    const client = scriptedClient((request) => oracle(request));
    const summary = await runScores(items(6), {
      client,
      model: 'm',
      tokenizer,
      concurrency: 1,
      onResult: (r) => {
        if (r.feature === 2) throw new AppError('storage/quota', 'The browser storage is full.');
      },
    });
    expect(summary.stopped).toEqual({ code: 'storage/quota', message: 'The run stopped after 2 of 6 features: The browser storage is full.' });
  });

  test('items from an async source; cancelling throws cancelled', async () => {
    async function* source() {
      for (const item of items(30)) yield item;
    }
    const controller = new AbortController();
    const client = scriptedClient(async (request, call, signal) => {
      if (call === 5) controller.abort();
      await wait(call < 5 ? 1 : 50, signal);
      return oracle(request);
    });
    const results: ScoreResult[] = [];
    const error = await failure(() => runScores(source(), { client, model: 'm', tokenizer, scorer: 'fuzzing', concurrency: 2, total: 30, signal: controller.signal, onResult: (r) => void results.push(r) }));
    expect(errorCode(error)).toBe('cancelled');
    expect(results.length).toBeLessThan(30);
  });

  test('settings are checked before anything runs', async () => {
    const client = scriptedClient(() => '[]');
    expect(errorCode(await failure(() => runScores(items(2), { client, model: 'm', tokenizer, scorer: 'simulation', settings: { logprobs: true, topLogprobs: 3 } })))).toBe('score/bad-settings');
    expect(errorCode(await failure(() => runScores(items(2), { client, model: 'm', tokenizer, concurrency: 0 })))).toBe('pipeline/bad-options');
    expect(client.requests).toHaveLength(0);
  });
});

describe('cost estimates', () => {
  test('the prompts the run would send, counted; simulation far more than detection', async () => {
    const sample = items(3);
    const client = scriptedClient((request) => oracle(request));
    await runScores(sample, { client, model: 'm', tokenizer });
    const sent = client.requests.reduce((sum, request) => sum + promptTokens(request.messages), 0);
    const estimate = estimateScoreCost(sample, { tokenizer, features: 300, pricing: { prompt: 1e-6, completion: 2e-6 } });
    expect(estimate.promptTokens).toBe(Math.round((300 * sent) / 3));
    expect(estimate.cost).toBeCloseTo(estimate.promptTokens * 1e-6 + estimate.completionTokens * 2e-6, 12);
    const detection = scorePromptTokens(sample[0]!, { tokenizer });
    const simulation = scorePromptTokens(sample[0]!, { tokenizer, scorer: 'simulation' });
    expect(detection.calls).toBe(2);
    expect(simulation.calls).toBe(10);
    expect(simulation.promptTokens).toBeGreaterThan(3 * detection.promptTokens);
  });
});

describe('runScores against the stand-in', () => {
  let server: LlmServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test.each(['detection', 'simulation'])('%s with faults on 30 in 100 requests: every feature finishes, failures recorded, sums equal the server log', async (scorer) => {
    server = await startLlmServer({ faults: { rate: 0.3, seed: 5 }, retryAfterSeconds: 0 });
    const client = openRouterClient({ baseUrl: server.openRouterBase, apiKey: 'sk-test', timeoutMs: 2000, retry: { baseDelayMs: 2, maxDelayMs: 20, maxAttempts: 2 } });
    const results: ScoreResult[] = [];
    const summary = await runScores(items(10), { client, model: 'stand-in/explainer', tokenizer, scorer, settings: { logprobs: scorer === 'detection' }, onResult: (r) => void results.push(r) });
    expect(summary.stopped).toBeUndefined();
    expect(results.map((r) => r.feature).sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const faults = server.requests.filter((r) => r.fault);
    expect(faults.length).toBeGreaterThan(0);
    const failures = results.flatMap((r) => r.failures);
    expect(failures.length).toBeGreaterThan(0);
    for (const f of failures) expect(['llm/server', 'llm/rate-limited', 'llm/timeout', 'llm/bad-response', 'llm/empty', 'llm/truncated', 'score/unparseable', 'score/wrong-length', 'score/token-mismatch', 'score/bad-value']).toContain(f.code);
    // What was answered is scored right; what failed has no prediction.
    for (const r of results) {
      if (r.kind === 'classifier') {
        expect(r.examples.filter((e) => e.prediction !== null).every((e) => e.correct)).toBe(true);
        expect(r.metrics.failed).toBe(r.examples.filter((e) => e.prediction === null).length);
        if (r.metrics.failed < 10 && r.metrics.counts.positives && r.metrics.counts.negatives) expect(r.metrics.auc).toBe(1);
      } else {
        expect(r.metrics.failed).toBe(r.examples.filter((e) => e.predicted === null).length);
        if (r.metrics.pearson !== null) expect(r.metrics.pearson).toBeGreaterThan(0.9);
      }
    }
    const logged = server.requests.filter((r) => r.usage).map((r) => r.usage!);
    const sum = (key: 'prompt_tokens' | 'completion_tokens' | 'cost') => logged.reduce((a, u) => a + (u[key] ?? 0), 0);
    expect(summary.usage.promptTokens).toBe(sum('prompt_tokens'));
    expect(summary.usage.completionTokens).toBe(sum('completion_tokens'));
    expect(summary.usage.cost).toBe(sum('cost'));
    expect(results.reduce((a, r) => a + r.usage.promptTokens, 0)).toBe(sum('prompt_tokens'));
    console.log(`${scorer}, 30% faults: ${server.requests.length} requests for 10 features, ${faults.length} faults; ${failures.length} failures recorded (${[...new Set(failures.map((f) => f.code))].join(', ')}); ${summary.succeeded} scored, ${summary.failed} without any prediction`);
  });
});
