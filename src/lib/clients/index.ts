/**
 * LLM clients: the contract (contract.ts), the OpenAI-compatible chat client with retries and checked
 * answers (openai-compatible.ts, http.ts, retry.ts), failures sorted by what to do about them
 * (llm-error.ts), OpenRouter's model list, key info and PKCE sign-in (openrouter.ts, pkce.ts), and a
 * scripted client for tests (scripted.ts).
 */
export * from './contract.ts';
export { apiErrorOf, errorFromResponse, LlmError, llmFailure, redact, stopsRun, type ApiError, type Capabilities, type LlmErrorDetails, type ResponseContext } from './llm-error.ts';
export { abortableSleep, backoffMs, DEFAULT_RETRY, nextDelay, parseRetryAfter, retryAfterMs, type AttemptFailure, type RetryPolicy } from './retry.ts';
export { createLlmClient, DEFAULT_TIMEOUT_MS, flavorOf, normalizeBaseUrl, parseJsonAnswer, requestBody, usageOf, type ApiFlavor, type LlmClientOptions } from './openai-compatible.ts';
export { keyInfo, listModels, modelInfoOf, OPENROUTER_API, openRouterClient, type EndpointOptions, type KeyInfo, type ModelInfo, type Pricing } from './openrouter.ts';
export { authUrl, base64Url, codeChallenge, createCodeVerifier, exchangeCode, OPENROUTER_AUTH } from './pkce.ts';
export { approxTokens, scriptedClient, type Script, type ScriptedAnswer, type ScriptedClient } from './scripted.ts';
