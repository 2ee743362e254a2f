/**
 * The LLM connection as the page holds it: the endpoint, the user's key, its models and their prices,
 * and OpenRouter's PKCE sign-in. Explain and score jobs take what a run needs from here (`forRun`).
 *
 * The key lives here, in the page: in sessionStorage for the tab's session, in localStorage only when
 * the user asks to remember it, never in IndexedDB, never in an export. It goes to the endpoint's host
 * only: with each run to the interp worker, which sends it to that endpoint and keeps nothing.
 */
import {
  authUrl, codeChallenge, createCodeVerifier, DEFAULT_TIMEOUT_MS, errorMessage, exchangeCode, keyInfo, listModels, normalizeBaseUrl, OPENROUTER_API, OPENROUTER_AUTH,
  type KeyInfo, type ModelInfo,
} from '../../lib/index.ts';
import type { LlmConnection } from '../../../workers/interp/api.ts';
import { allowConnections, connectAllowed } from '../content-security-policy.ts';

const KEY_STORAGE = 'autointerp.llm-key';
const ENDPOINT_STORAGE = 'autointerp.llm-endpoint';
const VERIFIER_STORAGE = 'autointerp.pkce-verifier';

/** The key the user gave, from where they chose to keep it (the tab's session, or this device). */
function storedKey(): { key: string; remembered: boolean } {
  const remembered = localStorage.getItem(KEY_STORAGE);
  if (remembered) return { key: remembered, remembered: true };
  return { key: sessionStorage.getItem(KEY_STORAGE) ?? '', remembered: false };
}

export class LlmConnectionState {
  baseUrl = $state(localStorage.getItem(ENDPOINT_STORAGE) ?? OPENROUTER_API);
  key = $state(storedKey().key);
  remember = $state(storedKey().remembered);
  /** Seconds one attempt may take before it is retried (a slow local model may need more). */
  timeoutSeconds = $state(DEFAULT_TIMEOUT_MS / 1000);
  models = $state.raw<ModelInfo[]>([]);
  model = $state('');
  modelsError = $state<string | undefined>();
  keyStatus = $state.raw<KeyInfo | undefined>();
  keyError = $state<string | undefined>();
  signInError = $state<string | undefined>();
  /** An endpoint origin this page's security policy lets in only from the next load on (saved for it). */
  needsReload = $state<string | undefined>();

  get pricing() {
    return this.models.find((m) => m.id === this.model)?.pricing;
  }

  /** Keeps the key where the user chose: the tab's session, or (asked for) this device. */
  saveKey(): void {
    sessionStorage.removeItem(KEY_STORAGE);
    localStorage.removeItem(KEY_STORAGE);
    if (this.key) (this.remember ? localStorage : sessionStorage).setItem(KEY_STORAGE, this.key);
    localStorage.setItem(ENDPOINT_STORAGE, this.baseUrl);
  }

  forgetKey(): void {
    this.key = '';
    this.remember = false;
    this.keyStatus = undefined;
    this.saveKey();
  }

  async connect(): Promise<void> {
    this.saveKey();
    this.modelsError = undefined;
    this.keyError = undefined;
    this.needsReload = undefined;
    // The page's security policy is fixed when it loads: a new endpoint host is saved for it, and takes a reload.
    let endpoint: string;
    try {
      endpoint = normalizeBaseUrl(this.baseUrl);
    } catch (error) {
      this.modelsError = errorMessage(error);
      return;
    }
    if (!connectAllowed(endpoint)) {
      allowConnections([endpoint], { reload: false });
      this.models = [];
      this.needsReload = new URL(endpoint).origin;
      return;
    }
    const options = { baseUrl: this.baseUrl, ...(this.key ? { apiKey: this.key } : {}) };
    try {
      this.models = await listModels(options);
      if (!this.models.some((m) => m.id === this.model)) this.model = this.models[0]?.id ?? '';
    } catch (error) {
      this.models = [];
      this.modelsError = errorMessage(error);
    }
    if (!this.key) return;
    try {
      this.keyStatus = await keyInfo({ baseUrl: this.baseUrl, apiKey: this.key });
    } catch (error) {
      // Plain OpenAI-compatible servers have no key endpoint: only say so when the endpoint is OpenRouter's dialect.
      this.keyStatus = undefined;
      if (/\/api\/v1$/.test(normalizeBaseUrl(this.baseUrl))) this.keyError = errorMessage(error);
    }
  }

  /** Where OpenRouter's sign-in lives for this endpoint (a stand-in serves its own). */
  private authBase(): string {
    const url = new URL(normalizeBaseUrl(this.baseUrl));
    return url.hostname === 'openrouter.ai' ? OPENROUTER_AUTH : url.origin;
  }

  /** Sends the user to sign in; they come back to this page with `?code=`. */
  async signIn(): Promise<void> {
    const verifier = createCodeVerifier();
    sessionStorage.setItem(VERIFIER_STORAGE, verifier);
    localStorage.setItem(ENDPOINT_STORAGE, this.baseUrl);
    const callback = new URL(location.href);
    callback.searchParams.delete('code');
    location.assign(authUrl(callback.href, await codeChallenge(verifier), this.authBase()));
  }

  /** Finishes a sign-in when the page was opened with `?code=`: trades it for a key, then removes it from the URL. */
  async finishSignIn(): Promise<void> {
    const url = new URL(location.href);
    const code = url.searchParams.get('code');
    const verifier = sessionStorage.getItem(VERIFIER_STORAGE);
    if (!code) return;
    url.searchParams.delete('code');
    history.replaceState(history.state, '', url.href);
    if (!verifier) {
      this.signInError = 'The sign-in came back, but this tab did not start it: sign in again from here.';
      return;
    }
    sessionStorage.removeItem(VERIFIER_STORAGE);
    try {
      this.key = (await exchangeCode(code, verifier, { baseUrl: this.baseUrl })).key;
      this.saveKey();
      await this.connect();
    } catch (error) {
      this.signInError = errorMessage(error);
    }
  }

  /** What a run in the worker takes: the key (when there is one), the model's prices and context length, the time-out. */
  forRun(): LlmConnection {
    const listed = this.models.find((m) => m.id === this.model);
    return { ...(this.key ? { apiKey: this.key } : {}), ...(listed?.pricing ? { pricing: listed.pricing } : {}), ...(listed?.contextLength ? { contextLength: listed.contextLength } : {}), timeoutMs: this.timeoutSeconds * 1000 };
  }
}
