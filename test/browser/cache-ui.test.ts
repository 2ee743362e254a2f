/** The corpus and cache panels as a user meets them: upload text, tokenize, cache, see it listed, export. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FIXTURES } from '../support/sae-fixtures.ts';
import { goto, launch, openApp, type Browser } from './harness.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

test('upload a corpus, tokenize it, cache activations with progress, and export the cache', async () => {
  const { page } = browser;
  await openApp(browser.page, { sae: 'saelens-standard' });
  await goto(page, 'cache');

  await page.getByTestId('corpus-file').setInputFiles({ name: 'documents.jsonl', mimeType: 'application/json', buffer: readFileSync(join(FIXTURES, 'corpus/documents.jsonl')) });
  await page.getByTestId('corpus-column').waitFor();
  expect(await page.getByTestId('corpus-column').inputValue()).toBe('text');
  await page.getByTestId('corpus-ctx').fill('32');
  await page.getByTestId('corpus-tokens').fill('2000');
  await page.getByTestId('corpus-prepare').click();
  const summary = page.getByTestId('corpus-summary');
  await summary.waitFor();
  // The small corpus ends before the budget: every whole row of it is used, and the page says so.
  expect(await summary.textContent()).toMatch(/34 rows × 32 = 1,088 tokens from 12 documents of documents.jsonl \[text\] \(the corpus ended before the budget\)/);

  await page.getByTestId('cache-start').click();
  const list = page.getByTestId('cache-list');
  await list.locator('text=done').waitFor();
  expect(await list.textContent()).toContain('blocks.1.hook_resid_pre');
  expect(await page.getByTestId('cache-storage').textContent()).toMatch(/Browser storage: [\d.]+ MB used, [\d.]+ (MB|GB) free/);
  const download = page.waitForEvent('download');
  await list.getByRole('button', { name: /^Export the cache/ }).click();
  const file = await download;
  expect(file.suggestedFilename()).toMatch(/^blocks\.1\.hook_resid_pre-cache-.*\.zip$/);
  await page.screenshot({ path: 'test-results/cache-ui.png', fullPage: true });

  // The same corpus again, with the same model, SAE and settings: the cache there is offered, nothing is made.
  const rows = () => list.locator('tbody tr').count();
  const before = await rows();
  await page.getByTestId('cache-start').click();
  const same = page.getByTestId('cache-duplicate');
  await same.waitFor();
  expect(await same.textContent()).toMatch(/already cached with this model, SAE and settings \(done/);
  expect(await rows()).toBe(before);
  expect(await page.getByTestId('cache-duplicate-open').getAttribute('href')).toMatch(/^#\/features\/cache-/);
  // Other settings (another row length) are another cache: made without a word.
  await page.getByTestId('corpus-ctx').fill('16');
  await page.getByTestId('corpus-prepare').click();
  await expect.poll(() => summary.textContent()).toMatch(/× 16 =/);
  await page.getByTestId('cache-start').click();
  await expect.poll(rows).toBe(before + 1);
  expect(await same.count()).toBe(0);
  await expect.poll(() => list.locator('text=done').count()).toBe(before + 1);
  expect(browser.errors).toEqual([]);
});

test('a Hugging Face dataset is read from the hub over HTTP in the worker; a missing one gets a clear message', async () => {
  const { page } = browser;
  await openApp(browser.page);
  await goto(page, 'cache');
  await page.getByTestId('corpus-mode-hub').check();

  await page.getByTestId('corpus-repo').fill('autointerp-test/no-such-corpus');
  await page.getByTestId('corpus-find-columns').click();
  const error = page.getByTestId('corpus-error');
  await error.waitFor();
  expect(await error.textContent()).toContain('autointerp-test/no-such-corpus');

  await page.getByTestId('corpus-repo').fill('autointerp-test/tiny-corpus');
  await page.getByTestId('corpus-find-columns').click();
  await page.getByTestId('corpus-column').or(page.getByTestId('corpus-error')).waitFor();
  expect(await page.getByTestId('corpus-error').count()).toBe(0);
  expect(await page.getByTestId('corpus-column').locator('option').allTextContents()).toEqual(expect.arrayContaining(['text', 'title']));
  expect(await page.getByTestId('corpus-column').inputValue()).toBe('text');
  await page.getByTestId('corpus-ctx').fill('32');
  await page.getByTestId('corpus-tokens').fill('640');
  await page.getByTestId('corpus-prepare').click();
  const summary = page.getByTestId('corpus-summary');
  await summary.waitFor();
  // The budget (20 rows of 32) fills before the dataset's 38 paragraphs end.
  expect(await summary.textContent()).toMatch(/^20 rows × 32 = 640 tokens from \d+ documents of .*autointerp-test\/tiny-corpus/);
  expect(await summary.textContent()).not.toContain('ended before the budget');
  expect(browser.errors).toEqual([]);
});

test('pause a run, resume it from the list, then cancel it: the cache is gone', async () => {
  const { page } = browser;
  await openApp(browser.page, { sae: 'saelens-topk' });
  await goto(page, 'cache');
  const before = await page.getByTestId('cache-list').locator('tbody tr').count().catch(() => 0);

  // A corpus big enough that the run takes many batches (the fixture's paragraphs, a hundred times over).
  const text = readFileSync(join(FIXTURES, 'corpus/paragraphs.txt'), 'utf8');
  await page.getByTestId('corpus-file').setInputFiles({ name: 'long.txt', mimeType: 'text/plain', buffer: Buffer.from(Array(100).fill(text).join('\n\n')) });
  await page.getByTestId('corpus-ctx').fill('32');
  await page.getByTestId('corpus-prepare').click();
  await page.getByTestId('corpus-summary').waitFor();
  // A TopK SAE with k 8 stores 8 activations of 4 bytes per token, plus 2 bytes for the token.
  const tokens = Number(/= ([\d,]+) tokens/.exec((await page.getByTestId('corpus-summary').textContent())!)![1]!.replace(/,/g, ''));
  expect(await page.getByTestId('cache-estimate').textContent()).toContain(`about ${((tokens * 34) / 1e6).toFixed(2)} MB (8 activations per token`);

  await page.getByTestId('cache-start').click();
  await page.getByTestId('cache-progress').waitFor(); // the first batch is in
  await page.getByTestId('cache-pause').click();
  const row = page.getByTestId('cache-list').locator('tbody tr').first();
  await row.getByTestId('cache-status').filter({ hasText: 'paused' }).waitFor();
  expect(await page.getByTestId('cache-pause').count()).toBe(0);
  await page.getByTestId('cache').screenshot({ path: 'test-results/cache-paused.png' });

  await row.getByRole('button', { name: 'Resume' }).click();
  await page.getByTestId('cache-progress').waitFor();
  await page.getByTestId('cache-cancel').click();
  await page.getByTestId('cache-start').and(page.locator(':enabled')).waitFor();
  await expect.poll(async () => page.getByTestId('cache-list').locator('tbody tr').count().catch(() => 0)).toBe(before);
  expect(await page.evaluate(() => (globalThis as any).autointerp.engine.listCaches().then((l: unknown[]) => l.length))).toBe(before);
  expect(browser.errors).toEqual([]);
});
