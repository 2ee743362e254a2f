/**
 * The client for OpenAI-compatible chat completions (`<base>/chat/completions`): OpenRouter, vLLM,
 * llama.cpp, OpenAI itself. One immutable object per endpoint and key; every call's settings are in
 * its request. The key lives in this closure only (not on the object, so it cannot end up in a result
 * or a log by serialising the client), is sent only in the Authorization header and only to the base
 * URL, and is blanked out of every message.
 *
 * An answer is checked before it is returned: a body that is not JSON, an empty answer, one cut by
 * max_tokens (`finish_reason: "length"`), missing log-probabilities that were asked for, or JSON output
 * that does not parse are failures (LlmError), never text handed on as if it were an answer.
 */
import { AppError } from '../errors.ts';
import { addUsage, ZERO_USAGE, type Completion, type CompletionRequest, type LlmClient, type TokenLogprob, type TopLogprob, type Usage } from './contract.ts';
import { apiErrorOf, errorFromResponse, LlmError, type Capabilities } from './llm-error.ts';
import { defaultFetch, jsonHeaders, send } from './http.ts';
import { DEFAULT_RETRY, nextDelay, retryAfterMs, secondsText, type RetryPolicy } from './retry.ts';

/** `openrouter`: adds `provider.require_parameters` when logprobs or JSON are asked for, asks for usage accounting (cost), OpenRouter's reasoning shape. */
export type ApiFlavor = 'openrouter' | 'openai';

export interface LlmClientOptions {
  /** e.g. `https://openrouter.ai/api/v1`, `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>` to the base URL only. */
  apiKey?: string;
  /** Default: `openrouter` for openrouter.ai, else `openai`. */
  flavor?: ApiFlavor;
  /** Time limit of one attempt (ms); a request's own `timeoutMs` wins. Default 90 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** More headers for every request (OpenRouter's `HTTP-Referer` and `X-Title` name the app). */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

export const DEFAULT_TIMEOUT_MS = 90_000;

/** `url` without trailing slashes, checked. */
export function normalizeBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw new AppError('llm/bad-request', `"${url}" is not a URL. Give the endpoint's base URL, e.g. https://openrouter.ai/api/v1 or http://127.0.0.1:8000/v1.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new AppError('llm/bad-request', `The LLM endpoint must be an http(s) URL, not ${parsed.protocol}.`);
  if (parsed.username || parsed.password) throw new AppError('llm/bad-request', 'Put the API key in the key field, not in the URL.');
  return parsed.href.replace(/\/+$/, '');
}

export const flavorOf = (baseUrl: string): ApiFlavor => (new URL(baseUrl).hostname === 'openrouter.ai' ? 'openrouter' : 'openai');

/** The request body, as the API takes it. */
export function requestBody(request: CompletionRequest, flavor: ApiFlavor): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request.extra, model: request.model, messages: request.messages.map(({ role, content }) => ({ role, content })) };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (request.topLogprobs !== undefined) {
    body.logprobs = true;
    if (request.topLogprobs > 0) body.top_logprobs = request.topLogprobs;
  }
  if (request.json === true) body.response_format = { type: 'json_object' };
  else if (request.json) body.response_format = { type: 'json_schema', json_schema: { name: request.json.name, strict: true, schema: request.json.schema } };
  if (request.reasoning) {
    if (flavor === 'openrouter') {
      const { effort, maxTokens, exclude } = request.reasoning;
      body.reasoning = { ...(effort && { effort }), ...(maxTokens !== undefined && { max_tokens: maxTokens }), ...(exclude !== undefined && { exclude }) };
    } else if (request.reasoning.effort) {
      body.reasoning_effort = request.reasoning.effort;
    }
  }
  if (flavor === 'openrouter') {
    if (request.topLogprobs !== undefined || request.json) body.provider = { ...(request.extra?.provider as object | undefined), require_parameters: true };
    body.usage = { include: true };
  }
  return body;
}

/** Beyond these a reported figure is not one call's: no model reads that many tokens or costs that much a call. */
const MOST_TOKENS_PER_CALL = 100_000_000;
const MOST_DOLLARS_PER_CALL = 1000;

/**
 * The usage an answer reports. Figures a server cannot mean (negative, fractional or absurd token
 * counts, a negative, non-numeric or absurd cost) are not believed, so that no answer can lower a
 * budget's count or blow up a total: the call is marked `untrusted`, its tokens become `estimate` (from
 * the text; 0 without one) and its cost is left out (it is then priced at the model's listed prices).
 */
export function usageOf(body: unknown, estimate?: () => { promptTokens: number; completionTokens: number }): Usage {
  const usage = (body as { usage?: Record<string, unknown> } | null)?.usage;
  if (!usage || typeof usage !== 'object') return { ...ZERO_USAGE };
  const count = (value: unknown) => value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MOST_TOKENS_PER_CALL);
  const dollars = (value: unknown) => value === undefined || value === null || (typeof value === 'number' && value >= 0 && value <= MOST_DOLLARS_PER_CALL);
  if (count(usage.prompt_tokens) && count(usage.completion_tokens) && dollars(usage.cost)) {
    const out: Usage = { promptTokens: (usage.prompt_tokens as number | undefined) ?? 0, completionTokens: (usage.completion_tokens as number | undefined) ?? 0 };
    if (typeof usage.cost === 'number') out.cost = usage.cost;
    return out;
  }
  const said = JSON.stringify({ prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, cost: usage.cost });
  return { ...(estimate?.() ?? ZERO_USAGE), untrusted: said.length > 200 ? `${said.slice(0, 200)}...` : said };
}

/** Tokens of a text, roughly (4 characters a token): for usage a server reported wrong. */
const roughTokens = (text: string) => Math.ceil(text.length / 4);

function logprobsOf(choice: Record<string, unknown>): TokenLogprob[] | undefined {
  const content = (choice.logprobs as { content?: unknown } | null | undefined)?.content;
  if (!Array.isArray(content) || content.length === 0) return undefined;
  const top = (entry: unknown): TopLogprob => ({ token: String((entry as TopLogprob).token), logprob: Number((entry as TopLogprob).logprob) });
  return content.map((entry: { top_logprobs?: unknown[] }) => ({ ...top(entry), top: Array.isArray(entry.top_logprobs) ? entry.top_logprobs.map(top) : [] }));
}

function contentOf(message: unknown): string {
  const content = (message as { content?: unknown } | undefined)?.content;
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : '')).join('');
  return '';
}

/** The text with a Markdown code fence around it removed, parsed as JSON; undefined when it does not parse. */
export function parseJsonAnswer(text: string): { value: unknown } | undefined {
  const fenced = /^\s*```(?:json)?\s*\n?([\s\S]*?)\n?```\s*$/i.exec(text);
  try {
    return { value: JSON.parse(fenced ? fenced[1]! : text) };
  } catch {
    return undefined;
  }
}

/** The status an error inside a 200 answer stands for (OpenRouter reports errors met mid-answer that way). */
const statusOf = (code: unknown): number => (Number(code) >= 400 ? Number(code) : 502);

export function createLlmClient(options: LlmClientOptions): LlmClient {
  const baseUrl = normalizeBaseUrl(options.baseUrl);
  const host = new URL(baseUrl).host;
  const flavor = options.flavor ?? flavorOf(baseUrl);
  const key = options.apiKey?.trim() || undefined;
  const fetchFn = options.fetch ?? defaultFetch;
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const defaultTimeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const headers = jsonHeaders(key, options.headers);
  const cancelled = () => new AppError('cancelled', 'The LLM call was cancelled.');

  async function attemptOnce(request: CompletionRequest, signal: AbortSignal | undefined): Promise<Omit<Completion, 'attempts'>> {
    const asked: Capabilities = { logprobs: request.topLogprobs !== undefined, json: request.json !== undefined };
    const { response, text, body } = await send(
      `${baseUrl}/chat/completions`,
      { method: 'POST', headers, body: JSON.stringify(requestBody(request, flavor)) },
      { fetch: fetchFn, timeoutMs: request.timeoutMs ?? defaultTimeout, signal, key },
    );
    const estimate = () => ({
      promptTokens: roughTokens(request.messages.map((m) => m.content).join('')),
      completionTokens: roughTokens(contentOf((body as { choices?: { message?: unknown }[] } | null)?.choices?.[0]?.message)),
    });
    const context = { host, model: request.model, asked, key, retryAfterMs: retryAfterMs(response.headers, body, policy.now()), usage: usageOf(body, estimate) };
    if (!response.ok) throw errorFromResponse(response.status, body, context);
    if (body === undefined || body === null || typeof body !== 'object') {
      throw new LlmError('llm/bad-response', `The answer from ${host} was not JSON (${response.status}, ${text.length} bytes).`, { status: response.status, retryable: true });
    }
    const api = apiErrorOf(body);
    if (api) throw errorFromResponse(statusOf(api.code), body, context);
    const usage = context.usage;
    const choice = (body as { choices?: unknown[] }).choices?.[0] as Record<string, unknown> | undefined;
    if (!choice) throw new LlmError('llm/bad-response', `The answer from ${host} has no choices.`, { status: response.status, retryable: true, usage });
    if (choice.error) throw errorFromResponse(statusOf((choice.error as { code?: unknown }).code), { error: choice.error }, context);
    const answer = contentOf(choice.message);
    const finishReason = String(choice.finish_reason ?? 'stop');
    const details = { status: response.status, usage, text: answer };
    if (finishReason === 'length') {
      throw new LlmError(
        'llm/truncated',
        `The answer of ${request.model} was cut at max_tokens (${request.maxTokens ?? 'the default'}) before it ended. Allow more tokens${request.reasoning ? '' : ", or for a reasoning model set its reasoning effort to 'none'"}.`,
        { ...details, retryable: false },
      );
    }
    if (finishReason === 'error') throw new LlmError('llm/server', `${request.model} failed while answering (finish_reason "error").`, { ...details, retryable: true });
    if (answer.trim() === '') throw new LlmError('llm/empty', `${request.model} returned an empty answer.`, { ...details, retryable: true });
    const completion: Omit<Completion, 'attempts'> = { text: answer, finishReason, usage };
    if (typeof (body as { model?: unknown }).model === 'string') completion.model = (body as { model: string }).model;
    if (typeof (body as { provider?: unknown }).provider === 'string') completion.provider = (body as { provider: string }).provider;
    if (asked.logprobs) {
      const logprobs = logprobsOf(choice);
      if (!logprobs) {
        throw new LlmError(
          'llm/no-logprobs',
          `${request.model} answered without the token log-probabilities that were asked for (":free" variants and some providers drop them). Choose a model and provider that return them, or turn them off.`,
          { ...details, retryable: false },
        );
      }
      completion.logprobs = logprobs;
    }
    if (asked.json) {
      const parsed = parseJsonAnswer(answer);
      if (!parsed) throw new LlmError('llm/bad-json', `${request.model} was asked for JSON and answered with text that does not parse as JSON.`, { ...details, retryable: false });
      completion.json = parsed.value;
    }
    return completion;
  }

  async function complete(request: CompletionRequest, signal?: AbortSignal): Promise<Completion> {
    let spent: Usage = { ...ZERO_USAGE };
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw cancelled();
      try {
        const completion = await attemptOnce(request, signal);
        return { ...completion, usage: addUsage(spent, completion.usage), attempts: attempt };
      } catch (error) {
        if (!(error instanceof LlmError)) throw error;
        if (error.usage) spent = addUsage(spent, error.usage);
        const delay = nextDelay(error, attempt, policy);
        if (delay === undefined) {
          let message = error.message;
          if (error.retryable && error.retryAfterMs !== undefined && error.retryAfterMs > policy.maxRetryAfterMs) message += ` It asked to wait ${secondsText(error.retryAfterMs)}, longer than the ${secondsText(policy.maxRetryAfterMs)} a call waits.`;
          else if (error.retryable && attempt > 1) message += ` Gave up after ${attempt} attempts.`;
          throw new LlmError(error.code, message, { status: error.status, retryable: error.retryable, retryAfterMs: error.retryAfterMs, usage: spent, text: error.text, attempts: attempt });
        }
        await policy.sleep(delay, signal);
      }
    }
  }

  return Object.freeze({ baseUrl, complete });
}
