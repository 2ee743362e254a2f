/**
 * A local stand-in for an LLM endpoint, for tests and the offline demo: OpenAI-compatible
 * (`/v1/chat/completions`, `/v1/models`) and OpenRouter's dialect (`/api/v1/chat/completions` with
 * `usage.cost`, `/api/v1/models` with prices and supported parameters, `/api/v1/key`, the PKCE sign-in:
 * `GET /auth` redirects to the callback with `?code=`, `POST /api/v1/auth/keys` trades it for a key).
 * CORS is open, so the app in a browser can call it.
 *
 * It answers the project's prompts like a plausible model, deterministically. Which answer a prompt
 * gets is decided by RESPONDERS, a table of (recognise, answer) rows tried in order: an explanation
 * prompt (one that asks for `[EXPLANATION]:`) is answered from the marked tokens (the most frequent
 * ones: `[EXPLANATION]: the word "cat" and related words such as "dog"`); a classifier prompt
 * (numbered examples and a request for a list of 0s and 1s) gets 1 where the explanation's quoted
 * phrases (else its content words) are found in an example (for marked examples: in every marked
 * span); a simulation prompt (lines `token<TAB>unknown`) gets each token back with 10 where it holds
 * one of them and 0 elsewhere, as lines or as `{"activations": [...]}` JSON. A new scorer's
 * prompt is taught to the stand-in by adding one row.
 *
 * Usage: a token per four characters of the messages and of the answer; on the OpenRouter paths a
 * cost at the model's prices (powers of two per token, so sums are exact in any order). Log-
 * probabilities (with `top_logprobs` alternatives) when asked for, except on `:free` models, which
 * return `logprobs: null` as some real ones do. Every request is recorded (method, path, headers, body,
 * and what was answered: status, fault, usage).
 *
 * Faults on demand: per request with an `x-fault: <kind>` header or a model id suffix
 * `:fault-<kind>` (`<kind>*N`: only the first N times the same body comes), or for a seeded fraction
 * of chat requests (`setFaults({ rate: 0.3, seed: 1 })`), decided by a hash of the seed, the body and
 * how often that body came before, so the same run meets the same faults whatever the order of its
 * requests. Kinds: FAULT_KINDS.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const FAULT_KINDS = ['rate-limit', 'server-error', 'timeout', 'malformed', 'empty', 'nonsense', 'truncated', 'unauthorized', 'no-credits', 'in-flight', 'unsupported'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** What a real endpoint does now and then; the seeded fraction draws from these unless told otherwise. */
export const TRANSIENT_FAULTS: readonly FaultKind[] = ['rate-limit', 'server-error', 'timeout', 'malformed', 'empty', 'nonsense', 'truncated'];

export interface FaultSettings {
  /** Fraction of chat requests that meet a fault (0..1). */
  rate: number;
  seed?: number;
  kinds?: readonly FaultKind[];
}

export interface StandInModel {
  id: string;
  name: string;
  /** Dollars per token. */
  prompt: number;
  completion: number;
  supportedParameters: string[];
  contextLength: number;
}

const ALL_PARAMETERS = ['max_tokens', 'temperature', 'top_p', 'stop', 'seed', 'logprobs', 'top_logprobs', 'response_format', 'structured_outputs', 'reasoning'];

export const STAND_IN_MODELS: readonly StandInModel[] = [
  { id: 'stand-in/explainer', name: 'Stand-in explainer', prompt: 2 ** -20, completion: 2 ** -19, supportedParameters: ALL_PARAMETERS, contextLength: 32768 },
  { id: 'stand-in/no-logprobs', name: 'Stand-in without log-probabilities', prompt: 2 ** -21, completion: 2 ** -20, supportedParameters: ['max_tokens', 'temperature', 'top_p', 'stop'], contextLength: 8192 },
  { id: 'stand-in/explainer:free', name: 'Stand-in explainer (free)', prompt: 0, completion: 0, supportedParameters: ALL_PARAMETERS, contextLength: 8192 },
];

export interface LlmServerOptions {
  port?: number;
  host?: string;
  /** Milliseconds before each chat answer (default 0). */
  latencyMs?: number;
  /** Keys accepted (plus those issued by the PKCE exchange); any non-empty key when undefined. */
  keys?: readonly string[];
  /** Dollars a key may spend; past it, chat requests get 402. */
  creditLimit?: number;
  faults?: FaultSettings;
  /** The Retry-After of a 429 or in-flight 402, in seconds (default 1). */
  retryAfterSeconds?: number;
  models?: readonly StandInModel[];
  /** What answers report as their usage, from the true one: a dishonest or broken endpoint (default: the truth). */
  reportUsage?: UsageReport;
}

/** Turns an answer's true usage into what it reports. */
export type UsageReport = (usage: { prompt_tokens: number; completion_tokens: number; cost?: number }) => Record<string, unknown>;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON, or the raw text when it is not JSON. */
  body: unknown;
  status?: number;
  fault?: FaultKind;
  /** The usage the answer carried, as sent (absent when the answer carried none or was unreadable). */
  usage?: { prompt_tokens: number; completion_tokens: number; cost?: number };
}

export interface LlmServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  /** `<url>/api/v1` (OpenRouter's dialect) and `<url>/v1` (plain OpenAI-compatible). */
  openRouterBase: string;
  openAiBase: string;
  requests: RecordedRequest[];
  setFaults(faults: FaultSettings | undefined): void;
  setLatency(ms: number): void;
  /** From now on answers report their usage through `report` (undefined: the truth). */
  setUsageReport(report: UsageReport | undefined): void;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// Answers

interface Prompt {
  system: string;
  /** The last user message. */
  user: string;
  json: boolean;
}

/** A piece of the answer with the alternatives its log-probabilities list (chosen first). */
interface Piece {
  text: string;
  top?: { token: string; p: number }[];
}

interface Responder {
  name: string;
  matches(prompt: Prompt): boolean;
  answer(prompt: Prompt): Piece[];
}

const STOP_WORDS = new Set('the a an and or of to in on at for with by from as is are was were be been it its this that these those words word related such like text token tokens after before about into than then there their'.split(' '));

/** Lower-case content words of a text (three letters or more, no stop words). */
const contentWords = (text: string): string[] => (text.toLowerCase().match(/[a-z][a-z']{2,}/g) ?? []).filter((w) => !STOP_WORDS.has(w));

/** The explanation a scoring prompt carries: an `Explanation:` line, else the first quoted phrase. */
function explanationIn(prompt: Prompt): string {
  const text = `${prompt.user}\n${prompt.system}`;
  return /explanation\s*:\s*(.+)/i.exec(text)?.[1] ?? /"([^"]+)"/.exec(text)?.[1] ?? '';
}

/**
 * Whether a text fits an explanation, as the stand-in judges: the explanation's quoted phrases (`the
 * word "cat"`, `"," and "and"`), as whole words or (punctuation) anywhere, when it quotes any; else
 * its content words.
 */
function fitter(explanation: string): (text: string) => boolean {
  const quoted = [...explanation.matchAll(/"([^"]+)"/g)].map((m) => m[1]!.trim().toLowerCase()).filter((t) => t !== '');
  if (quoted.length === 0) {
    const words = new Set(contentWords(explanation));
    return (text) => contentWords(text).some((w) => words.has(w));
  }
  const escape = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const patterns = quoted.map((t) => (/^[a-z0-9']+$/.test(t) ? new RegExp(`(^|[^a-z0-9'])${escape(t)}($|[^a-z0-9'])`) : { test: (text: string) => text.includes(t) }));
  return (text) => {
    const lower = text.toLowerCase();
    return patterns.some((p) => p.test(lower));
  };
}

/** Split into pieces a tokenizer might make: numbers, words with their leading space, single other characters. */
const pieces = (text: string): Piece[] => (text.match(/\s?\d+|\s?[A-Za-z']+|\s+|[^\sA-Za-z\d']/g) ?? []).map((t) => ({ text: t }));

function digitPiece(value: number, options: number): Piece {
  const top = [{ token: String(value), p: 0.8 }];
  const rest = Array.from({ length: options }, (_, v) => v).filter((v) => v !== value);
  for (const v of rest) top.push({ token: String(v), p: 0.2 / rest.length });
  return { text: String(value), top };
}

/** Numbered examples of a prompt (`Example 3: ...`, `3. ...`, `3) ...`), in order. */
function numberedExamples(text: string): string[] {
  const parts = text.split(/^\s*(?:example\s*)?\d+\s*[:.)]\s*/im);
  return parts.slice(1).map((part) => part.trim());
}

const explanationResponder: Responder = {
  name: 'explanation',
  matches: (prompt) => prompt.system.includes('[EXPLANATION]:'),
  answer(prompt) {
    const counts = new Map<string, number>();
    for (const match of prompt.user.matchAll(/<<([\s\S]*?)>>/g)) {
      const marked = match[1]!.trim().toLowerCase();
      if (marked) counts.set(marked, (counts.get(marked) ?? 0) + 1);
    }
    const top = [...counts].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([text]) => text);
    const line = top.length === 0 ? 'no pattern that the marked tokens share' : `the word "${top[0]}"${top.length > 1 ? ` and related words such as ${top.slice(1).map((t) => `"${t}"`).join(', ')}` : ''}`;
    const steps = /Step 1/.test(prompt.system) ? `Step 1 (tokens): ${top.map((t) => `"${t}"`).join(', ') || 'none'}.\nStep 2 (shared): they are the same few words.\nStep 3 (context): ordinary prose.\n` : '';
    return pieces(`${steps}[EXPLANATION]: ${line}`);
  },
};

const classifierResponder: Responder = {
  name: 'classifier',
  matches: (prompt) => /\b(0s?\s+(and|or)\s+1s?|1s?\s+(and|or)\s+0s?|zeros and ones|ones and zeros)\b/i.test(`${prompt.system}\n${prompt.user}`) && numberedExamples(prompt.user).length > 0,
  answer(prompt) {
    const fits = fitter(explanationIn(prompt));
    const verdicts = numberedExamples(prompt.user).map((example) => {
      const marked = [...example.matchAll(/<<([\s\S]*?)>>/g)].map((m) => m[1]!);
      if (marked.length > 0) return marked.every(fits) ? 1 : 0;
      return fits(example) ? 1 : 0;
    });
    const out: Piece[] = [{ text: '[' }];
    verdicts.forEach((v, i) => out.push(...(i ? [{ text: ', ' }] : []), digitPiece(v, 2)));
    out.push({ text: ']' });
    return out;
  },
};

const simulationResponder: Responder = {
  name: 'simulation',
  matches: (prompt) => /\tunknown$/m.test(prompt.user),
  answer(prompt) {
    const fits = fitter(explanationIn(prompt));
    const tokens = [...prompt.user.matchAll(/^(.*)\tunknown$/gm)].map((m) => m[1]!);
    const value = (token: string) => (fits(token) ? 10 : 0);
    if (prompt.json) {
      const json = JSON.stringify({ activations: tokens.map((token) => ({ token, activation: value(token) })) });
      return pieces(json);
    }
    return tokens.flatMap((token, i): Piece[] => [...(i ? [{ text: '\n' }] : []), { text: `${token}\t` }, digitPiece(value(token), 11)]);
  },
};

const fallbackResponder: Responder = { name: 'fallback', matches: () => true, answer: () => pieces('I can answer explanation and scoring prompts of AutoInterp Web only.') };

/** Tried in order; the first row that recognises the prompt answers it. */
export const RESPONDERS: Responder[] = [explanationResponder, classifierResponder, simulationResponder, fallbackResponder];

// ---------------------------------------------------------------------------------------------------
// The server

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
  'Access-Control-Allow-Headers': 'Authorization, Content-Type, HTTP-Referer, X-Title, X-Fault',
  'Access-Control-Expose-Headers': 'Retry-After',
};

const tokensOf = (text: string) => Math.ceil(text.length / 4);

function uniform(...parts: (string | number)[]): number {
  return createHash('sha256').update(parts.join('\u0000')).digest().readUInt32BE(0) / 2 ** 32;
}

/** `kind` or `kind*N` */
function parseFault(spec: string | undefined): { kind: FaultKind; times: number } | undefined {
  const match = /^([a-z-]+)(?:\*(\d+))?$/.exec(spec?.trim() ?? '');
  if (!match || !(FAULT_KINDS as readonly string[]).includes(match[1]!)) return undefined;
  return { kind: match[1] as FaultKind, times: match[2] ? Number(match[2]) : Infinity };
}

function send(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { ...CORS, 'Content-Type': 'application/json', ...headers }).end(typeof body === 'string' ? body : JSON.stringify(body));
}

const apiError = (code: number, message: string, extra: Record<string, unknown> = {}) => ({ error: { code, message, ...extra } });

export async function startLlmServer(options: LlmServerOptions = {}): Promise<LlmServer> {
  const models = options.models ?? STAND_IN_MODELS;
  const requests: RecordedRequest[] = [];
  const seen = new Map<string, number>();
  const issuedKeys = new Set<string>();
  const spentByKey = new Map<string, number>();
  const codes = new Map<string, string>();
  let faults = options.faults;
  let latencyMs = options.latencyMs ?? 0;
  let reportUsage = options.reportUsage;
  const retryAfter = String(options.retryAfterSeconds ?? 1);

  const keyOf = (request: IncomingMessage) => /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
  const keyAccepted = (key: string | undefined) => !!key && (options.keys === undefined || options.keys.includes(key) || issuedKeys.has(key));

  function faultFor(request: IncomingMessage, raw: string, modelSuffix: string | undefined): FaultKind | undefined {
    const occurrence = seen.get(raw) ?? 0;
    seen.set(raw, occurrence + 1);
    const asked = parseFault(request.headers['x-fault'] as string | undefined) ?? parseFault(modelSuffix);
    if (asked) return occurrence < asked.times ? asked.kind : undefined;
    if (!faults || faults.rate <= 0) return undefined;
    const kinds = faults.kinds ?? TRANSIENT_FAULTS;
    if (uniform(faults.seed ?? 0, raw, occurrence, 'fault?') >= faults.rate) return undefined;
    return kinds[Math.floor(uniform(faults.seed ?? 0, raw, occurrence, 'which') * kinds.length)];
  }

  async function chat(request: IncomingMessage, response: ServerResponse, raw: string, body: Record<string, unknown>, log: RecordedRequest, openRouter: boolean): Promise<void> {
    const reply = (status: number, payload: unknown, headers?: Record<string, string>) => {
      log.status = status;
      send(response, status, payload, headers);
    };
    const modelId = String(body.model ?? '');
    const [baseId, suffix] = modelId.split(/:fault-/);
    const fault = faultFor(request, raw, suffix);
    if (fault) log.fault = fault;
    if (latencyMs > 0) await new Promise((done) => setTimeout(done, latencyMs));
    if (response.destroyed) return;
    const key = keyOf(request);
    if (fault === 'unauthorized' || ((openRouter || options.keys !== undefined) && !keyAccepted(key))) return reply(401, apiError(401, 'Missing or unknown API key.'));
    const model = models.find((m) => m.id === baseId);
    if (!model) return reply(400, apiError(400, `${baseId} is not a valid model ID`));
    const wantsLogprobs = body.logprobs === true;
    const wantsJson = body.response_format !== undefined;
    const required = (body.provider as { require_parameters?: boolean } | undefined)?.require_parameters === true;
    const lacks = (wantsLogprobs && !model.supportedParameters.includes('logprobs')) || (wantsJson && !model.supportedParameters.includes('response_format'));
    if (fault === 'unsupported' || (required && lacks)) {
      return reply(404, apiError(404, 'No endpoints found that can handle the requested parameters.', { availability: { code: 'constraint_filtered' } }));
    }
    if (fault === 'no-credits' || (options.creditLimit !== undefined && key && (spentByKey.get(key) ?? 0) >= options.creditLimit)) {
      return reply(402, apiError(402, 'Insufficient credits: this account has no credits left.', { metadata: { limit_source: options.creditLimit !== undefined && fault !== 'no-credits' ? 'openrouter_key_limit' : 'openrouter_credits' } }));
    }
    if (fault === 'in-flight') return reply(402, apiError(402, 'Too many paid requests in flight; retry shortly.', { metadata: { limit_source: 'openrouter_in_flight_budget' } }), { 'Retry-After': retryAfter });
    if (fault === 'rate-limit') return reply(429, apiError(429, 'Rate limit exceeded, slow down.'), { 'Retry-After': retryAfter });
    if (fault === 'server-error') return reply(500, apiError(500, 'Internal error of the stand-in.'));
    if (fault === 'timeout') {
      log.status = 0; // never answers: the client's time limit ends it
      return;
    }
    if (fault === 'malformed') {
      log.status = 200;
      response.writeHead(200, { ...CORS, 'Content-Type': 'application/json' }).end('{"id": "stand-in", "choices": [{"message": {"content": "[EXPLAN');
      return;
    }

    const messages = Array.isArray(body.messages) ? (body.messages as { role?: string; content?: unknown }[]) : [];
    const text = (m: { content?: unknown }) => (typeof m.content === 'string' ? m.content : '');
    const prompt: Prompt = {
      system: messages.filter((m) => m.role === 'system').map(text).join('\n'),
      user: text([...messages].reverse().find((m) => m.role === 'user') ?? {}),
      json: wantsJson,
    };
    let answer = RESPONDERS.find((r) => r.matches(prompt))!.answer(prompt);
    let finishReason = 'stop';
    if (fault === 'empty') answer = [];
    if (fault === 'nonsense') answer = pieces('These sentences look quite ordinary to me; I could not say more.');
    const maxTokens = typeof body.max_tokens === 'number' ? body.max_tokens : Infinity;
    const full = answer.map((p) => p.text).join('');
    if (fault === 'truncated' || tokensOf(full) > maxTokens) {
      const keep = Math.max(1, fault === 'truncated' ? Math.floor(full.length / 2) : maxTokens * 4);
      let length = 0;
      answer = answer.filter((piece) => (length += piece.text.length) <= keep);
      finishReason = 'length';
    }
    const content = answer.map((p) => p.text).join('');
    const promptTokens = tokensOf(messages.map(text).join(''));
    const completionTokens = tokensOf(content);
    const usage: NonNullable<RecordedRequest['usage']> = { prompt_tokens: promptTokens, completion_tokens: completionTokens };
    if (openRouter) {
      usage.cost = promptTokens * model.prompt + completionTokens * model.completion;
      if (key) spentByKey.set(key, (spentByKey.get(key) ?? 0) + usage.cost);
    }
    let logprobs: unknown = null;
    if (wantsLogprobs && !model.id.endsWith(':free')) {
      const n = typeof body.top_logprobs === 'number' ? body.top_logprobs : 0;
      logprobs = {
        content: answer.map((piece) => {
          const top = piece.top ?? [{ token: piece.text, p: 0.9 }];
          const fillers = Array.from({ length: Math.max(0, n - top.length) }, (_, i) => ({ token: `<alt${i}>`, p: 0.1 / Math.max(1, n) }));
          const listed = [...top, ...fillers].slice(0, n).map(({ token, p }) => ({ token, logprob: Math.log(p) }));
          return { token: piece.text, logprob: Math.log(top[0]!.p), top_logprobs: listed };
        }),
      };
    }
    const reported = reportUsage ? reportUsage(usage) : usage;
    log.usage = reported as typeof usage;
    reply(200, {
      id: `stand-in-${requests.length}`,
      object: 'chat.completion',
      created: 0,
      model: model.id,
      ...(openRouter && { provider: 'Stand-in' }),
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: finishReason, logprobs }],
      usage: reported,
    });
  }

  function modelsList(openRouter: boolean) {
    if (!openRouter) return { object: 'list', data: models.map((m) => ({ id: m.id, object: 'model', created: 0, owned_by: 'stand-in' })) };
    return {
      data: models.map((m) => ({
        id: m.id,
        name: m.name,
        created: 0,
        context_length: m.contextLength,
        pricing: { prompt: String(m.prompt), completion: String(m.completion), request: '0', image: '0' },
        supported_parameters: m.supportedParameters,
      })),
    };
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://stand-in');
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = raw;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      /* kept as text */
    }
    const log: RecordedRequest = { method: request.method ?? 'GET', path: url.pathname + url.search, headers: { ...request.headers }, body };
    requests.push(log);
    const reply = (status: number, payload: unknown, headers?: Record<string, string>) => {
      log.status = status;
      send(response, status, payload, headers);
    };
    const route = `${request.method} ${url.pathname.replace(/\/+$/, '')}`;
    if (request.method === 'OPTIONS') {
      log.status = 204;
      response.writeHead(204, CORS).end();
      return;
    }
    if (route === 'POST /v1/chat/completions' || route === 'POST /api/v1/chat/completions') {
      if (!body || typeof body !== 'object') return reply(400, apiError(400, 'The request body is not JSON.'));
      return chat(request, response, raw, body as Record<string, unknown>, log, route.includes('/api/'));
    }
    if (route === 'GET /v1/models' || route === 'GET /api/v1/models') return reply(200, modelsList(route.includes('/api/')));
    if (route === 'GET /api/v1/key') {
      const key = keyOf(request);
      if (!keyAccepted(key)) return reply(401, apiError(401, 'Missing or unknown API key.'));
      const usage = spentByKey.get(key!) ?? 0;
      const limit = options.creditLimit ?? null;
      return reply(200, { data: { label: `stand-in key ${key!.slice(0, 6)}...`, limit, usage, limit_remaining: limit === null ? null : Math.max(0, limit - usage), is_free_tier: false } });
    }
    if (route === 'GET /auth') {
      const callback = url.searchParams.get('callback_url');
      const challenge = url.searchParams.get('code_challenge');
      if (!callback) return reply(400, apiError(400, 'callback_url is missing.'));
      const code = randomBytes(12).toString('hex');
      codes.set(code, challenge ?? '');
      const target = new URL(callback);
      target.searchParams.set('code', code);
      log.status = 302;
      response.writeHead(302, { ...CORS, Location: target.href }).end();
      return;
    }
    if (route === 'POST /api/v1/auth/keys') {
      const { code, code_verifier: verifier, code_challenge_method: method } = (body ?? {}) as Record<string, string | undefined>;
      const challenge = code === undefined ? undefined : codes.get(code);
      if (challenge === undefined) return reply(403, apiError(403, 'Unknown or used authorization code.'));
      const expected = method === 'S256' ? createHash('sha256').update(verifier ?? '').digest('base64url') : verifier;
      if (challenge !== '' && expected !== challenge) return reply(403, apiError(403, 'The code verifier does not match the code challenge.'));
      codes.delete(code!);
      const key = `sk-stand-in-${randomBytes(16).toString('hex')}`;
      issuedKeys.add(key);
      return reply(200, { key, user_id: 'stand-in-user' });
    }
    reply(404, apiError(404, `No route ${route}.`));
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, apiError(500, `Stand-in failure: ${error instanceof Error ? error.message : String(error)}`));
    });
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail); // a port in use, say
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', done);
  });
  const url = `http://${options.host ?? '127.0.0.1'}:${(server.address() as AddressInfo).port}`;
  return {
    url,
    openRouterBase: `${url}/api/v1`,
    openAiBase: `${url}/v1`,
    requests,
    setFaults(next) {
      faults = next;
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    setUsageReport(report) {
      reportUsage = report;
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
