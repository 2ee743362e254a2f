/**
 * A stored explain job over an IndexedDB cache (fake-indexeddb) with a scripted client: results and
 * usage are stored as they arrive; a pause mid-run and a resume ask about no feature twice and count
 * usage exactly; a refused key stops the job and says why; deleting the cache deletes its jobs.
 */
import 'fake-indexeddb/auto';
import { expect, test } from 'vitest';
import { LlmError, scriptedClient } from '../../../src/lib/clients/index.ts';
import { idbCacheReader } from '../../../src/lib/latents/index.ts';
import { createExplainJob, runExplainJob, type ExplainProgress } from '../../../src/lib/pipeline/index.ts';
import { deleteRun, getLlmJob, listLlmJobs, listLlmResults } from '../../../src/lib/storage/index.ts';
import { idbRun, randomCache } from '../latents/records/caches.ts';
import { wordTokenizer } from '../explainers/fixtures.ts';

const cache = randomCache(3, 24, 16, 40, 0.05, 30);
const tokenizer = wordTokenizer();
const usage = { promptTokens: 100, completionTokens: 10, cost: 0.01 };
const FEATURES = Array.from({ length: 20 }, (_, f) => f);

test('pause and resume: every feature asked about once, results and usage stored as they arrive', async () => {
  const { db, run } = await idbRun(cache, 4);
  const reader = await idbCacheReader(db, run.id);
  const job = await createExplainJob(db, { cacheRunId: run.id, baseUrl: 'scripted:', model: 'm', features: FEATURES, concurrency: 3, recordOptions: { exampleCtx: 8, minExamples: 0 } }, reader);
  expect(job).toMatchObject({ stage: 'explain', status: 'ready', method: 'default', concurrency: 3 });
  const control = new AbortController();
  const first = scriptedClient(async (_request, call) => {
    if (call === 7) control.abort();
    await new Promise((resolve) => setTimeout(resolve, 2));
    return { text: '[EXPLANATION]: a topic', usage };
  });
  const paused = await runExplainJob(db, job.id, { reader, client: first, tokenizer, signal: control.signal });
  expect(paused.job.status).toBe('paused');
  const stored = await listLlmResults(db, job.id);
  expect(stored.length).toBeGreaterThan(0);
  expect(stored.length).toBeLessThan(20);
  expect((await getLlmJob(db, job.id)).usage).toMatchObject({ calls: stored.length, promptTokens: 100 * stored.length });

  const second = scriptedClient(() => ({ text: '[EXPLANATION]: a topic', usage }));
  const progress: ExplainProgress[] = [];
  const resumed = await runExplainJob(db, job.id, { reader, client: second, tokenizer, onProgress: (p) => progress.push(p) });
  expect(resumed.job.status).toBe('done');
  const all = await listLlmResults(db, job.id);
  expect(all.map((s) => s.feature)).toEqual(FEATURES);
  expect(second.requests).toHaveLength(20 - stored.length);
  // Paid once per feature: the usage of both sessions, exactly.
  expect(resumed.job.usage).toMatchObject({ calls: 20, promptTokens: 2000, completionTokens: 200 });
  expect(resumed.job.usage!.cost).toBeCloseTo(0.2, 12);
  expect(progress.at(-1)).toMatchObject({ done: 20, total: 20 });
  expect(progress.at(-1)!.text).toMatch(/^Explained 20 of 20 features/);
  expect(all.every((s) => s.result.explanation === 'a topic')).toBe(true);
});

test('a refused key stops the job with the reason stored; deleting the cache deletes its jobs and results', async () => {
  const { db, run } = await idbRun(cache, 4);
  const reader = await idbCacheReader(db, run.id);
  const job = await createExplainJob(db, { cacheRunId: run.id, baseUrl: 'scripted:', model: 'm', features: FEATURES, concurrency: 2, recordOptions: { exampleCtx: 8 } }, reader);
  const client = scriptedClient((_request, call) => (call === 4 ? new LlmError('llm/unauthorized', 'The API refused the key (401).', { retryable: false }) : { text: '[EXPLANATION]: x', usage }));
  const { job: stopped } = await runExplainJob(db, job.id, { reader, client, tokenizer });
  expect(stopped.status).toBe('stopped');
  expect(stopped.stopped).toMatchObject({ code: 'llm/unauthorized', message: expect.stringMatching(/refused the key/) });
  expect(JSON.stringify(stopped)).not.toMatch(/key-|sk-/);
  await deleteRun(db, run.id);
  expect(await listLlmJobs(db, { cacheRunId: run.id })).toEqual([]);
  expect(await listLlmResults(db, job.id)).toEqual([]);
});

test('a job is checked when created', async () => {
  const { db, run } = await idbRun(cache, 4);
  const reader = await idbCacheReader(db, run.id);
  await expect(createExplainJob(db, { cacheRunId: run.id, baseUrl: 'x', model: 'm', features: [] }, reader)).rejects.toThrow(/no features to explain/);
  await expect(createExplainJob(db, { cacheRunId: run.id, baseUrl: 'x', model: 'm', features: [1], recordOptions: { exampleCtx: 5 } }, reader)).rejects.toThrow(/must divide/);
  await expect(createExplainJob(db, { cacheRunId: run.id, baseUrl: 'x', model: ' ', features: [1], recordOptions: { exampleCtx: 8 } }, reader)).rejects.toThrow(/Choose a model/);
});

test("a prompt over the model's listed context length is refused before it is sent: the feature's failure, nothing paid", async () => {
  const { db, run } = await idbRun(cache, 4);
  const reader = await idbCacheReader(db, run.id);
  const job = await createExplainJob(db, { cacheRunId: run.id, baseUrl: 'scripted:', model: 'small-model', features: FEATURES.slice(0, 3), recordOptions: { exampleCtx: 8, minExamples: 0 } }, reader);
  const client = scriptedClient(() => ({ text: '[EXPLANATION]: a topic', usage }));
  const { job: done } = await runExplainJob(db, job.id, { reader, client, tokenizer, contextLength: 64 });
  expect(client.requests).toHaveLength(0);
  expect(done).toMatchObject({ status: 'done', usage: { calls: 0 } });
  const stored = await listLlmResults(db, job.id);
  expect(stored.map((s) => s.result.failure?.code)).toEqual(['llm/prompt-too-long', 'llm/prompt-too-long', 'llm/prompt-too-long']);
  expect(stored[0]!.result.failure!.message).toMatch(/more than small-model's context of 64 tokens: not sent/);
});
