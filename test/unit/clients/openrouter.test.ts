/**
 * OpenRouter specifics against the stand-in over real HTTP (127.0.0.1): the model list with prices
 * and logprobs support, the key's limit and usage, the PKCE sign-in from verifier to a working key,
 * and requests that need logprobs routed only where they are honoured.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startLlmServer, type LlmServer } from '../../../scripts/servers/llm-server.ts';
import { authUrl, base64Url, codeChallenge, createCodeVerifier, exchangeCode, keyInfo, listModels, openRouterClient } from '../../../src/lib/clients/index.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { failure } from '../../support/async.ts';

let server: LlmServer;

beforeAll(async () => {
  server = await startLlmServer({ keys: ['sk-good'], creditLimit: 1 });
});
afterAll(() => server.close());

describe('PKCE', () => {
  test('RFC 7636 appendix B: the S256 challenge of its verifier', async () => {
    expect(await codeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });

  test('verifiers: 43 base64url characters, from the random source', () => {
    const verifier = createCodeVerifier();
    expect(verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(createCodeVerifier()).not.toBe(verifier);
    expect(createCodeVerifier((bytes) => bytes.fill(255))).toBe('_'.repeat(42) + '8');
    expect(base64Url(new Uint8Array([251, 255]))).toBe('-_8');
  });

  test('the auth URL', () => {
    expect(authUrl('https://app.example/cb?x=1', 'CHAL')).toBe('https://openrouter.ai/auth?callback_url=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1&code_challenge=CHAL&code_challenge_method=S256');
  });

  test('round trip against the stand-in: redirect with a code, code and verifier for a key, the key works', async () => {
    const verifier = createCodeVerifier();
    const redirect = await fetch(authUrl('http://app.local/callback', await codeChallenge(verifier), server.url), { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const code = new URL(redirect.headers.get('location')!).searchParams.get('code')!;
    expect(new URL(redirect.headers.get('location')!).origin + new URL(redirect.headers.get('location')!).pathname).toBe('http://app.local/callback');
    // A wrong verifier is refused, and the error says what to do.
    const wrong = await failure(() => exchangeCode(code, createCodeVerifier(), { baseUrl: server.openRouterBase }));
    expect(errorCode(wrong)).toBe('llm/auth-exchange');
    expect(wrong.message).toMatch(/Sign in again/);
    const { key } = await exchangeCode(code, verifier, { baseUrl: server.openRouterBase });
    expect(key).toMatch(/^sk-stand-in-/);
    // The code is used up.
    expect(errorCode(await failure(() => exchangeCode(code, verifier, { baseUrl: server.openRouterBase })))).toBe('llm/auth-exchange');
    const exchange = server.requests.filter((r) => r.path === '/api/v1/auth/keys').at(-2)!;
    expect(exchange.body).toEqual({ code, code_verifier: verifier, code_challenge_method: 'S256' });
    const completion = await openRouterClient({ baseUrl: server.openRouterBase, apiKey: key }).complete({ model: 'stand-in/explainer', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.text.length).toBeGreaterThan(0);
  });
});

describe('models and key', () => {
  test('OpenRouter list: prices per token and logprobs support', async () => {
    const models = await listModels({ baseUrl: server.openRouterBase });
    expect(models.map((m) => [m.id, m.pricing, m.supportsLogprobs])).toEqual([
      ['stand-in/explainer', { prompt: 2 ** -20, completion: 2 ** -19 }, true],
      ['stand-in/explainer:free', { prompt: 0, completion: 0 }, true],
      ['stand-in/no-logprobs', { prompt: 2 ** -21, completion: 2 ** -20 }, false],
    ]);
  });

  test('OpenAI-compatible list: ids only, support unknown', async () => {
    const models = await listModels({ baseUrl: server.openAiBase, apiKey: 'sk-good' });
    expect(models[0]).toEqual({ id: 'stand-in/explainer' });
  });

  test('key: limit and usage, which grows with what the key spends', async () => {
    const before = await keyInfo({ baseUrl: server.openRouterBase, apiKey: 'sk-good' });
    expect(before).toMatchObject({ limit: 1, isFreeTier: false });
    const completion = await openRouterClient({ baseUrl: server.openRouterBase, apiKey: 'sk-good' }).complete({ model: 'stand-in/explainer', messages: [{ role: 'user', content: 'hello there' }] });
    const after = await keyInfo({ baseUrl: server.openRouterBase, apiKey: 'sk-good' });
    expect(after.usage - before.usage).toBe(completion.usage.cost);
    expect(after.limitRemaining).toBe(1 - after.usage);
    expect(errorCode(await failure(() => keyInfo({ baseUrl: server.openRouterBase, apiKey: 'sk-bad' })))).toBe('llm/unauthorized');
  });

  test('logprobs: routed where honoured, refused where no provider can, missing from a :free model', async () => {
    const client = openRouterClient({ baseUrl: server.openRouterBase, apiKey: 'sk-good', retry: { maxAttempts: 1 } });
    const request = { messages: [{ role: 'user' as const, content: 'say something' }], topLogprobs: 3 };
    const completion = await client.complete({ ...request, model: 'stand-in/explainer' });
    expect(completion.logprobs!.length).toBeGreaterThan(0);
    expect(completion.logprobs![0]!.top.length).toBe(3);
    const unsupported = await failure(() => client.complete({ ...request, model: 'stand-in/no-logprobs' }));
    expect(errorCode(unsupported)).toBe('llm/unsupported');
    expect(unsupported.message).toMatch(/stand-in\/no-logprobs cannot do token log-probabilities/);
    expect(errorCode(await failure(() => client.complete({ ...request, model: 'stand-in/explainer:free' })))).toBe('llm/no-logprobs');
  });
});
