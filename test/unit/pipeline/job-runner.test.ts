/**
 * The job runner over an in-memory store: what differs between inputs is named; a rerun completes stored
 * results by asking only their calls that failed in a way worth asking again; every call's usage reaches
 * the journal before anything else; a store that cannot write stops the run with its reason saved; the
 * budget counts the runs before; prompts over the model's context are refused unsent.
 */
import { expect, test } from 'vitest';
import { LlmError, scriptedClient, type CompletionRequest } from '../../../src/lib/clients/index.ts';
import { AppError } from '../../../src/lib/errors.ts';
import { inputsDiffer, planJob, runJob, scoreWork, unitKey, type JobInputs, type JobLedger, type JobState, type JobStore, type JobUnit, type UsageTotals } from '../../../src/lib/pipeline/index.ts';
import { scorerSettings, scorerById, type ScoreResult } from '../../../src/lib/scorers/index.ts';
import { scoreRecord, TOPICS, wordTokenizer } from '../scorers/fixtures.ts';

const tokenizer = wordTokenizer();
const usage = { promptTokens: 100, completionTokens: 5, cost: 0.01 };
const excerpts = (request: CompletionRequest) => [...request.messages.at(-1)!.content.matchAll(/^Example \d+: (.*)$/gm)].map((m) => m[1]!);
const word = (request: CompletionRequest) => /^Explanation: the word "(\w+)"/.exec(request.messages.at(-1)!.content)![1]!;
const oracle = (request: CompletionRequest) => `[${excerpts(request).map((t) => (t.includes(word(request)) ? 1 : 0)).join(', ')}]`;

/** A store in memory, with what it was told. */
function memoryStore(ledger?: JobLedger) {
  const results = new Map<string, ScoreResult>();
  const journal: UsageTotals[] = [];
  const saved: JobState[] = [];
  let failPut: Error | undefined;
  const store: JobStore<ScoreResult> = {
    ledger: async () => ledger,
    has: async (unit) => results.has(unitKey(unit)) && !(results.get(unitKey(unit))!.examples as { prediction: unknown }[]).every((e) => e.prediction === null),
    result: async (unit) => results.get(unitKey(unit)),
    put: async (unit, result) => {
      if (failPut) throw failPut;
      results.set(unitKey(unit), result);
    },
    journal: (added) => void journal.push(added),
    save: async (state) => {
      saved.push(state);
      ledger = state;
    },
  };
  return { store, results, journal, saved, failWith: (error: Error) => (failPut = error) };
}

const FEATURES = [0, 1, 2, 3];
const units: JobUnit[] = FEATURES.map((feature) => ({ hook: 'h', feature, scorer: 'detection' }));
const inputs: JobInputs = { shared: { model: 'm' }, units: Object.fromEntries(FEATURES.map((f) => [`h:${f}`, `digest-${f}`])) };
const work = (more: Partial<Parameters<typeof scoreWork>[0]> = {}) =>
  scoreWork({
    units,
    inputs,
    model: 'm',
    tokenizer,
    settings: { detection: scorerSettings(scorerById('detection')) },
    read: async (unit) => ({ record: scoreRecord(tokenizer, unit.feature, { tests: 5, negatives: 5 }), explanation: `the word "${TOPICS[unit.feature % TOPICS.length]}"` }),
    ...more,
  });

test('what differs is named; features added or left out are no conflict', () => {
  const before: JobInputs = { shared: { model: 'a', endpoint: 'x' }, units: { 'h:1': 'd1', 'h:2': 'd2' } };
  expect(inputsDiffer(before, { shared: { model: 'a', endpoint: 'x', 'settings fuzzing': '{}' }, units: { 'h:1': 'd1', 'h:3': 'd3' } })).toBeUndefined();
  expect(inputsDiffer(before, { shared: { model: 'b', endpoint: 'x' }, units: { 'h:1': 'd1', 'h:2': 'other' } }, { model: '--model' })).toBe('--model (was a, now b); the inputs of feature h:2 (not those the stored results were made from)');
});

test('a rerun asks only the calls that failed in a way worth asking again, and completes the stored results', async () => {
  const memory = memoryStore();
  // 2 calls a feature (10 samples, 5 a call): a server error on call 1 (feature 0), a refusal (403) on call 3 (feature 1).
  const first = scriptedClient((request, call) => (call === 1 ? new LlmError('llm/server', 'down', { retryable: true }) : call === 3 ? new LlmError('llm/forbidden', 'flagged', { retryable: false }) : { text: oracle(request), usage }));
  const w = work();
  const state = await runJob(memory.store, w, await planJob(memory.store, w), { client: first, concurrency: 1 });
  expect(state.status).toBe('done');
  expect(state.callFailures.map((f) => [f.feature, f.code, f.call])).toEqual([[0, 'llm/server', 1], [1, 'llm/forbidden', 1]]);
  const plan = await planJob(memory.store, w);
  expect(plan.todo).toEqual([units[0]]);
  expect(plan.skipped).toHaveLength(3);

  const second = scriptedClient((request) => ({ text: oracle(request), usage }));
  const again = await runJob(memory.store, w, plan, { client: second });
  expect(second.requests).toHaveLength(1);
  expect(second.requests[0]!.messages).toEqual(first.requests[1]!.messages);
  const completed = memory.results.get(unitKey(units[0]!))!;
  expect(completed.kind === 'classifier' && completed.examples.every((e) => e.prediction !== null && e.correct)).toBe(true);
  expect(completed.metrics).toMatchObject({ failed: 0, balanced_accuracy: 1 });
  expect(again.callFailures.map((f) => [f.feature, f.code])).toEqual([[1, 'llm/forbidden']]);
  expect(again).toMatchObject({ runs: 2, usage: { calls: 7 }, usageThisRun: { calls: 1 } }); // 6 answered calls before, 1 now
});

test('every call reaches the journal; a store that cannot write stops the run with its reason saved', async () => {
  const memory = memoryStore();
  memory.failWith(new AppError('storage/quota', 'The disk is full.'));
  const client = scriptedClient((request) => ({ text: oracle(request), usage }));
  const w = work();
  const state = await runJob(memory.store, w, await planJob(memory.store, w), { client, concurrency: 1 });
  expect(state).toMatchObject({ status: 'stopped', stopped: { code: 'storage/quota', message: expect.stringMatching(/The disk is full\./) } });
  expect(client.requests.length).toBeGreaterThan(0);
  expect(memory.journal.reduce((n, u) => n + u.calls, 0)).toBe(client.requests.length);
  expect(memory.saved.at(-1)).toEqual(state);
  expect(state.usage.calls).toBe(client.requests.length);
});

test('the budget counts the runs before; prompts over the context are refused unsent', async () => {
  const spent: JobLedger = { inputs, usage: { calls: 3, attempts: 3, promptTokens: 300, completionTokens: 15, cost: 0.05, uncostedCalls: 0, estimatedCost: 0, untrustedCalls: 0 }, runs: 1, failures: [], callFailures: [], modes: {} };
  const broke = memoryStore(spent);
  const client = scriptedClient((request) => ({ text: oracle(request), usage }));
  const w = work();
  const state = await runJob(broke.store, w, await planJob(broke.store, w), { client, budget: { maxCost: 0.05 } });
  expect(state).toMatchObject({ status: 'stopped', stopped: { code: 'llm/budget' }, runs: 2 });
  expect(client.requests).toHaveLength(0);

  const small = memoryStore();
  const refused = await runJob(small.store, w, await planJob(small.store, w), { client, contextLength: 50, model: 'tiny' });
  expect(client.requests).toHaveLength(0);
  expect(refused.failures).toHaveLength(4);
  expect(refused.failures[0]).toMatchObject({ code: 'llm/prompt-too-long', message: expect.stringMatching(/more than tiny's context of 50 tokens: not sent/) });
});
