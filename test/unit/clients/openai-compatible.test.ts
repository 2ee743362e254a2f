/**
 * The chat client's requests and its checks of answers: the body per dialect (OpenRouter's
 * require_parameters and usage accounting), usage and cost read, log-probabilities and JSON checked,
 * and the key: sent only in the Authorization header to the base URL, never in a message or a result.
 */
import { describe, expect, test } from 'vitest';
import { createLlmClient, flavorOf, normalizeBaseUrl, parseJsonAnswer, requestBody, type CompletionRequest } from '../../../src/lib/clients/index.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { failure } from '../../support/async.ts';

const KEY = 'sk-or-v1-0123456789abcdef-secret';
const NO_RETRY = { maxAttempts: 1 };

interface Seen {
  url: string;
  init: RequestInit;
}

function answering(body: unknown, status = 200): { fetch: typeof fetch; seen: Seen[] } {
  const seen: Seen[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    seen.push({ url, init });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status });
  }) as typeof globalThis.fetch;
  return { fetch, seen };
}

const ok = (message: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  model: 'test/model',
  provider: 'Prov',
  choices: [{ message: { role: 'assistant', ...message }, finish_reason: 'stop', ...extra }],
  usage: { prompt_tokens: 120, completion_tokens: 7, cost: 0.00042 },
});

const REQUEST: CompletionRequest = { model: 'test/model', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' }], temperature: 0, maxTokens: 100 };

describe('request bodies', () => {
  test.each([
    ['plain, OpenAI dialect', REQUEST, 'openai', { model: 'test/model', messages: REQUEST.messages, temperature: 0, max_tokens: 100 }],
    ['plain, OpenRouter dialect: usage accounting, no provider constraint', REQUEST, 'openrouter', { model: 'test/model', messages: REQUEST.messages, temperature: 0, max_tokens: 100, usage: { include: true } }],
    [
      'logprobs on OpenRouter require providers that honour them',
      { ...REQUEST, topLogprobs: 5 },
      'openrouter',
      { model: 'test/model', messages: REQUEST.messages, temperature: 0, max_tokens: 100, logprobs: true, top_logprobs: 5, provider: { require_parameters: true }, usage: { include: true } },
    ],
    ['logprobs on OpenAI: no provider field', { ...REQUEST, topLogprobs: 0 }, 'openai', { model: 'test/model', messages: REQUEST.messages, temperature: 0, max_tokens: 100, logprobs: true }],
    [
      'JSON object',
      { ...REQUEST, json: true as const },
      'openrouter',
      { model: 'test/model', messages: REQUEST.messages, temperature: 0, max_tokens: 100, response_format: { type: 'json_object' }, provider: { require_parameters: true }, usage: { include: true } },
    ],
    [
      'JSON schema, provider order kept',
      { ...REQUEST, json: { name: 'acts', schema: { type: 'object' } }, extra: { provider: { order: ['a'] }, seed: 3 } },
      'openrouter',
      {
        model: 'test/model',
        messages: REQUEST.messages,
        temperature: 0,
        max_tokens: 100,
        seed: 3,
        response_format: { type: 'json_schema', json_schema: { name: 'acts', strict: true, schema: { type: 'object' } } },
        provider: { order: ['a'], require_parameters: true },
        usage: { include: true },
      },
    ],
    ['reasoning, OpenRouter shape', { ...REQUEST, reasoning: { effort: 'none' as const } }, 'openrouter', { model: 'test/model', messages: REQUEST.messages, temperature: 0, max_tokens: 100, reasoning: { effort: 'none' }, usage: { include: true } }],
    ['reasoning, OpenAI shape', { ...REQUEST, reasoning: { effort: 'low' as const } }, 'openai', { model: 'test/model', messages: REQUEST.messages, temperature: 0, max_tokens: 100, reasoning_effort: 'low' }],
  ] as const)('%s', (_, request, flavor, body) => {
    expect(requestBody(request as CompletionRequest, flavor)).toEqual(body);
  });

  test('base URLs: trailing slashes dropped, bad ones refused, the dialect guessed from the host', () => {
    expect(normalizeBaseUrl('https://openrouter.ai/api/v1/')).toBe('https://openrouter.ai/api/v1');
    expect(flavorOf('https://openrouter.ai/api/v1')).toBe('openrouter');
    expect(flavorOf('http://127.0.0.1:8000/v1')).toBe('openai');
    for (const bad of ['openrouter.ai', 'ftp://x/v1', `https://user:${KEY}@host/v1`]) expect(() => normalizeBaseUrl(bad)).toThrow();
  });

  test('requests go to <base>/chat/completions with the key in the Authorization header only', async () => {
    const { fetch, seen } = answering(ok({ content: 'hi' }));
    await createLlmClient({ baseUrl: 'https://llm.test/api/v1/', apiKey: KEY, fetch, flavor: 'openrouter' }).complete(REQUEST);
    expect(seen[0]!.url).toBe('https://llm.test/api/v1/chat/completions');
    const headers = seen[0]!.init.headers as Record<string, string>;
    expect(headers.Authorization).toBe(`Bearer ${KEY}`);
    expect(Object.entries(headers).filter(([, v]) => v.includes(KEY)).map(([k]) => k)).toEqual(['Authorization']);
    expect(String(seen[0]!.init.body)).not.toContain(KEY);
  });
});

describe('answers', () => {
  test('text, finish reason, usage with cost, model and provider', async () => {
    const completion = await createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: answering(ok({ content: 'an answer' })).fetch }).complete(REQUEST);
    expect(completion).toEqual({ text: 'an answer', finishReason: 'stop', usage: { promptTokens: 120, completionTokens: 7, cost: 0.00042 }, model: 'test/model', provider: 'Prov', attempts: 1 });
  });

  test('content given as parts is joined; usage without cost has none', async () => {
    const body = { choices: [{ message: { content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1 } };
    const completion = await createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: answering(body).fetch }).complete(REQUEST);
    expect(completion.text).toBe('ab');
    expect(completion.usage).toEqual({ promptTokens: 1, completionTokens: 1 });
  });

  test('log-probabilities asked for come back, with their alternatives', async () => {
    const logprobs = { content: [{ token: '1', logprob: -0.1, top_logprobs: [{ token: '1', logprob: -0.1 }, { token: '0', logprob: -2.4 }] }] };
    const completion = await createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: answering(ok({ content: '1' }, { logprobs })).fetch }).complete({ ...REQUEST, topLogprobs: 2 });
    expect(completion.logprobs).toEqual([{ token: '1', logprob: -0.1, top: [{ token: '1', logprob: -0.1 }, { token: '0', logprob: -2.4 }] }]);
  });

  test.each([
    ['null (a :free model)', null],
    ['an empty list', { content: [] }],
    ['absent', undefined],
  ])('log-probabilities asked for but %s: llm/no-logprobs, not retried', async (_, logprobs) => {
    const { fetch, seen } = answering(ok({ content: '1' }, { logprobs }));
    const failed = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', fetch }).complete({ ...REQUEST, topLogprobs: 5 }));
    expect(errorCode(failed)).toBe('llm/no-logprobs');
    expect(seen.length).toBe(1);
  });

  test('JSON asked for: parsed (code fences allowed), or llm/bad-json with the text kept', async () => {
    const parsed = await createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: answering(ok({ content: '```json\n{"a": [1, 2]}\n```' })).fetch }).complete({ ...REQUEST, json: true });
    expect(parsed.json).toEqual({ a: [1, 2] });
    const failed = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: answering(ok({ content: 'a: 1, 2' })).fetch, retry: NO_RETRY }).complete({ ...REQUEST, json: true }));
    expect(errorCode(failed)).toBe('llm/bad-json');
    expect((failed as { text?: string }).text).toBe('a: 1, 2');
    expect(parseJsonAnswer('{"x":1}')).toEqual({ value: { x: 1 } });
    expect(parseJsonAnswer('nope')).toBeUndefined();
  });

  test('a cut answer says how to fix it and keeps its text and usage', async () => {
    const failed = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: answering(ok({ content: 'Step 1: the' }, { finish_reason: 'length' })).fetch }).complete(REQUEST));
    expect(errorCode(failed)).toBe('llm/truncated');
    expect(failed.message).toMatch(/max_tokens \(100\)/);
    expect(failed.message).toMatch(/reasoning effort/);
    expect(failed).toMatchObject({ text: 'Step 1: the', usage: { promptTokens: 120, completionTokens: 7, cost: 0.00042 } });
  });

  test('"this model cannot do X on any provider" names what was asked for', async () => {
    const body = { error: { code: 404, message: 'No endpoints found that can handle the requested parameters.', availability: { code: 'constraint_filtered' } } };
    const failed = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', fetch: answering(body, 404).fetch }).complete({ ...REQUEST, topLogprobs: 5, json: true }));
    expect(errorCode(failed)).toBe('llm/unsupported');
    expect(failed.message).toMatch(/test\/model cannot do token log-probabilities \(logprobs\) and JSON output \(response_format\) on any provider/);
  });
});

describe('the key never leaks', () => {
  test.each([
    ['401 echoing the key', 401, { error: { code: 401, message: `Key ${KEY} is not valid` } }],
    ['400 echoing the key', 400, { error: { code: 400, message: `bad request for ${KEY}` } }],
    ['500 echoing the key', 500, { error: { code: 500, message: `crash ${KEY}` } }],
  ])('%s: blanked out of the message', async (_, status, body) => {
    const failed = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', apiKey: KEY, fetch: answering(body, status).fetch, retry: NO_RETRY }).complete(REQUEST));
    expect(failed.message).not.toContain(KEY);
    expect(failed.message).toContain('[api key]');
    expect(JSON.stringify(failed)).not.toContain(KEY);
  });

  test('a network error quoting the key, the client object and a completion: no key', async () => {
    const throwing = (async () => {
      throw new TypeError(`fetch failed for Bearer ${KEY}`);
    }) as typeof fetch;
    const failed = await failure(() => createLlmClient({ baseUrl: 'https://llm.test/v1', apiKey: KEY, fetch: throwing, retry: NO_RETRY }).complete(REQUEST));
    expect(errorCode(failed)).toBe('llm/network');
    expect(failed.message).not.toContain(KEY);
    const client = createLlmClient({ baseUrl: 'https://llm.test/v1', apiKey: KEY, fetch: answering(ok({ content: 'x' })).fetch });
    expect(JSON.stringify(client)).not.toContain(KEY);
    expect(Object.values(client).map(String).join()).not.toContain(KEY);
    expect(JSON.stringify(await client.complete(REQUEST))).not.toContain(KEY);
  });
});
