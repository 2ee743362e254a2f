/**
 * One HTTP exchange with an LLM endpoint: the time limit (AbortSignal.timeout, joined with the
 * caller's signal), the body read and parsed, and transport failures named (time-out, network) with
 * the key blanked out. Used by the chat client and by the small OpenRouter calls (models, key, PKCE).
 */
import { AppError } from '../errors.ts';
import { LlmError, redact } from './llm-error.ts';
import { secondsText } from './retry.ts';

export interface Exchange {
  response: Response;
  text: string;
  /** The body parsed as JSON; undefined when it is not JSON. */
  body: unknown;
}

export interface SendOptions {
  fetch: typeof fetch;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Blanked out of messages. */
  key?: string;
}

export const defaultFetch: typeof fetch = (...args) => globalThis.fetch(...args);

/** In a page (or its workers) the browser may refuse a reply for CORS; in Node (the commands) there is no page. */
const IN_NODE = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';

export async function send(url: string, init: RequestInit, options: SendOptions): Promise<Exchange> {
  const host = new URL(url).host;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let response: Response;
  let text: string;
  try {
    response = await options.fetch(url, { ...init, signal });
    text = await response.text();
  } catch (error) {
    if (options.signal?.aborted) throw new AppError('cancelled', 'The LLM call was cancelled.');
    if (timeout.aborted) throw new LlmError('llm/timeout', `No answer from ${host} within ${secondsText(options.timeoutMs)}.`, { retryable: true });
    const why = redact(error instanceof Error ? error.message : String(error), options.key);
    const check = IN_NODE ? 'Check the base URL and the connection.' : 'Check the base URL and the connection, and that the endpoint accepts requests from this page (CORS).';
    throw new LlmError('llm/network', `Could not reach ${host} (${why}). ${check}`, { retryable: true });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { response, text, body };
}

/** Authorization (when there is a key) and JSON content type. */
export function jsonHeaders(key: string | undefined, extra?: Record<string, string>): Record<string, string> {
  const headers: Record<string, string> = { ...extra, 'Content-Type': 'application/json' };
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}
