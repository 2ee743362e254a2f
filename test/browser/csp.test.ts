/**
 * The page's Content-Security-Policy (src/ui/content-security-policy.ts), checked in Chromium: scripts
 * from elsewhere and injected inline scripts do not run, the engine worker runs under the same policy
 * (its fetches to hosts not allowed are refused, with a clear error), and hosts get in through `?hub=`
 * and the saved list in localStorage. The built app also works from a sub-path.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startLlmServer } from '../../scripts/servers/llm-server.ts';
import { startStaticServer, type StaticServer } from '../../scripts/servers/static-server.ts';
import { appUrl, hubUrl, launch, type Browser } from './harness.ts';

const REPO = 'autointerp-test/tiny-gpt2';
const root = resolve(import.meta.dirname, '../..');

let browser: Browser;
let scripts: StaticServer;
let otherHub: StaticServer;
let scriptDir: string;
beforeAll(async () => {
  scriptDir = mkdtempSync(join(tmpdir(), 'autointerp-csp-'));
  writeFileSync(join(scriptDir, 'foreign.js'), 'globalThis.foreignScriptRan = true;\n');
  // Another origin serving a script.
  scripts = await startStaticServer([{ prefix: '/', root: scriptDir }]);
  // A second hub stand-in on a host the page does not allow by default (127.0.0.2 is not 127.0.0.1).
  otherHub = await startStaticServer([{ prefix: '/', root: resolve(root, 'test/fixtures/hub'), hubLayout: true }], { host: '127.0.0.2' });
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  await scripts?.close();
  await otherHub?.close();
  if (scriptDir) rmSync(scriptDir, { recursive: true, force: true });
});

const policyOf = (page: Browser['page']) =>
  page.evaluate(() => {
    const metas = [...document.head.querySelectorAll('meta[http-equiv="Content-Security-Policy"]')] as HTMLMetaElement[];
    return { count: metas.length, content: metas[0]?.content ?? '', index: metas[0] ? [...document.head.children].indexOf(metas[0]) : -1 };
  });

const directive = (policy: string, name: string): string[] =>
  policy.split(';').map((part) => part.trim().split(/\s+/)).find(([n]) => n === name)?.slice(1) ?? [];

test('the page writes its policy before anything else, and it refuses foreign and injected scripts', async () => {
  const { page } = browser;
  await page.goto(appUrl());
  await page.getByTestId('adapter-name').waitFor();

  const policy = await policyOf(page);
  expect(policy.count).toBe(1);
  expect(policy.index).toBe(2); // <meta charset>, the inline script that writes the policy, the policy
  expect(directive(policy.content, 'script-src')).toEqual(["'self'", "'wasm-unsafe-eval'", 'blob:']);
  expect(directive(policy.content, 'worker-src')).toEqual(["'self'", 'blob:']);
  expect(directive(policy.content, 'style-src')).toEqual(["'self'"]);
  expect(directive(policy.content, 'object-src')).toEqual(["'none'"]);
  expect(directive(policy.content, 'base-uri')).toEqual(["'self'"]);
  expect(directive(policy.content, 'connect-src')).toEqual(expect.arrayContaining(["'self'", 'https://huggingface.co', 'https://*.huggingface.co', 'https://*.hf.co']));
  // The app itself ran under it without a single refusal.
  expect(browser.errors).toEqual([]);

  const foreign = `${scripts.url}foreign.js`;
  const outcome = await page.evaluate(async (src) => {
    const violations: { directive: string; blocked: string }[] = [];
    document.addEventListener('securitypolicyviolation', (event) => violations.push({ directive: event.effectiveDirective, blocked: event.blockedURI }));
    const external = document.createElement('script');
    external.src = src;
    const loaded = await new Promise<string>((done) => {
      external.onload = () => done('load');
      external.onerror = () => done('error');
      document.head.append(external);
    });
    const inline = document.createElement('script');
    inline.textContent = 'globalThis.inlineScriptRan = true;';
    document.body.append(inline);
    let evalRan = false;
    try {
      evalRan = (0, eval)('true');
    } catch {
      // refused: no 'unsafe-eval'
    }
    await new Promise((done) => setTimeout(done, 200));
    const g = globalThis as any;
    return { loaded, foreignRan: !!g.foreignScriptRan, inlineRan: !!g.inlineScriptRan, evalRan, violations };
  }, foreign);
  expect(outcome).toMatchObject({ loaded: 'error', foreignRan: false, inlineRan: false, evalRan: false });
  expect(outcome.violations).toEqual(expect.arrayContaining([
    { directive: 'script-src-elem', blocked: foreign },
    { directive: 'script-src-elem', blocked: 'inline' },
  ]));
  expect(browser.errors.some((error) => error.includes(foreign) && error.includes('Content Security Policy'))).toBe(true);
  // Not a broken fixture: without the policy the same script runs.
  const open = await browser.context.newPage();
  await open.goto(`${scripts.url}`).catch(() => undefined);
  const ranElsewhere = await open.evaluate(async (src) => {
    const s = document.createElement('script');
    s.src = src;
    await new Promise((done) => ((s.onload = done), (s.onerror = done), document.head.append(s)));
    return !!(globalThis as any).foreignScriptRan;
  }, foreign);
  expect(ranElsewhere).toBe(true);
  await open.close();
  browser.errors.length = 0;
});

test('the engine worker runs under the page policy: hosts not allowed are refused, ?hub= and saved hosts get in', async () => {
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  await page.goto(appUrl());
  await page.getByTestId('adapter-name').waitFor();
  const load = (hub: string) =>
    page.evaluate(async ({ hub, repo }) => {
      try {
        const model = await (globalThis as any).autointerp.engine.loadModel({ repo, hubUrl: hub });
        return { ok: true as const, model };
      } catch (error) {
        return { ok: false as const, message: (error as Error).message };
      }
    }, { hub, repo: REPO });
  const other = otherHub.url.replace(/\/$/, '');
  expect(other).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);

  // The worker's fetch to a host the page does not allow is refused, and the error says why.
  expect(directive((await policyOf(page)).content, 'connect-src')).not.toContain(other);
  const refused = await load(otherHub.url);
  expect(refused.ok).toBe(false);
  expect(refused.ok === false && refused.message).toContain(`Content-Security-Policy does not allow connections to ${other}`);
  expect(otherHub.requests).toEqual([]);

  // The hub stand-in (a loopback host, as the page is) is allowed: the same worker downloads the model.
  const allowed = await load(hubUrl());
  expect(allowed).toMatchObject({ ok: true, model: { repo: REPO, nLayer: 3 } });

  // A saved host gets in on the next load; junk in the saved list adds nothing to the policy.
  await page.evaluate(([key, origins]) => localStorage.setItem(key, JSON.stringify(origins)), [
    'autointerp.connect',
    [`${other}/some/path`, "'unsafe-inline'", 'https://evil.example; script-src *', 'javascript:alert(1)', 'data:text/plain,x', 42],
  ] as const);
  await page.reload();
  await page.getByTestId('adapter-name').waitFor();
  const saved = (await policyOf(page)).content;
  expect(directive(saved, 'connect-src')).toContain(other);
  expect(saved).not.toContain('evil.example');
  expect(saved).not.toContain('unsafe-inline');
  expect(saved).not.toMatch(/javascript:|data:text/);
  expect(directive(saved, 'script-src')).toEqual(["'self'", "'wasm-unsafe-eval'", 'blob:']);
  expect(await load(otherHub.url)).toMatchObject({ ok: true, model: { repo: REPO } });
  expect(otherHub.requests).toContain(`/${REPO}/resolve/main/onnx/model.onnx`);

  // `?hub=` allows that hub for the page it opens.
  await page.evaluate(() => localStorage.clear());
  await page.goto(appUrl({ hub: otherHub.url, model: REPO }));
  expect(directive((await policyOf(page)).content, 'connect-src')).toContain(other);
  expect(errors.filter((error) => !error.includes(other))).toEqual([]);
  await page.close();
});

test('an LLM endpoint on a host the policy does not list yet: Connect saves it and says so, and after a reload it connects', async () => {
  const llm = await startLlmServer({ keys: ['sk-elsewhere'], host: '127.0.0.2' });
  const page = await browser.context.newPage();
  try {
    await page.goto(`${appUrl()}#/explain`);
    await page.getByTestId('llm-connect').waitFor();
    expect(directive((await policyOf(page)).content, 'connect-src')).not.toContain(llm.url);
    await page.getByTestId('llm-base-url').fill(llm.openRouterBase);
    await page.getByTestId('llm-key').fill('sk-elsewhere');
    await page.getByTestId('llm-connect').click();
    // Not "CORS": the page's own policy is what stands in the way, and it is said so; nothing was sent.
    expect(await page.getByTestId('llm-needs-reload').textContent()).toMatch(new RegExp(`connects to ${llm.url.replaceAll('.', '\\.')} from its next load on: its security policy`));
    expect(await page.getByTestId('llm-models-error').count()).toBe(0);
    expect(llm.requests).toEqual([]);
    await page.getByTestId('llm-reload').click();
    await page.getByTestId('llm-connect').waitFor();
    expect(directive((await policyOf(page)).content, 'connect-src')).toContain(llm.url);
    // The endpoint and the key (this tab's) are kept: Connect is all it takes.
    expect(await page.getByTestId('llm-base-url').inputValue()).toBe(llm.openRouterBase);
    await page.getByTestId('llm-connect').click();
    await page.getByTestId('llm-model').waitFor();
    expect(await page.getByTestId('llm-needs-reload').count()).toBe(0);
    expect(llm.requests.some((r) => r.path === '/api/v1/models')).toBe(true);
  } finally {
    await page.evaluate(() => localStorage.clear()).catch(() => undefined);
    await page.close();
    await llm.close();
  }
});

test('the built app runs from a sub-path: worker, wasm and the bundled demo hub under the policy', async () => {
  const site = await startStaticServer([{ prefix: '/some/sub/path/', root: resolve(root, 'dist') }]);
  const page = await browser.context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
  page.on('pageerror', (error) => errors.push(String(error)));
  const onRequest = (request: { url(): string }) => requests.push(request.url());
  browser.context.on('request', onRequest);
  try {
    const base = `${site.url}some/sub/path/`;
    await page.goto(base);
    await page.getByTestId('adapter-name').waitFor();
    expect((await policyOf(page)).count).toBe(1);
    const result = await page.evaluate(async ({ repo, hub }) => {
      const { engine } = (globalThis as any).autointerp;
      await engine.loadModel({ repo, hubUrl: hub });
      const logits = await engine.logits([[1, 2, 3]]);
      return logits.dims;
    }, { repo: REPO, hub: `${base}demo-hub/` });
    expect(result).toEqual([1, 3, 4097]);
    // onnxruntime's wasm came from the sub-path's assets.
    expect(requests.some((url) => url.startsWith(`${base}assets/`) && url.endsWith('.wasm'))).toBe(true);
    expect(errors).toEqual([]);
  } finally {
    browser.context.off('request', onRequest);
    await page.close();
    await site.close();
  }
});
