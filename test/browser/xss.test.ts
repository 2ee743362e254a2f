/**
 * Text from outside is shown as text, never run as HTML: tokens of a corpus, the text typed into "Try
 * your own text", explanations written by an LLM and imported from delphi's files, LLM model ids and
 * names, and file names, each holding `<script>` and `<img onerror>`, go through every screen; nothing
 * runs, no element is made from them, and the page shows them literally. (The page's policy would also
 * refuse inline handlers: a policy violation would mean something reached the DOM as HTML.)
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startLlmServer, STAND_IN_MODELS, type LlmServer } from '../../scripts/servers/llm-server.ts';
import { exportResultsZip } from '../../src/lib/index.ts';
import { goto, launch, openApp, type Browser } from './harness.ts';

const IMG = '<img src=x onerror="window.__xss=(window.__xss||0)+1">';
const SCRIPT = '<script>window.__xss=(window.__xss||0)+1</script>';
const MODEL = `evil/${IMG}`;
let browser: Browser;
let llm: LlmServer;

beforeAll(async () => {
  llm = await startLlmServer({ models: [{ ...STAND_IN_MODELS[0]!, id: MODEL, name: `${SCRIPT} model` }] });
  browser = await launch();
  await browser.page.addInitScript(() => {
    (globalThis as any).__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => (globalThis as any).__violations.push(`${e.violatedDirective} ${e.sample}`));
  });
});
afterAll(async () => {
  await browser?.close();
  await llm?.close();
});

/** Nothing ran, no element came from the payloads, and the policy refused nothing. */
async function expectNothingRan(page: Page, where: string): Promise<void> {
  const state = await page.evaluate(() => ({
    ran: (globalThis as any).__xss,
    images: [...document.querySelectorAll('img')].filter((img) => img.getAttribute('src') === 'x').length,
    scripts: [...document.scripts].filter((script) => script.textContent?.includes('__xss')).length,
    handlers: [...document.querySelectorAll('[onerror]')].length,
    violations: (globalThis as any).__violations as string[],
  }));
  expect(state, where).toEqual({ ran: undefined, images: 0, scripts: 0, handlers: 0, violations: [] });
}

const pageText = (page: Page) => page.evaluate(() => document.body.innerText);

test('tokens, typed text, explanations, model names and file names holding <script> and <img onerror> are shown as text on every screen', async () => {
  const { page } = browser;
  await openApp(page, { sae: 'saelens-topk' });

  // Your own text.
  await page.getByTestId('sample-text').fill(`Hello ${IMG} and ${SCRIPT} there.`);
  await page.getByTestId('sample-encode').click();
  await page.getByTestId('try-tokens').waitFor();
  await page.getByTestId('try-token').nth(2).click();
  expect((await page.getByTestId('try-tokens').innerText()).replace(/\s+/g, '')).toContain('<imgsrc=xonerror=');
  await expectNothingRan(page, 'setup');

  // A corpus whose tokens hold the payloads, cached.
  await goto(page, 'cache');
  const paragraph = `People wrote ${IMG} in a comment, then ${SCRIPT} after it, and the page showed it.`;
  await page.getByTestId('corpus-file').setInputFiles({ name: `${IMG}.txt`, mimeType: 'text/plain', buffer: Buffer.from(Array.from({ length: 60 }, () => paragraph).join('\n\n')) });
  await page.getByTestId('corpus-ctx').fill('64');
  await page.getByTestId('corpus-tokens').fill('2000');
  await page.getByTestId('corpus-prepare').click();
  await page.getByTestId('corpus-summary').waitFor();
  await page.getByTestId('cache-start').click();
  await page.getByTestId('cache-list').locator('text=done').waitFor();
  expect(await pageText(page)).toContain(`${IMG}.txt`);
  await expectNothingRan(page, 'cache');
  const runId: string = await page.evaluate(async () => (await (globalThis as any).autointerp.engine.listCaches())[0].id);

  // Explained and scored by a model whose id and name hold the payloads; the stand-in's explanations quote the tokens.
  await goto(page, 'explain');
  await page.getByTestId('explain-cache-link').first().click();
  await page.getByTestId('llm-base-url').fill(llm.openRouterBase);
  await page.getByTestId('llm-key').fill('sk-any');
  await page.getByTestId('llm-connect').click();
  await page.getByTestId('llm-model').waitFor();
  await page.getByTestId('llm-model').selectOption(MODEL);
  await page.getByTestId('explain-min-examples').fill('2');
  await page.getByTestId('explain-max-features').fill('8');
  await page.getByTestId('explain-plan').waitFor();
  await page.getByTestId('explain-start').click();
  await page.locator('[data-testid="explain-job"][data-status="done"]').waitFor();
  await page.getByTestId('score-start').click();
  await page.locator('[data-testid="score-job"][data-status="done"]').waitFor();
  const text = await pageText(page);
  expect(text).toContain(MODEL);
  expect((await page.locator('[data-testid="llm-model"] option').allTextContents()).join('\n')).toContain(MODEL);
  await expectNothingRan(page, 'explain');

  // delphi results whose explanations and file name hold the payloads, imported on Results.
  const [first, second] = (await page.evaluate((id) => (globalThis as any).autointerp.interp.qualifyingFeatures(id, 1), runId)) as number[];
  const hook: string = await page.evaluate(async () => (await (globalThis as any).autointerp.engine.listCaches())[0].settings.sae.hookName);
  const record = (activating: boolean, prediction: number) => ({ str_tokens: ['a', IMG, SCRIPT], activations: activating ? [0, 1, 2] : [0, 0, 0], distance: activating ? 0 : -1, activating, prediction, probability: null, correct: (prediction === 1) === activating });
  const zip = await exportResultsZip([
    { hook, feature: first!, explanation: `fires on ${IMG}`, scores: { detection: [record(true, 1), record(false, 0)] } },
    { hook, feature: second!, explanation: `fires on ${SCRIPT}`, scores: { detection: [record(true, 0), record(false, 0)] } },
  ]);
  await goto(page, 'results');
  await page.getByTestId('results-import-zip').setInputFiles({ name: `${IMG}.zip`, mimeType: 'application/zip', buffer: Buffer.from(await zip.arrayBuffer()) });
  await page.getByTestId('results-import-report').waitFor();
  await page.getByTestId('results-metrics-row').first().waitFor();
  expect(await pageText(page)).toContain(`${IMG}.zip`);
  await expectNothingRan(page, 'results');

  // The table: the explanations, searchable; the feature page: explanations, judgements with the payload tokens.
  await goto(page, 'features');
  expect(await pageText(page)).toContain(`${IMG}.txt`); // the cache's corpus, in the list of caches
  await page.getByTestId('features-cache-link').first().click();
  await page.getByTestId('features-row').first().waitFor();
  await page.getByTestId('features-sort-detection').click();
  expect(await page.getByTestId('features-table').innerText()).toContain(`fires on ${IMG}`);
  await page.goto(`${page.url().split('#')[0]}#/features/${encodeURIComponent(runId)}/${first}`);
  await page.getByTestId('feature-judgement').first().waitFor();
  const feature = await pageText(page);
  expect(feature).toContain(`fires on ${IMG}`);
  expect(feature.replace(/\s+/g, '')).toContain(IMG.replace(/\s+/g, ''));
  await expectNothingRan(page, 'feature page');
  await page.goto(`${page.url().split('#')[0]}#/features/${encodeURIComponent(runId)}/${second}`);
  await page.getByTestId('feature-judgement').first().waitFor();
  expect(await pageText(page)).toContain(`fires on ${SCRIPT}`);
  await expectNothingRan(page, 'second feature page');
  expect(browser.errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
});
