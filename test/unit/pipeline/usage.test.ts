/**
 * Counting and limiting what a run spends: exact sums of what responses said (failed calls included),
 * estimated cost for endpoints that report none, the budget check before each call; and the cost
 * estimate before a run.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { startLlmServer, type LlmServer, type UsageReport } from '../../../scripts/servers/llm-server.ts';
import { approxTokens, LlmError, openRouterClient, scriptedClient } from '../../../src/lib/clients/index.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { defaultExplainer, chainOfThoughtExplainer, explainSettings } from '../../../src/lib/explainers/index.ts';
import { estimateCost, estimateExplainCost, formatUsage, meteredClient, promptTokens, UsageMeter } from '../../../src/lib/pipeline/index.ts';
import { failure } from '../../support/async.ts';
import { topicRecord, wordTokenizer } from '../explainers/fixtures.ts';

const REQUEST = { model: 'm', messages: [{ role: 'user' as const, content: 'x' }] };

describe('UsageMeter', () => {
  test('sums exactly what the responses said', () => {
    const meter = new UsageMeter();
    meter.add({ promptTokens: 100, completionTokens: 7, cost: 0.25 });
    meter.add({ promptTokens: 50, completionTokens: 3, cost: 0.125 }, 3);
    expect(meter.totals).toEqual({ calls: 2, attempts: 4, promptTokens: 150, completionTokens: 10, cost: 0.375, uncostedCalls: 0, estimatedCost: 0, untrustedCalls: 0 });
  });

  test('calls without a reported cost are priced when prices are known, and counted apart', () => {
    const meter = new UsageMeter({}, { prompt: 0.5, completion: 2 });
    meter.add({ promptTokens: 10, completionTokens: 1 });
    meter.add({ promptTokens: 4, completionTokens: 1, cost: 1 });
    expect(meter.totals).toMatchObject({ cost: 1, uncostedCalls: 1, estimatedCost: 7 });
  });

  test.each([
    [{ maxCost: 1 }, [{ promptTokens: 1, completionTokens: 1, cost: 0.5 }], undefined],
    [{ maxCost: 1 }, [{ promptTokens: 1, completionTokens: 1, cost: 0.5 }, { promptTokens: 1, completionTokens: 1, cost: 0.5 }], /budget of \$1 is spent/],
    [{ maxTokens: 100 }, [{ promptTokens: 90, completionTokens: 9 }], undefined],
    [{ maxTokens: 100 }, [{ promptTokens: 90, completionTokens: 10 }], /100 tokens/],
  ])('budget %o after %o', (budget, usages, spent) => {
    const meter = new UsageMeter(budget);
    for (const usage of usages) meter.add(usage);
    if (spent) expect(meter.exhausted()).toMatch(spent);
    else expect(meter.exhausted()).toBeUndefined();
  });
});

describe('meteredClient', () => {
  test('counts answered and failed calls; refuses new calls once the budget is spent', async () => {
    const meter = new UsageMeter({ maxCost: 0.3 });
    const client = meteredClient(
      scriptedClient((_, call) =>
        call === 1
          ? new LlmError('llm/truncated', 'cut', { retryable: false, usage: { promptTokens: 10, completionTokens: 50, cost: 0.2 }, attempts: 1 })
          : { text: 'ok', usage: { promptTokens: 10, completionTokens: 1, cost: 0.1 }, attempts: 2 },
      ),
      meter,
    );
    await client.complete(REQUEST);
    expect(errorCode(await failure(() => client.complete(REQUEST)))).toBe('llm/truncated');
    expect(meter.totals).toMatchObject({ calls: 2, attempts: 3, promptTokens: 20, completionTokens: 51, cost: 0.30000000000000004 });
    const refused = await failure(() => client.complete(REQUEST));
    expect(errorCode(refused)).toBe('llm/budget');
    expect(refused.message).toMatch(/Raise the budget/);
    expect(meter.totals.calls).toBe(2);
  });
});

describe('usage a server cannot mean', () => {
  let server: LlmServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const PRICES = { prompt: 0.001, completion: 0.002 };
  const PROMPT = { model: 'stand-in/explainer', messages: [{ role: 'user' as const, content: 'What do these sentences have in common? The cat sat by the door.' }] };

  test.each<[string, UsageReport]>([
    ['negative tokens and cost', (u) => ({ ...u, prompt_tokens: -u.prompt_tokens, cost: -1 })],
    ['1e308 everywhere', () => ({ prompt_tokens: 1e308, completion_tokens: 1e308, cost: 1e308 })],
    ['not numbers', () => ({ prompt_tokens: 'many', completion_tokens: null, cost: 'free' })],
    ['half a token', (u) => ({ ...u, prompt_tokens: u.prompt_tokens + 0.5 })],
  ])('%s: each call counted as uncosted, tokens estimated from the text, priced at the listed prices, so the budget still stops the run', async (_, report) => {
    server = await startLlmServer({ reportUsage: report });
    const meter = new UsageMeter({ maxCost: 0.2 }, PRICES);
    const client = meteredClient(openRouterClient({ baseUrl: server.openRouterBase, apiKey: 'sk-test' }), meter);
    let calls = 0;
    for (; calls < 200 && !meter.exhausted(); calls++) {
      const { usage } = await client.complete(PROMPT);
      expect(usage.untrusted).toBe(JSON.stringify(server.requests.at(-1)!.usage)); // what it said, for the warning
    }
    expect(meter.exhausted()).toMatch(/budget of \$0\.2 is spent/);
    expect(calls).toBeLessThan(200);
    const totals = meter.totals;
    expect(totals).toMatchObject({ calls, uncostedCalls: calls, untrustedCalls: calls, cost: 0 });
    // About 4 characters a token, never negative or absurd.
    expect(totals.promptTokens).toBe(calls * Math.ceil(PROMPT.messages[0]!.content.length / 4));
    expect(totals.completionTokens).toBeGreaterThan(0);
    expect(totals.completionTokens).toBeLessThan(calls * 1000);
    expect(totals.estimatedCost).toBeCloseTo(totals.promptTokens * PRICES.prompt + totals.completionTokens * PRICES.completion, 12);
  });

  test('the screens say how many answers reported usage that cannot be right', () => {
    const meter = new UsageMeter({}, PRICES);
    meter.add({ promptTokens: 1200, completionTokens: 30, cost: 0.5 });
    expect(formatUsage(meter.totals)).toBe('1,230 tokens · $0.5000');
    meter.add({ promptTokens: 10, completionTokens: 5, untrusted: '{"cost":-1}' });
    meter.add({ promptTokens: 10, completionTokens: 5, untrusted: '{"cost":-1}' });
    expect(formatUsage(meter.totals)).toBe("1,260 tokens · $0.5400 (2 answers reported usage that cannot be right: counted at the model's listed prices)");
    expect(formatUsage(undefined)).toBe('nothing spent');
    // An endpoint that reports no cost, for a model without listed prices: unknown, never "$0.0000".
    const unpriced = new UsageMeter();
    unpriced.add({ promptTokens: 100, completionTokens: 10 });
    expect(formatUsage(unpriced.totals)).toBe('110 tokens · cost unknown (the endpoint reports none and lists no prices)');
    unpriced.add({ promptTokens: 100, completionTokens: 10, cost: 0.25 });
    expect(formatUsage(unpriced.totals)).toBe('220 tokens · $0.2500 and 1 call of unknown cost');
  });

  test('figures a server can mean are taken as they are', async () => {
    server = await startLlmServer({ reportUsage: (u) => ({ ...u, prompt_tokens: 0, cost: 0 }) });
    const meter = new UsageMeter({}, PRICES);
    const { usage } = await meteredClient(openRouterClient({ baseUrl: server.openRouterBase, apiKey: 'sk-test' }), meter).complete(PROMPT);
    expect(usage.untrusted).toBeUndefined();
    expect(meter.totals).toMatchObject({ calls: 1, promptTokens: 0, completionTokens: server.requests[0]!.usage!.completion_tokens, cost: 0, uncostedCalls: 0, estimatedCost: 0 });
    expect(meter.totals.untrustedCalls).toBe(0);
  });
});

describe('cost estimates', () => {
  test('features x tokens x prices', () => {
    expect(estimateCost(1000, 400, 40, { prompt: 1e-6, completion: 2e-6 })).toEqual({ features: 1000, promptTokens: 400_000, completionTokens: 40_000, cost: 0.48 });
    expect(estimateCost(10, 1.5, 2)).toEqual({ features: 10, promptTokens: 15, completionTokens: 20 });
  });

  test('prompt tokens from the built prompts: a token per four characters plus a few per message', () => {
    expect(approxTokens('abcdefghi')).toBe(3);
    expect(promptTokens([{ role: 'system', content: 'abcd' }, { role: 'user', content: 'abcdefgh' }])).toBe(1 + 4 + 2 + 4);
    expect(promptTokens([{ role: 'user', content: 'a b c' }], (text) => text.split(' ').length)).toBe(3 + 4);
  });

  test('an explain run: the prompts of the sample, scaled to the features; the explainer answer size', () => {
    const tokenizer = wordTokenizer();
    const records = [0, 1, 2, 3].map((f) => topicRecord(tokenizer, f));
    const pricing = { prompt: 2 ** -20, completion: 2 ** -19 };
    const estimate = estimateExplainCost(records, { tokenizer, pricing, features: 1000 });
    const perFeature = records.map((r) => promptTokens(defaultExplainer.messages(r, tokenizer, explainSettings()))).reduce((a, b) => a + b) / records.length;
    expect(estimate.promptTokens).toBe(Math.round(1000 * perFeature));
    expect(estimate.completionTokens).toBe(1000 * defaultExplainer.answerTokens);
    expect(estimate.cost).toBe(estimate.promptTokens * pricing.prompt + estimate.completionTokens * pricing.completion);
    expect(perFeature).toBeGreaterThan(500);
    const cot = estimateExplainCost(records, { tokenizer, explainer: 'chain-of-thought', pricing });
    expect(cot.completionTokens).toBe(records.length * chainOfThoughtExplainer.answerTokens);
  });
});
