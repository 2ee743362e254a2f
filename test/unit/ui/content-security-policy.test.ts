/**
 * The policy's pure parts in Node: which hosts can get into connect-src, the inline bootstrap run on its
 * own (as the page runs it, before any module), and the check of a URL against the running policy.
 * test/browser/csp.test.ts checks the policy in Chromium.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { allowConnections, connectAllowed, connectOrigin, CONNECT_STORAGE_KEY, policyBootstrap } from '../../../src/ui/content-security-policy.ts';

function fakeStorage(initial: Record<string, string> = {}) {
  const items = new Map(Object.entries(initial));
  return { getItem: (key: string) => items.get(key) ?? null, setItem: (key: string, value: string) => void items.set(key, value), items };
}

/** Runs the inline script against a fake page and returns the policy it wrote. */
function runBootstrap(href: string, storage = fakeStorage(), dev = false): string {
  const written: { httpEquiv?: string; content?: string }[] = [];
  const head = { prepend: (meta: object) => written.push(meta) };
  const script = { parentNode: head, after: (meta: object) => written.push(meta) };
  const document = { head, currentScript: script, createElement: () => ({}) };
  const url = new URL(href);
  new Function('location', 'localStorage', 'document', policyBootstrap({ dev }))({ href, hostname: url.hostname, search: url.search }, storage, document);
  expect(written).toHaveLength(1);
  expect(written[0]!.httpEquiv).toBe('Content-Security-Policy');
  return written[0]!.content!;
}

const connectSrc = (policy: string) => policy.split('; ').find((d) => d.startsWith('connect-src '))!.split(' ').slice(1);

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('connectOrigin', () => {
  test.each([
    ['https://hub.example.org/some/path?q=1', 'https://hub.example.org'],
    ['http://localhost:8000/v1', 'http://localhost:8000'],
    ['HTTPS://OpenRouter.AI/api/v1', 'https://openrouter.ai'],
    ['wss://relay.example', 'wss://relay.example'],
  ])('%s -> %s', (value, origin) => {
    expect(connectOrigin(value)).toBe(origin);
  });

  test.each([["'unsafe-inline'"], ['https://a.example; script-src *'], ['https://a.example script-src'], ['javascript:alert(1)'], ['data:text/plain,x'], ['blob:https://a.example/x'], ['file:///etc'], ['http://[::1]:8000'], ['*'], ['']])('refuses %s', (value) => {
    expect(connectOrigin(value)).toBeUndefined();
  });

  test('refuses what is not a string', () => {
    expect(connectOrigin(42)).toBeUndefined();
    expect(connectOrigin(null)).toBeUndefined();
  });
});

describe('the inline bootstrap', () => {
  test('writes the fixed policy on a public host', () => {
    const policy = runBootstrap('https://someone.github.io/autointerp/');
    expect(policy).toContain("script-src 'self' 'wasm-unsafe-eval' blob:");
    expect(policy).toContain("style-src 'self';");
    expect(connectSrc(policy)).toEqual(["'self'", 'https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co', 'https://openrouter.ai']);
  });

  test('adds ?hub=, the saved hosts, and loopback when served from loopback; skips junk', () => {
    const storage = fakeStorage({ [CONNECT_STORAGE_KEY]: JSON.stringify(['http://localhost:8000/v1', "'unsafe-eval'", 'https://x.example; script-src *', 7]) });
    const policy = runBootstrap(`https://someone.github.io/app/?hub=${encodeURIComponent('https://mirror.example/hub/')}`, storage);
    expect(connectSrc(policy).slice(5)).toEqual(['https://mirror.example', 'http://localhost:8000']);
    expect(policy).not.toContain("'unsafe-eval'");
    expect(connectSrc(runBootstrap('http://127.0.0.1:4173/'))).toEqual(expect.arrayContaining(['http://127.0.0.1:*', 'http://localhost:*']));
  });

  test('still writes the policy when storage holds no JSON', () => {
    const policy = runBootstrap('https://someone.github.io/', fakeStorage({ [CONNECT_STORAGE_KEY]: '{not json' }));
    expect(connectSrc(policy)).toHaveLength(5);
  });

  test('allows inline styles on the dev server only', () => {
    expect(runBootstrap('http://127.0.0.1:5173/', fakeStorage(), true)).toContain("style-src 'self' 'unsafe-inline'");
  });
});

describe('connectAllowed and allowConnections', () => {
  const policy = "default-src 'self'; connect-src 'self' https://huggingface.co https://*.hf.co http://127.0.0.1:*";

  test('match sources as Chromium does for these forms', () => {
    vi.stubGlobal('location', new URL('https://app.example/x/'));
    expect(connectAllowed('https://app.example/y', policy)).toBe(true);
    expect(connectAllowed('https://huggingface.co/Xenova/gpt2', policy)).toBe(true);
    expect(connectAllowed('https://cas-bridge.xethub.hf.co/file', policy)).toBe(true);
    expect(connectAllowed('https://hf.co/file', policy)).toBe(false);
    expect(connectAllowed('http://127.0.0.1:8000/v1', policy)).toBe(true);
    expect(connectAllowed('http://localhost:8000/v1', policy)).toBe(false);
    expect(connectAllowed('https://openrouter.ai/api/v1', policy)).toBe(false);
  });

  test('save the new origins and reload only when the running policy lacks one', () => {
    const storage = fakeStorage();
    const reload = vi.fn();
    vi.stubGlobal('localStorage', storage);
    vi.stubGlobal('location', Object.assign(new URL('https://app.example/'), { reload }));
    vi.stubGlobal('document', { querySelector: () => ({ content: policy }) });
    expect(allowConnections(['https://huggingface.co/'])).toBe(false);
    expect(reload).not.toHaveBeenCalled();
    expect(allowConnections(['http://localhost:8000/v1', 'not a url'])).toBe(true);
    expect(reload).toHaveBeenCalledOnce();
    expect(JSON.parse(storage.items.get(CONNECT_STORAGE_KEY)!)).toEqual(['https://huggingface.co', 'http://localhost:8000']);
    expect(allowConnections(['http://localhost:8000'], { reload: false })).toBe(true);
    expect(reload).toHaveBeenCalledOnce();
    expect(JSON.parse(storage.items.get(CONNECT_STORAGE_KEY)!)).toHaveLength(2);
  });
});
