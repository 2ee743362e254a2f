/**
 * One feature explained with a scripted client: the request it makes, an explanation, and every way
 * it can fail recorded as a failure (never as an explanation), except the errors that stop a run and
 * cancellation, which are thrown.
 */
import { describe, expect, test } from 'vitest';
import { LlmError, scriptedClient } from '../../../src/lib/clients/index.ts';
import { AppError, errorCode } from '../../../src/lib/errors.ts';
import { explainFeature } from '../../../src/lib/explainers/index.ts';
import { failure } from '../../support/async.ts';
import { topicRecord, wordTokenizer } from './fixtures.ts';

const tokenizer = wordTokenizer();
const record = topicRecord(tokenizer, 7, 'lantern');
const options = { model: 'm/1', tokenizer };

describe('explainFeature', () => {
  test('an explanation, with the request as the settings say', async () => {
    const client = scriptedClient(() => ({ text: 'Looks like lamps.\n[EXPLANATION]: the word "lantern"', usage: { promptTokens: 900, completionTokens: 12, cost: 0.001 }, attempts: 2 }));
    const result = await explainFeature(record, { ...options, client, explainer: 'chain-of-thought', settings: { temperature: 0.5, reasoning: { effort: 'none' } } });
    expect(result).toEqual({
      feature: 7,
      hook: 'blocks.6.hook_resid_pre',
      explainer: 'chain-of-thought',
      model: 'm/1',
      settings: { threshold: 0.3, activationValues: false, maxCounterexamples: 10, temperature: 0.5, reasoning: { effort: 'none' } },
      explanation: 'the word "lantern"',
      usage: { promptTokens: 900, completionTokens: 12, cost: 0.001 },
      raw: 'Looks like lamps.\n[EXPLANATION]: the word "lantern"',
      attempts: 2,
    });
    expect(client.requests[0]).toMatchObject({ model: 'm/1', temperature: 0.5, maxTokens: 1000, reasoning: { effort: 'none' } });
    // A result is plain data: it survives JSON (IndexedDB, a worker boundary) unchanged.
    expect(JSON.parse(JSON.stringify(result))).toEqual(result);
  });

  test('an explanation longer than the run allows (1000 characters unless set) is the feature\'s failure, not its explanation', async () => {
    const long = 'x'.repeat(1001); // one "word": the word limit alone would take it
    const client = scriptedClient(() => `[EXPLANATION]: ${long}`);
    const refused = await explainFeature(record, { ...options, client });
    expect(refused.explanation).toBeUndefined();
    expect(refused.failure).toEqual({ kind: 'parse', code: 'explanation/too-long', message: 'The explanation of feature 7 has 1,001 characters; at most 1,000 are taken as one (a setting of the run).' });
    expect(refused.raw).toBe(`[EXPLANATION]: ${long}`); // the answer is kept to look at
    expect((await explainFeature(record, { ...options, client, settings: { maxExplanationChars: 1001 } })).explanation).toBe(long);
    expect(errorCode(await failure(() => explainFeature(record, { ...options, client, settings: { maxExplanationChars: 0 } })))).toBe('explain/bad-settings');
  });

  test('max tokens: the setting, else the explainer default', async () => {
    const client = scriptedClient(() => '[EXPLANATION]: x');
    await explainFeature(record, { ...options, client });
    await explainFeature(record, { ...options, client, settings: { maxTokens: 64 } });
    expect(client.requests.map((r) => r.maxTokens)).toEqual([300, 64]);
  });

  test.each([
    ['no marker', 'Lanterns, probably.', 'parse', 'explanation/missing'],
    ['nothing after it', '[EXPLANATION]:', 'parse', 'explanation/empty'],
    ['examples echoed', '[EXPLANATION]: The old <<lantern>> sat', 'parse', 'explanation/echo'],
  ])('an answer with %s is a parse failure, raw answer kept, no explanation', async (_, text, kind, code) => {
    const result = await explainFeature(record, { ...options, client: scriptedClient(() => text) });
    expect(result.explanation).toBeUndefined();
    expect(result.failure).toMatchObject({ kind, code });
    expect(result.raw).toBe(text);
    expect(result.usage.promptTokens).toBeGreaterThan(0);
  });

  test.each([
    ['cut by max_tokens', new LlmError('llm/truncated', 'cut', { retryable: false, usage: { promptTokens: 5, completionTokens: 300, cost: 0.2 }, text: 'Step 1', attempts: 1 })],
    ['retries spent', new LlmError('llm/server', 'down. Gave up after 5 attempts.', { retryable: true, attempts: 5 })],
    ['moderation', new LlmError('llm/forbidden', 'flagged', { retryable: false })],
    ['an unexpected error', new TypeError('x is undefined')],
  ])('a call that failed (%s) is a failure of kind llm', async (_, error) => {
    const result = await explainFeature(record, { ...options, client: scriptedClient(() => error) });
    expect(result.explanation).toBeUndefined();
    expect(result.failure).toEqual({ kind: 'llm', code: errorCode(error) ?? 'llm/unknown', message: error.message });
    if (error instanceof LlmError) {
      expect(result.usage).toEqual(error.usage ?? { promptTokens: 0, completionTokens: 0 });
      expect(result.attempts).toBe(error.attempts ?? 1);
      expect(result.raw).toBe(error.text);
    }
  });

  test.each([
    ['401', new LlmError('llm/unauthorized', 'bad key', { retryable: false })],
    ['no credits', new LlmError('llm/no-credits', 'no credits', { retryable: false })],
    ['unsupported', new LlmError('llm/unsupported', 'cannot', { retryable: false })],
    ['budget', new LlmError('llm/budget', 'spent', { retryable: false })],
    ['cancelled', new AppError('cancelled', 'cancelled')],
  ])('%s is thrown, not recorded', async (_, error) => {
    expect(await failure(() => explainFeature(record, { ...options, client: scriptedClient(() => error) }))).toBe(error);
  });

  test('a feature without examples is an input failure, and no call is made', async () => {
    const client = scriptedClient(() => '[EXPLANATION]: x');
    const result = await explainFeature({ ...record, train: [] }, { ...options, client });
    expect(result.failure).toMatchObject({ kind: 'input', code: 'explanation/no-examples' });
    expect(result.attempts).toBe(0);
    expect(client.requests).toEqual([]);
  });
});
