/**
 * OpenRouter's OAuth PKCE sign-in, which needs no backend: make a random code verifier, send the user
 * to `<auth>/auth?callback_url=...&code_challenge=<S256 of the verifier>&code_challenge_method=S256`,
 * and when they come back with `?code=`, trade the code and the verifier for a key
 * (`POST <api>/auth/keys`). SHA-256 through Web Crypto (browsers and Node alike).
 */
import { AppError } from '../errors.ts';
import { defaultFetch, jsonHeaders, send } from './http.ts';
import { apiErrorOf, redact } from './llm-error.ts';
import { normalizeBaseUrl } from './openai-compatible.ts';
import { OPENROUTER_API, type EndpointOptions } from './openrouter.ts';

export const OPENROUTER_AUTH = 'https://openrouter.ai';

/** RFC 4648 base64url without padding. */
export function base64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A code verifier: 32 random bytes as base64url (43 characters, as RFC 7636 allows). */
export function createCodeVerifier(fill: (bytes: Uint8Array) => Uint8Array = (bytes) => crypto.getRandomValues(bytes)): string {
  return base64Url(fill(new Uint8Array(32)));
}

/** The S256 challenge of a verifier: base64url(SHA-256(verifier)). */
export async function codeChallenge(verifier: string): Promise<string> {
  return base64Url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
}

/** Where to send the user to sign in; they come back to `callbackUrl` with `?code=`. */
export function authUrl(callbackUrl: string, challenge: string, authBase = OPENROUTER_AUTH): string {
  const url = new URL('/auth', normalizeBaseUrl(authBase) + '/');
  url.searchParams.set('callback_url', callbackUrl);
  url.searchParams.set('code_challenge', challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  return url.href;
}

/** The key the sign-in code is worth. The verifier must be the one whose challenge went into authUrl. */
export async function exchangeCode(code: string, verifier: string, options: Omit<EndpointOptions, 'apiKey'> = {}): Promise<{ key: string; userId?: string }> {
  const baseUrl = normalizeBaseUrl(options.baseUrl ?? OPENROUTER_API);
  const host = new URL(baseUrl).host;
  const { response, body } = await send(
    `${baseUrl}/auth/keys`,
    { method: 'POST', headers: jsonHeaders(undefined), body: JSON.stringify({ code, code_verifier: verifier, code_challenge_method: 'S256' }) },
    { fetch: options.fetch ?? defaultFetch, timeoutMs: options.timeoutMs ?? 30_000, signal: options.signal },
  );
  const key = (body as { key?: unknown } | undefined)?.key;
  if (!response.ok || typeof key !== 'string' || key === '') {
    const said = redact(apiErrorOf(body)?.message ?? '', verifier);
    throw new AppError('llm/auth-exchange', `${host} did not trade the sign-in code for a key (${response.status}${said ? `: "${said}"` : ''}). Sign in again.`);
  }
  const userId = (body as { user_id?: unknown }).user_id;
  return typeof userId === 'string' ? { key, userId } : { key };
}
