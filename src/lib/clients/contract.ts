/**
 * The LLM client contract: one request in, one completion out. Every setting of a call travels in the
 * request; a client holds only where to send it (base URL, key, fetch) and how to retry, never state
 * that one call could change for another. Records here are plain data (safe across a worker boundary).
 */

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** Ask for a JSON object (`true`: any object) or one that matches a JSON schema. */
export type JsonRequest = true | { name: string; schema: Record<string, unknown> };

export interface CompletionRequest {
  /** The model id as the endpoint names it, e.g. "meta-llama/llama-3.1-70b-instruct". */
  model: string;
  messages: readonly ChatMessage[];
  temperature?: number;
  /** Cap on the answer's tokens. Some providers refuse values under 16. */
  maxTokens?: number;
  /**
   * Log-probabilities of the generated tokens with this many alternatives per position (0 to 20).
   * Undefined: none asked for. When asked for, a completion without them is a failure (`llm/no-logprobs`).
   */
  topLogprobs?: number;
  json?: JsonRequest;
  /** Reasoning control for models that think before answering (`effort: 'none'` saves the answer's budget). */
  reasoning?: { effort?: 'none' | 'minimal' | 'low' | 'medium' | 'high'; maxTokens?: number; exclude?: boolean };
  /** Time limit of one attempt in milliseconds; the client's default when undefined. */
  timeoutMs?: number;
  /** More body fields sent as they are (`seed`, `top_p`, `stop`, ...). */
  extra?: Record<string, unknown>;
}

/** What the endpoint said a call consumed. `cost` (dollars) only where the endpoint reports it (OpenRouter). */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  cost?: number;
  /**
   * Set when the endpoint reported usage that cannot be one call's (negative, not a number, beyond any
   * model's context or price): what it said. The tokens are then an estimate from the text and the cost
   * is left out, so the call counts as uncosted, at the model's listed prices.
   */
  untrusted?: string;
}

export interface TopLogprob {
  token: string;
  logprob: number;
}

/** One generated token with its log-probability and the most likely alternatives at its position. */
export interface TokenLogprob extends TopLogprob {
  top: TopLogprob[];
}

export interface Completion {
  /** The answer's text, as the model wrote it. */
  text: string;
  /** `stop` for a finished answer (other values such as `length` are failures and never returned). */
  finishReason: string;
  /**
   * What this call consumed, summed over its attempts: an attempt whose answer was refused (empty,
   * cut short) and retried was paid for too. Counting these gives exactly what the endpoint billed.
   */
  usage: Usage;
  /** Present when `topLogprobs` was asked for (checked: never missing then). */
  logprobs?: TokenLogprob[];
  /** The answer parsed as JSON, when `json` was asked for. */
  json?: unknown;
  /** The model that answered, as the endpoint named it. */
  model?: string;
  /** The provider that served it (OpenRouter). */
  provider?: string;
  /** HTTP attempts this call took (1 when the first one succeeded). */
  attempts: number;
}

export interface LlmClient {
  /** Where requests go (no key in it), for results and messages. */
  readonly baseUrl: string;
  /**
   * One chat completion. Rejects with an LlmError (`llm/...` code; see llm-error.ts) once retries are
   * spent or the failure is not retryable, and with AppError `cancelled` when `signal` fires.
   */
  complete(request: CompletionRequest, signal?: AbortSignal): Promise<Completion>;
}

/**
 * A failure kept as a result (never as data that looks like one): a call that failed (`llm`, with its
 * error code), an answer that could not be read (`parse`), or nothing to ask about (`input`: a feature
 * without examples). Metrics leave failures out; the UI shows them.
 */
export interface Failure {
  kind: 'llm' | 'parse' | 'input';
  /** An `llm/...` error code, or a reason such as `explanation/missing`. */
  code: string;
  message: string;
}

export const ZERO_USAGE: Readonly<Usage> = Object.freeze({ promptTokens: 0, completionTokens: 0 });

/** a + b; the cost is kept when either side has one, and the first untrusted report when either has one. */
export function addUsage(a: Usage, b: Usage): Usage {
  const sum: Usage = { promptTokens: a.promptTokens + b.promptTokens, completionTokens: a.completionTokens + b.completionTokens };
  if (a.cost !== undefined || b.cost !== undefined) sum.cost = (a.cost ?? 0) + (b.cost ?? 0);
  const untrusted = a.untrusted ?? b.untrusted;
  if (untrusted !== undefined) sum.untrusted = untrusted;
  return sum;
}
