/**
 * OpenRouter specifics beyond chat completions: the model list with prices and supported parameters
 * (`GET /models`, which any OpenAI-compatible server also answers, without prices), the key's limit and
 * usage (`GET /key`), and a client preset for openrouter.ai.
 */
import { AppError } from '../errors.ts';
import type { LlmClient } from './contract.ts';
import { defaultFetch, jsonHeaders, send } from './http.ts';
import { errorFromResponse } from './llm-error.ts';
import { createLlmClient, normalizeBaseUrl, type LlmClientOptions } from './openai-compatible.ts';

export const OPENROUTER_API = 'https://openrouter.ai/api/v1';

/** A chat client for OpenRouter (or a stand-in at `baseUrl` that speaks its dialect). */
export function openRouterClient(options: Omit<LlmClientOptions, 'baseUrl' | 'flavor'> & { baseUrl?: string }): LlmClient {
  return createLlmClient({ ...options, baseUrl: options.baseUrl ?? OPENROUTER_API, flavor: 'openrouter' });
}

/** Dollars per token. */
export interface Pricing {
  prompt: number;
  completion: number;
}

export interface ModelInfo {
  id: string;
  name?: string;
  contextLength?: number;
  /** Where the endpoint lists prices (OpenRouter); `0` for free models. */
  pricing?: Pricing;
  /** Where the endpoint lists them (OpenRouter): the request parameters some provider of the model honours. */
  supportedParameters?: string[];
  /** True/false where the endpoint says; undefined where it does not list parameters. */
  supportsLogprobs?: boolean;
  supportsJson?: boolean;
}

export interface EndpointOptions {
  baseUrl?: string;
  apiKey?: string;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  timeoutMs?: number;
}

const price = (value: unknown): number | undefined => {
  const n = typeof value === 'string' ? Number(value) : typeof value === 'number' ? value : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
};

/** One entry of a `/models` answer, OpenRouter's or OpenAI's shape. */
export function modelInfoOf(entry: Record<string, unknown>): ModelInfo {
  const info: ModelInfo = { id: String(entry.id) };
  if (typeof entry.name === 'string') info.name = entry.name;
  if (typeof entry.context_length === 'number') info.contextLength = entry.context_length;
  const pricing = entry.pricing as Record<string, unknown> | undefined;
  const prompt = price(pricing?.prompt);
  const completion = price(pricing?.completion);
  if (prompt !== undefined && completion !== undefined) info.pricing = { prompt, completion };
  if (Array.isArray(entry.supported_parameters)) {
    const parameters = entry.supported_parameters.map(String);
    info.supportedParameters = parameters;
    info.supportsLogprobs = parameters.includes('logprobs');
    info.supportsJson = parameters.includes('response_format') || parameters.includes('structured_outputs');
  }
  return info;
}

async function getJson(path: string, options: EndpointOptions, what: string): Promise<unknown> {
  const baseUrl = normalizeBaseUrl(options.baseUrl ?? OPENROUTER_API);
  const key = options.apiKey?.trim() || undefined;
  const { response, body } = await send(`${baseUrl}${path}`, { headers: jsonHeaders(key) }, { fetch: options.fetch ?? defaultFetch, timeoutMs: options.timeoutMs ?? 30_000, signal: options.signal, key });
  const host = new URL(baseUrl).host;
  if (!response.ok) throw errorFromResponse(response.status, body, { host, model: what, asked: { logprobs: false, json: false }, key });
  if (!body || typeof body !== 'object') throw new AppError('llm/bad-response', `${host} answered ${path} with something that is not JSON.`);
  return body;
}

/** The endpoint's models (`GET <base>/models`), sorted by id. */
export async function listModels(options: EndpointOptions = {}): Promise<ModelInfo[]> {
  const body = await getJson('/models', options, 'the model list');
  const data = (body as { data?: unknown }).data;
  if (!Array.isArray(data)) throw new AppError('llm/bad-response', 'The model list has no "data" array.');
  return data
    .filter((entry): entry is Record<string, unknown> => !!entry && typeof entry === 'object' && typeof (entry as { id?: unknown }).id === 'string')
    .map(modelInfoOf)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface KeyInfo {
  label?: string;
  /** Credit limit of the key in dollars; undefined when unlimited. */
  limit?: number;
  /** Dollars spent with the key, all time. */
  usage: number;
  /** Dollars left under the limit; undefined when unlimited. */
  limitRemaining?: number;
  isFreeTier?: boolean;
}

/** The key's limit and usage (`GET <base>/key`). */
export async function keyInfo(options: EndpointOptions & { apiKey: string }): Promise<KeyInfo> {
  const body = await getJson('/key', options, 'the API key');
  const data = (body as { data?: Record<string, unknown> }).data;
  if (!data || typeof data !== 'object') throw new AppError('llm/bad-response', 'The key answer has no "data" object.');
  const info: KeyInfo = { usage: price(data.usage) ?? 0 };
  if (typeof data.label === 'string') info.label = data.label;
  const limit = price(data.limit);
  if (limit !== undefined) info.limit = limit;
  const remaining = typeof data.limit_remaining === 'number' ? data.limit_remaining : undefined;
  if (remaining !== undefined) info.limitRemaining = remaining;
  if (typeof data.is_free_tier === 'boolean') info.isFreeTier = data.is_free_tier;
  return info;
}
