/**
 * The page's Content-Security-Policy. A static site sends no headers of its own, so the policy is a
 * `<meta http-equiv="Content-Security-Policy">` that a tiny inline script, the first script in <head>,
 * writes before anything else runs (vite.config.ts inlines `installPolicy` there). Scripts, workers and
 * wasm come from the page's origin only (and blob: URLs, which only running code can make); connections
 * go to the page's origin, the Hugging Face hub (and the hosts it redirects large files to), OpenRouter
 * (the default LLM endpoint), and hosts the user chose: the `?hub=` URL parameter and the origins saved
 * under `autointerp.connect` in localStorage (see `allowConnections`). A meta policy is fixed once
 * written (a second one could only narrow it), so a host saved while the page is open takes effect on
 * the next load.
 *
 * A worker loaded from its own URL would take its policy from its own response headers (none on a static
 * host); one started from a blob: URL inherits the page's. `PolicyWorker` starts module workers that way.
 */

/** The localStorage key holding the extra origins the page may connect to (a JSON list of origins). */
export const CONNECT_STORAGE_KEY = 'autointerp.connect';

/** Hosts the page may always connect to besides its own origin. */
export const DEFAULT_CONNECT_SOURCES = [
  'https://huggingface.co',
  // The hub redirects large files to CDN hosts (cdn-lfs.huggingface.co, cas-bridge.xethub.hf.co, ...).
  'https://*.huggingface.co',
  'https://*.hf.co',
  // The default LLM endpoint of the explaining and scoring stages.
  'https://openrouter.ai',
];

/**
 * Loopback hosts, allowed when the page itself is served from one (`npm start`, `npm run dev`, the tests):
 * a local hub mirror or LLM server on the same machine is no leak. A page on a public host has to be
 * given them like any other host.
 */
export const LOOPBACK_CONNECT_SOURCES = ['http://127.0.0.1:*', 'http://localhost:*'];

export type Directives = Record<string, string[]>;

/** The policy's directives, before the hosts chosen at run time are added to connect-src. */
export function policyDirectives(options: { dev: boolean }): Directives {
  return {
    'default-src': ["'self'"],
    // onnxruntime-web compiles its wasm; nothing evaluates strings as code. blob: because transformers.js
    // keeps onnxruntime's wasm loader (an .mjs from this origin) in the Cache API and imports it from a
    // blob: URL the worker makes (env.useWasmCache); markup cannot name such a URL, only running script can.
    'script-src': ["'self'", "'wasm-unsafe-eval'", 'blob:'],
    'worker-src': ["'self'", 'blob:'],
    'connect-src': ["'self'", ...DEFAULT_CONNECT_SOURCES],
    // The built page has one stylesheet and sets styles through the CSSOM only; Vite's dev server
    // injects every component's CSS as a <style> element.
    'style-src': options.dev ? ["'self'", "'unsafe-inline'"] : ["'self'"],
    'img-src': ["'self'", 'data:', 'blob:'],
    'object-src': ["'none'"],
    'base-uri': ["'self'"],
    'form-action': ["'self'"],
  };
}

export interface BootstrapConfig {
  directives: Directives;
  storageKey: string;
  loopback: string[];
}

/**
 * The origin a connect-src may name for `value` (a URL), or undefined. Only http(s) and ws(s) origins
 * whose host is letters, digits, dots and dashes pass, so nothing read from a URL or from storage can
 * add a keyword or a directive to the policy.
 */
export function connectOrigin(value: unknown, base?: string): string | undefined {
  if (typeof value !== 'string' || !value) return undefined;
  try {
    const url = new URL(value, base);
    return /^(https?|wss?):$/.test(url.protocol) && /^[a-z]+:\/\/[a-z0-9.-]+(:\d+)?$/.test(url.origin) ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes the policy's <meta> element. Runs inline before any other script, so it must be self-contained:
 * vite.config.ts inlines its source and calls it with `connectOrigin` and the directives as arguments.
 */
export function installPolicy(config: BootstrapConfig, toOrigin: typeof connectOrigin): void {
  const connect = config.directives['connect-src']!.slice();
  const add = (value: unknown, base?: string) => {
    const origin = toOrigin(value, base);
    if (origin && !connect.includes(origin)) connect.push(origin);
  };
  try {
    if (/^(127\.0\.0\.1|localhost)$/.test(location.hostname)) config.loopback.forEach((source) => connect.push(source));
    add(new URLSearchParams(location.search).get('hub'), location.href);
    const saved: unknown = JSON.parse(localStorage.getItem(config.storageKey) || '[]');
    if (Array.isArray(saved)) saved.forEach((origin) => add(origin));
  } catch {
    // No storage (or unreadable): the defaults and `?hub=` still apply.
  }
  const directives: Directives = { ...config.directives, 'connect-src': connect };
  const meta = document.createElement('meta');
  meta.httpEquiv = 'Content-Security-Policy';
  meta.content = Object.keys(directives).map((name) => `${name} ${directives[name]!.join(' ')}`).join('; ');
  const script = document.currentScript;
  if (script && script.parentNode === document.head) script.after(meta);
  else document.head.prepend(meta);
}

/** The inline script for index.html's <head>. */
export function policyBootstrap(options: { dev: boolean }): string {
  const config: BootstrapConfig = { directives: policyDirectives(options), storageKey: CONNECT_STORAGE_KEY, loopback: LOOPBACK_CONNECT_SOURCES };
  const json = JSON.stringify(config).replace(/</g, '\\u003c'); // nothing in it can close the <script>
  return `(${installPolicy.toString()})(${json}, ${connectOrigin.toString()});`;
}

/** The policy this page runs under (its <meta> element's content), or undefined when there is none. */
export function currentPolicy(): string | undefined {
  return document.querySelector<HTMLMetaElement>('meta[http-equiv="Content-Security-Policy" i]')?.content;
}

/** Whether the page's policy lets it (and its workers) connect to `url`. */
export function connectAllowed(url: string, policy = currentPolicy()): boolean {
  if (policy === undefined) return true;
  const target = new URL(url, location.href);
  const directives = new Map(policy.split(';').map((part) => part.trim().split(/\s+/)).map(([name, ...sources]) => [name, sources]));
  const sources = directives.get('connect-src') ?? directives.get('default-src');
  if (!sources) return true;
  return sources.some((source) => {
    if (source === "'self'") return target.origin === location.origin;
    const match = /^([a-z]+):\/\/(\*\.)?([^:/]+)(?::(\d+|\*))?$/.exec(source);
    if (!match) return false;
    const [, scheme, wildcard, host, port] = match;
    const schemeOk = `${scheme}:` === target.protocol || (scheme === 'http' && target.protocol === 'https:') || (scheme === 'ws' && target.protocol === 'wss:');
    const hostOk = wildcard ? target.hostname.endsWith(`.${host}`) : target.hostname === host;
    const portOk = port === '*' || (port ?? '') === target.port;
    return schemeOk && hostOk && portOk;
  });
}

/** The origins saved for the policy (see `allowConnections`). */
export function savedConnections(): string[] {
  try {
    const saved: unknown = JSON.parse(localStorage.getItem(CONNECT_STORAGE_KEY) || '[]');
    return Array.isArray(saved) ? saved.filter((origin): origin is string => connectOrigin(origin) === origin) : [];
  } catch {
    return [];
  }
}

/**
 * Lets the page connect to `urls`' origins (a hub or an LLM endpoint the user picked) from the next load
 * on: saves them in localStorage, then reloads the page when the running policy does not already allow
 * one of them (pass `reload: false` to only save; the caller then tells the user to reload). Returns
 * whether a reload is (or was) needed.
 */
export function allowConnections(urls: string[], options: { reload?: boolean } = {}): boolean {
  const origins = urls.map((url) => connectOrigin(url, location.href)).filter((origin): origin is string => !!origin && origin !== location.origin);
  const saved = savedConnections();
  const added = origins.filter((origin) => !saved.includes(origin));
  if (added.length) localStorage.setItem(CONNECT_STORAGE_KEY, JSON.stringify([...saved, ...added]));
  const needsReload = origins.some((origin) => !connectAllowed(origin));
  if (needsReload && options.reload !== false) location.reload();
  return needsReload;
}

/**
 * `new PolicyWorker(url, options)` starts the module worker at `url` under the page's policy: from a
 * blob: module (which inherits the page's policy) that imports `url`. The blob URL is not revoked: the
 * worker's own module graph is fetched after the constructor returns.
 */
export class PolicyWorker {
  constructor(url: string | URL, options: WorkerOptions = {}) {
    const source = `import ${JSON.stringify(new URL(url, location.href).href)};\n`;
    const blobUrl = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
    return new Worker(blobUrl, { ...options, type: 'module' });
  }
}
/** The constructor returns the Worker itself. */
export interface PolicyWorker extends Worker {}
