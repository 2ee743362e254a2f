/**
 * The LLM stand-in over real HTTP on 127.0.0.1: its routes and CORS, answers to the project's prompts
 * (explanations from the marked tokens; classifier and simulation prompts from the explanation's
 * words), usage and cost, log-probabilities, every fault kind on demand, the seeded fraction of faults
 * (deterministic whatever the order), latency, and the request log.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FAULT_KINDS, startLlmServer, STAND_IN_MODELS, TRANSIENT_FAULTS, type LlmServer } from '../../../scripts/servers/llm-server.ts';
import { defaultExplainer, explainSettings } from '../../../src/lib/explainers/index.ts';
import { topicRecord, wordTokenizer } from '../explainers/fixtures.ts';

let server: LlmServer;
beforeAll(async () => {
  server = await startLlmServer();
});
afterAll(() => server.close());

const KEY = 'sk-test';
type Message = { role: string; content: string };

async function chat(body: Record<string, unknown>, options: { path?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
  const response = await fetch(`${server.url}${options.path ?? '/api/v1/chat/completions'}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json', ...options.headers },
    body: JSON.stringify({ model: 'stand-in/explainer', ...body }),
    signal: options.signal,
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

const ask = (messages: Message[], extra: Record<string, unknown> = {}) => chat({ messages, ...extra });
const content = (json: any): string => json.choices[0].message.content;

describe('routes', () => {
  test('CORS preflight allows the app to send its headers', async () => {
    const response = await fetch(`${server.url}/api/v1/chat/completions`, { method: 'OPTIONS' });
    expect(response.status).toBe(204);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
    const answered = await ask([{ role: 'user', content: 'hi' }]);
    expect(answered.headers.get('access-control-allow-origin')).toBe('*');
  });

  test('models in both dialects', async () => {
    const openRouter = await (await fetch(`${server.url}/api/v1/models`)).json();
    expect(openRouter.data[0]).toMatchObject({ id: 'stand-in/explainer', pricing: { prompt: String(2 ** -20), completion: String(2 ** -19) }, supported_parameters: expect.arrayContaining(['logprobs']) });
    const openAi = await (await fetch(`${server.url}/v1/models`)).json();
    expect(openAi).toMatchObject({ object: 'list', data: [{ id: 'stand-in/explainer', object: 'model' }, {}, {}] });
  });

  test('unknown routes and models, missing keys', async () => {
    expect((await fetch(`${server.url}/nope`)).status).toBe(404);
    expect((await chat({ model: 'who/knows', messages: [] })).status).toBe(400);
    const noKey = await fetch(`${server.url}/api/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'stand-in/explainer', messages: [] }) });
    expect(noKey.status).toBe(401);
    // The plain OpenAI-compatible path needs no key unless keys are configured (as a local vLLM).
    const local = await fetch(`${server.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'stand-in/explainer', messages: [{ role: 'user', content: 'x' }] }) });
    expect(local.status).toBe(200);
  });

  test('every request is recorded: method, path, headers, body, status, usage', async () => {
    const before = server.requests.length;
    await ask([{ role: 'user', content: 'record me' }], { temperature: 0 });
    const recorded = server.requests.slice(before);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ method: 'POST', path: '/api/v1/chat/completions', headers: { authorization: `Bearer ${KEY}` }, body: { temperature: 0, messages: [{ content: 'record me' }] }, status: 200 });
    expect(recorded[0]!.usage).toEqual({ prompt_tokens: 3, completion_tokens: expect.any(Number), cost: expect.any(Number) });
  });
});

describe('answers', () => {
  test('an explanation prompt: the most frequent marked tokens', async () => {
    const tokenizer = wordTokenizer();
    const record = topicRecord(tokenizer, 0, 'violin');
    const messages = defaultExplainer.messages(record, tokenizer, explainSettings());
    const { json } = await ask(messages);
    expect(content(json)).toBe('[EXPLANATION]: the word "violin"');
    const mixed = [messages[0]!, { role: 'user', content: 'Example 1: a <<violin>> and a <<cello>>\n\nExample 2: the <<violin>> again\n\nExample 3: <<Drum>>' }];
    expect(content((await ask(mixed)).json)).toBe('[EXPLANATION]: the word "violin" and related words such as "cello", "drum"');
    const cot = [{ role: 'system', content: `${messages[0]!.content}\nStep 1 (tokens)` }, mixed[1]!];
    expect(content((await ask(cot)).json)).toMatch(/^Step 1 \(tokens\): "violin", "cello", "drum"\.\n[\s\S]*\n\[EXPLANATION\]: the word "violin"/);
  });

  test('a classifier prompt (detection, fuzzing): a list of 0s and 1s from the explanation words', async () => {
    const system = { role: 'system', content: 'Decide for each numbered example whether it fits the explanation. Answer with a list of 0s and 1s, one per example.' };
    const detection = { role: 'user', content: 'Explanation: mentions of a violin\n\nExample 1: She tuned her violin.\nExample 2: The market closed early.\nExample 3: Violin lessons are on Monday.' };
    expect(content((await ask([system, detection])).json)).toBe('[1, 0, 1]');
    const fuzzing = { role: 'user', content: 'Explanation: mentions of a violin\n\n1. She tuned her <<violin>>.\n2. The <<market>> closed early.\n3. <<Violin>> and <<piano>> lessons.\n4. nothing marked here' };
    expect(content((await ask([system, fuzzing])).json)).toBe('[1, 0, 0, 0]');
  });

  test('an explanation that quotes tokens is judged by them: whole words, punctuation anywhere (so the demo\'s punctuation features score)', async () => {
    const system = { role: 'system', content: 'Decide for each numbered example whether it fits the explanation. Answer with a list of 0s and 1s, one per example.' };
    const detection = { role: 'user', content: 'Explanation: the word "," and related words such as "and"\n\nExample 1: red, green\nExample 2: no such marks here\nExample 3: this and that\nExample 4: candy land' };
    expect(content((await ask([system, detection])).json)).toBe('[1, 0, 1, 0]');
    const simulation = { role: 'user', content: 'Explanation: the word "," and related words such as "and"\n\nred\tunknown\n,\tunknown\n and\tunknown\n band\tunknown' };
    expect(content((await ask([simulation])).json)).toBe('red\t0\n,\t10\n and\t10\n band\t0');
  });

  test('a simulation prompt: tokens back with values, as lines or JSON; log-probabilities over 0..10', async () => {
    const user = { role: 'user', content: 'Explanation: the word violin\n\nThe\tunknown\n violin\tunknown\n played\tunknown' };
    const lines = await ask([user], { logprobs: true, top_logprobs: 11 });
    expect(content(lines.json)).toBe('The\t0\n violin\t10\n played\t0');
    const values = lines.json.choices[0].logprobs.content.filter((entry: { top_logprobs: { token: string }[] }) => entry.top_logprobs.every((t) => /^\d+$/.test(t.token)));
    expect(values.map((entry: { token: string }) => entry.token)).toEqual(['0', '10', '0']);
    const p = values[1].top_logprobs.map((t: { logprob: number }) => Math.exp(t.logprob));
    expect(p.reduce((a: number, b: number) => a + b, 0)).toBeCloseTo(1, 10);
    const json = await ask([user], { response_format: { type: 'json_object' } });
    expect(JSON.parse(content(json.json))).toEqual({ activations: [{ token: 'The', activation: 0 }, { token: ' violin', activation: 10 }, { token: ' played', activation: 0 }] });
  });

  test('usage: a token per four characters; cost at the model prices on OpenRouter paths only', async () => {
    const messages = [{ role: 'user', content: 'x'.repeat(40) }];
    const { json } = await ask(messages);
    const { prompt_tokens, completion_tokens, cost } = json.usage;
    expect(prompt_tokens).toBe(10);
    expect(completion_tokens).toBe(Math.ceil(content(json).length / 4));
    expect(cost).toBe(prompt_tokens * STAND_IN_MODELS[0]!.prompt + completion_tokens * STAND_IN_MODELS[0]!.completion);
    const plain = await chat({ messages }, { path: '/v1/chat/completions' });
    expect(plain.json.usage.cost).toBeUndefined();
  });

  test('log-probabilities: top_logprobs alternatives; none from a :free model', async () => {
    const { json } = await ask([{ role: 'user', content: 'hi' }], { logprobs: true, top_logprobs: 4 });
    for (const entry of json.choices[0].logprobs.content) expect(entry.top_logprobs).toHaveLength(4);
    const free = await ask([{ role: 'user', content: 'hi' }], { model: 'stand-in/explainer:free', logprobs: true, top_logprobs: 4 });
    expect(free.json.choices[0].logprobs).toBeNull();
    const plain = await ask([{ role: 'user', content: 'hi' }]);
    expect(plain.json.choices[0].logprobs).toBeNull();
  });

  test('an answer longer than max_tokens is cut there (finish_reason length)', async () => {
    const { json } = await ask([{ role: 'user', content: 'hi' }], { max_tokens: 3 });
    expect(json.choices[0].finish_reason).toBe('length');
    expect(content(json).length).toBeLessThanOrEqual(12);
  });

  test('require_parameters: a model without logprobs gets 404 constraint_filtered', async () => {
    const { status, json } = await ask([{ role: 'user', content: 'hi' }], { model: 'stand-in/no-logprobs', logprobs: true, provider: { require_parameters: true } });
    expect(status).toBe(404);
    expect(json.error.availability.code).toBe('constraint_filtered');
  });
});

describe('faults', () => {
  const hi = [{ role: 'user', content: 'hi' }];

  test.each([
    ['rate-limit', 429, (r: Awaited<ReturnType<typeof chat>>) => expect(r.headers.get('retry-after')).toBe('1')],
    ['server-error', 500, undefined],
    ['unauthorized', 401, undefined],
    ['no-credits', 402, (r: Awaited<ReturnType<typeof chat>>) => expect(r.json.error.metadata.limit_source).toBe('openrouter_credits')],
    ['in-flight', 402, (r: Awaited<ReturnType<typeof chat>>) => expect([r.json.error.metadata.limit_source, r.headers.get('retry-after')]).toEqual(['openrouter_in_flight_budget', '1'])],
    ['unsupported', 404, (r: Awaited<ReturnType<typeof chat>>) => expect(r.json.error.availability.code).toBe('constraint_filtered')],
    ['malformed', 200, (r: Awaited<ReturnType<typeof chat>>) => expect(r.json).toBeUndefined()],
    ['empty', 200, (r: Awaited<ReturnType<typeof chat>>) => expect([content(r.json), r.json.choices[0].finish_reason]).toEqual(['', 'stop'])],
    ['nonsense', 200, (r: Awaited<ReturnType<typeof chat>>) => expect(content(r.json)).not.toContain('[EXPLANATION]')],
    ['truncated', 200, (r: Awaited<ReturnType<typeof chat>>) => expect(r.json.choices[0].finish_reason).toBe('length')],
  ])('%s, by header and by model suffix', async (kind, status, check) => {
    for (const how of [{ headers: { 'x-fault': kind } }, { model: `stand-in/explainer:fault-${kind}` }]) {
      const result = await chat({ messages: hi, model: how.model ?? 'stand-in/explainer' }, { headers: how.headers });
      expect(result.status).toBe(status);
      check?.(result);
      expect(server.requests.at(-1)!.fault).toBe(kind);
    }
  });

  test('timeout: never answers', async () => {
    const started = Date.now();
    await expect(chat({ messages: hi }, { headers: { 'x-fault': 'timeout' }, signal: AbortSignal.timeout(300) })).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  });

  test('kind*N: only the first N times the same body comes', async () => {
    const body = { messages: [{ role: 'user', content: 'twice then fine' }] };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await chat(body, { headers: { 'x-fault': 'server-error*2' } })).status);
    expect(statuses).toEqual([500, 500, 200, 200]);
  });

  test('every kind is known to the table and the transient ones are a subset', () => {
    expect(FAULT_KINDS).toEqual(expect.arrayContaining([...TRANSIENT_FAULTS]));
  });

  test('a seeded fraction: about the rate, and the same faults whatever the order of requests', async () => {
    const bodies = Array.from({ length: 200 }, (_, i) => ({ messages: [{ role: 'user', content: `request ${i}` }] }));
    const faultsOf = async (order: number[]) => {
      const other = await startLlmServer({ faults: { rate: 0.3, seed: 5 } });
      const url = other.url;
      const send = (i: number) => fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'stand-in/explainer', ...bodies[i] }), signal: AbortSignal.timeout(1000) }).then((r) => r.text()).catch(() => undefined);
      // In batches, so that every request reaches the server before its time-out (time-out faults never answer).
      for (let at = 0; at < order.length; at += 40) await Promise.all(order.slice(at, at + 40).map(send));
      const byBody = new Map(other.requests.map((r) => [JSON.stringify(r.body), r.fault ?? 'none']));
      await other.close();
      return bodies.map((b) => byBody.get(JSON.stringify({ model: 'stand-in/explainer', ...b })));
    };
    const forward = await faultsOf(bodies.map((_, i) => i));
    const backward = await faultsOf(bodies.map((_, i) => 199 - i));
    expect(backward).toEqual(forward);
    const faulty = forward.filter((f) => f !== 'none').length;
    expect(faulty).toBeGreaterThan(40);
    expect(faulty).toBeLessThan(80);
    expect(new Set(forward.filter((f) => f !== 'none'))).toEqual(new Set(TRANSIENT_FAULTS));
  });

  test('setFaults switches them on and off; latency is applied', async () => {
    server.setFaults({ rate: 1, kinds: ['server-error'] });
    expect((await chat({ messages: [{ role: 'user', content: 'a' }] })).status).toBe(500);
    server.setFaults(undefined);
    expect((await chat({ messages: [{ role: 'user', content: 'b' }] })).status).toBe(200);
    server.setLatency(150);
    const started = Date.now();
    await chat({ messages: [{ role: 'user', content: 'c' }] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(145);
    server.setLatency(0);
  });
});
