/**
 * Whole runs against the LLM stand-in over real HTTP: 20 features with 30% of the requests meeting a
 * fault all finish (successes after retries, recorded failures otherwise) with token and cost sums
 * equal to the server's own log; the pool keeps 8 calls in flight against a 200 ms server; a refused
 * key and an exhausted key limit stop the run; the key appears nowhere but in the Authorization header.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { startLlmServer, type LlmServer } from '../../../scripts/servers/llm-server.ts';
import { openRouterClient } from '../../../src/lib/clients/index.ts';
import type { ExplanationResult } from '../../../src/lib/explainers/index.ts';
import { runExplanations } from '../../../src/lib/pipeline/index.ts';
import { topicRecord, TOPICS, wordTokenizer } from '../explainers/fixtures.ts';

const KEY = 'sk-stand-in-test-key-0042';
const tokenizer = wordTokenizer();
const records = (n: number) => Array.from({ length: n }, (_, f) => topicRecord(tokenizer, f));
const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 40, maxAttempts: 4 };

let server: LlmServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('runs against the stand-in', () => {
  test('20 features, 30% faults: every feature finishes, sums equal the server log', async () => {
    server = await startLlmServer({ faults: { rate: 0.3, seed: 11 }, retryAfterSeconds: 0, keys: [KEY] });
    const client = openRouterClient({ baseUrl: server.openRouterBase, apiKey: KEY, timeoutMs: 2000, retry: FAST_RETRY });
    const results: ExplanationResult[] = [];
    const summary = await runExplanations(records(20), { client, model: 'stand-in/explainer', tokenizer, onResult: (r) => void results.push(r) });

    expect(summary.stopped).toBeUndefined();
    expect(results.map((r) => r.feature).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const faults = server.requests.filter((r) => r.fault);
    expect(faults.length / server.requests.length).toBeGreaterThan(0.15);
    // Successes, some after retries; the rest recorded failures, never explanations.
    const explained = results.filter((r) => r.explanation);
    expect(explained.length).toBeGreaterThanOrEqual(12);
    expect(explained.some((r) => r.attempts > 1)).toBe(true);
    for (const r of explained) expect(r.explanation).toBe(`the word "${TOPICS[r.feature % TOPICS.length]}"`);
    for (const r of results.filter((r) => r.failure)) {
      expect(r.explanation).toBeUndefined();
      expect(['explanation/missing', 'llm/truncated', 'llm/server', 'llm/rate-limited', 'llm/timeout', 'llm/bad-response', 'llm/empty']).toContain(r.failure!.code);
    }
    expect(summary.succeeded + summary.failed).toBe(20);

    // Exact sums: what the responses said = what the server logged it sent.
    const logged = server.requests.filter((r) => r.usage).map((r) => r.usage!);
    const sum = (key: 'prompt_tokens' | 'completion_tokens' | 'cost') => logged.reduce((a, u) => a + (u[key] ?? 0), 0);
    expect(summary.usage.promptTokens).toBe(sum('prompt_tokens'));
    expect(summary.usage.completionTokens).toBe(sum('completion_tokens'));
    expect(summary.usage.cost).toBe(sum('cost'));
    expect(summary.usage.cost).toBeGreaterThan(0);
    // And the results' own usage adds up to the same (no call was cut off by a stop).
    expect(results.reduce((a, r) => a + r.usage.promptTokens, 0)).toBe(sum('prompt_tokens'));
    expect(results.reduce((a, r) => a + (r.usage.cost ?? 0), 0)).toBe(sum('cost'));

    // The key went only into Authorization headers; results and the summary never hold it.
    for (const request of server.requests) {
      const { authorization, ...others } = request.headers;
      expect(authorization).toBe(`Bearer ${KEY}`);
      expect(JSON.stringify(others) + JSON.stringify(request.body)).not.toContain(KEY);
    }
    expect(JSON.stringify(results) + JSON.stringify(summary)).not.toContain(KEY);
    console.log(`30% faults: ${server.requests.length} requests for 20 features, ${faults.length} faults (${[...new Set(faults.map((f) => f.fault))].join(', ')}); ${summary.succeeded} explained, ${summary.failed} recorded failures`);
  });

  test('8 calls in flight against a server that takes 200 ms: every slot is used, every feature is asked once', async () => {
    // How busy the slots stay (utilization, throughput) is a speed and is measured by `npm run bench`
    // (bench/llm-concurrency.ts); here only what holds on any machine, however loaded.
    server = await startLlmServer({ latencyMs: 200 });
    const client = openRouterClient({ baseUrl: server.openRouterBase, apiKey: KEY });
    const summary = await runExplanations(records(48), { client, model: 'stand-in/explainer', tokenizer, concurrency: 8 });
    expect(summary.succeeded).toBe(48);
    expect(summary.pool).toMatchObject({ concurrency: 8, maxInFlight: 8, started: 48, finished: 48 });
    expect(summary.pool.utilization).toBeGreaterThan(0);
    expect(summary.pool.utilization).toBeLessThanOrEqual(1);
    expect(server.requests.filter((r) => r.path.endsWith('/chat/completions'))).toHaveLength(48);
  });

  test('a refused key stops the run at once with a clear message', async () => {
    server = await startLlmServer({ keys: ['sk-the-right-one'] });
    const client = openRouterClient({ baseUrl: server.openRouterBase, apiKey: KEY, retry: FAST_RETRY });
    const results: ExplanationResult[] = [];
    const summary = await runExplanations(records(20), { client, model: 'stand-in/explainer', tokenizer, concurrency: 4, onResult: (r) => void results.push(r) });
    expect(summary.stopped?.code).toBe('llm/unauthorized');
    expect(summary.stopped?.message).toMatch(/^The run stopped after 0 of 20 features: 127\.0\.0\.1:\d+ refused the API key \(401: "Missing or unknown API key\."\)\. Check the key/);
    expect(summary.stopped?.message).not.toContain(KEY);
    expect(results).toEqual([]);
    // The four first calls went out together; none after them, none retried.
    expect(server.requests.length).toBeLessThanOrEqual(4);
  });

  test('a key limit reached mid-run (402) stops it; what was done is kept', async () => {
    server = await startLlmServer({ creditLimit: 0.005 });
    const client = openRouterClient({ baseUrl: server.openRouterBase, apiKey: KEY, retry: FAST_RETRY });
    const results: ExplanationResult[] = [];
    const summary = await runExplanations(records(20), { client, model: 'stand-in/explainer', tokenizer, concurrency: 1, onResult: (r) => void results.push(r) });
    expect(summary.stopped?.code).toBe('llm/no-credits');
    expect(summary.stopped?.message).toMatch(/credit limit at 127\.0\.0\.1:\d+ has no credits left \(402/);
    expect(results.length).toBeGreaterThan(0);
    expect(results.length).toBeLessThan(20);
    expect(results.every((r) => r.explanation)).toBe(true);
  });
});
