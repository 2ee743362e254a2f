/**
 * Failures of an LLM call, as the API defines them (`{error: {code, message, metadata}}` with the HTTP
 * status), sorted into what to do: retry (408, 429, 5xx, a time-out, a broken or empty answer,
 * OpenRouter's in-flight-budget 402), give up on this call (400, 403, an answer cut by max_tokens), or
 * stop the whole run because no later call can succeed either (401, a 402 for no credits, a model that
 * cannot do what was asked on any provider, an endpoint that does not exist).
 *
 * Messages never contain the API key: every text that came from the server goes through `redact`.
 */
import { AppError, errorCode, type ErrorCode } from '../errors.ts';
import type { Failure, Usage } from './contract.ts';

export interface LlmErrorDetails {
  /** HTTP status, when a response came. */
  status?: number;
  retryable: boolean;
  /** How long the server asked us to wait before retrying (Retry-After or OpenRouter's metadata). */
  retryAfterMs?: number;
  /** What the failed call consumed so far (a cut or empty answer is billed). */
  usage?: Usage;
  /** The answer's text where one came (a cut answer, one that was not JSON). */
  text?: string;
  /** Attempts the call made before giving up. */
  attempts?: number;
}

export class LlmError extends AppError {
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  usage: Usage | undefined;
  readonly text: string | undefined;
  readonly attempts: number | undefined;

  constructor(code: ErrorCode, message: string, details: LlmErrorDetails) {
    super(code, message);
    this.status = details.status;
    this.retryable = details.retryable;
    this.retryAfterMs = details.retryAfterMs;
    this.usage = details.usage;
    this.text = details.text;
    this.attempts = details.attempts;
  }
}

/**
 * Codes after which no later call of the run can succeed: the run stops (new work is not started).
 * Read from the code, so the decision survives a worker boundary.
 */
const RUN_STOPPING: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['llm/unauthorized', 'llm/no-credits', 'llm/unsupported', 'llm/not-found', 'llm/budget']);

export const stopsRun = (error: unknown): boolean => {
  const code = errorCode(error);
  return code !== undefined && RUN_STOPPING.has(code);
};

/** The error as a stored failure (`kind: 'llm'`). */
export function llmFailure(error: unknown): Failure {
  return { kind: 'llm', code: errorCode(error) ?? 'llm/unknown', message: error instanceof Error ? error.message : String(error) };
}

/** `text` with every occurrence of `secret` replaced; a no-op without a secret. */
export function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join('[api key]') : text;
}

/** The API's error object, when the body is one. */
export interface ApiError {
  code?: number | string;
  message?: string;
  metadata?: Record<string, unknown>;
  availability?: { code?: string };
}

export function apiErrorOf(body: unknown): ApiError | undefined {
  const error = (body as { error?: unknown } | null)?.error;
  if (error && typeof error === 'object') return error as ApiError;
  if (typeof error === 'string') return { message: error };
  return undefined;
}

/** What a request asked for that the model might not do, for "this model cannot do X". */
export interface Capabilities {
  logprobs: boolean;
  json: boolean;
}

export interface ResponseContext {
  /** The endpoint's host, named in messages. */
  host: string;
  model: string;
  asked: Capabilities;
  key?: string;
  retryAfterMs?: number;
  usage?: Usage;
}

const NO_ENDPOINTS = /no endpoints? (found|available)|no (allowed )?providers? (are )?available|constraint/i;
const NO_CREDITS = /credit|balance|payment|insufficient|key limit|limit exceeded/i;
const IN_FLIGHT = /in[- ]flight/i;

function askedFor(asked: Capabilities): string {
  const what = [asked.logprobs && 'token log-probabilities (logprobs)', asked.json && 'JSON output (response_format)'].filter(Boolean);
  return what.length ? what.join(' and ') : 'the requested parameters';
}

/**
 * The error for an HTTP status and the body that came with it. Statuses outside the table are
 * treated by class: other 4xx as a bad request, other 5xx as a server error.
 */
export function errorFromResponse(status: number, body: unknown, context: ResponseContext): LlmError {
  const api = apiErrorOf(body);
  const said = redact((api?.message ?? '').trim(), context.key).slice(0, 500);
  const quote = said ? `: "${said}"` : '';
  const base = { status, retryAfterMs: context.retryAfterMs, usage: context.usage };
  const { host, model } = context;
  const metadata = api?.metadata ?? {};
  if (status === 401) {
    return new LlmError('llm/unauthorized', `${host} refused the API key (401${quote}). Check the key (or sign in again), then resume the run.`, { ...base, retryable: false });
  }
  if (status === 402) {
    const source = String(metadata.limit_source ?? '');
    const inFlight = source.includes('in_flight') || IN_FLIGHT.test(said) || (context.retryAfterMs !== undefined && !NO_CREDITS.test(said) && source === '');
    if (inFlight) return new LlmError('llm/rate-limited', `${host} is holding back requests until running ones settle (402 in-flight budget${quote}).`, { ...base, retryable: true });
    const keyLimit = source.includes('key_limit');
    return new LlmError(
      'llm/no-credits',
      `${keyLimit ? "The API key's credit limit" : 'The account'} at ${host} has no credits left (402${quote}). ${keyLimit ? "Raise the key's limit" : 'Add credits'}, then resume the run.`,
      { ...base, retryable: false },
    );
  }
  if (status === 403) {
    return new LlmError('llm/forbidden', `${host} refused this request for ${model} (403${quote}). The input may have been flagged by moderation, or the key may not be allowed to use this model.`, { ...base, retryable: false });
  }
  if (status === 404 || (status === 400 && NO_ENDPOINTS.test(said))) {
    const filtered = api?.availability?.code === 'constraint_filtered' || (metadata.availability as { code?: string } | undefined)?.code === 'constraint_filtered' || NO_ENDPOINTS.test(said);
    if (filtered) {
      return new LlmError('llm/unsupported', `The model ${model} cannot do ${askedFor(context.asked)} on any provider (${status}${quote}). Choose a model whose listing supports it, or turn the option off.`, { ...base, retryable: false });
    }
    return new LlmError('llm/not-found', `${host} does not know this path or the model ${model} (404${quote}). Check the base URL and the model id.`, { ...base, retryable: false });
  }
  if (status === 408) return new LlmError('llm/timeout', `${host} timed out on the request (408${quote}).`, { ...base, retryable: true });
  if (status === 429) return new LlmError('llm/rate-limited', `${host} is rate-limiting requests (429${quote}).`, { ...base, retryable: true });
  if (status >= 500) return new LlmError('llm/server', `${host} failed to answer (${status}${quote}); the model or its provider may be down.`, { ...base, retryable: true });
  return new LlmError('llm/bad-request', `${host} refused the request as invalid (${status}${quote}). Check the model id and the call's settings (max tokens, temperature).`, { ...base, retryable: false });
}
