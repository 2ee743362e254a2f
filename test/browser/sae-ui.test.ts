/** The SAE panel as a user meets it: drop files, read the summary, set what is missing, encode a sample. */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launch, openApp, saeUpload, type Browser } from './harness.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
  await openApp(browser.page);
});
afterAll(async () => {
  await browser?.close();
});

test('dropping a SAELens SAE shows its summary; using it encodes a sample on the GPU', async () => {
  const { page } = browser;
  await page.getByTestId('sae-files').setInputFiles(saeUpload('saelens-topk'));
  const summary = page.getByTestId('sae-summary');
  await summary.waitFor();
  const text = (await summary.textContent()) ?? '';
  for (const expected of ['SAELens', 'TopK', 'k = 8', '128 features', 'blocks.2.hook_resid_post', 'F16']) expect(text).toContain(expected);
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor({ timeout: 60_000 });
  await page.getByTestId('sample-encode').click();
  const table = page.getByTestId('sample-table');
  await table.waitFor({ timeout: 60_000 });
  const rows = await table.locator('tbody tr').allTextContents();
  expect(rows.length).toBeGreaterThan(5);
  // A TopK SAE with k = 8 fires at most 8 features per token, and some token fires several.
  const active = await table.locator('tbody tr td:nth-child(2)').allTextContents();
  expect(active.every((a) => Number(a) <= 8)).toBe(true);
  expect(Math.max(...active.map(Number))).toBeGreaterThan(1);
  await page.screenshot({ path: 'test-results/sae-ui.png', fullPage: true });
});

test('settings the files leave open must be set before use', async () => {
  const { page } = browser;
  await page.getByTestId('sae-files').setInputFiles(saeUpload('saelens-jumprelu'));
  await page.getByTestId('sae-summary').waitFor();
  expect(await page.getByTestId('sae-use').isDisabled()).toBe(true);
  await page.getByTestId('sae-center').selectOption('no');
  expect(await page.getByTestId('sae-use').isDisabled()).toBe(false);
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor({ timeout: 60_000 });
});

test('a corrupt SAE file gets a clear message and the page keeps working', async () => {
  const { page } = browser;
  await page.getByTestId('sae-files').setInputFiles(saeUpload('malformed-header-length'));
  const error = page.getByTestId('sae-error');
  await error.waitFor();
  expect(await error.textContent()).toMatch(/header/i);
  // The code stays a property of the error (it crossed the worker boundary); the user reads the message alone.
  expect(await error.textContent()).not.toMatch(/\[[a-z-]+\/[a-z-]+\]/);
  const code = await page.evaluate(() => (globalThis as any).autointerp.engine.openSaeFiles([{ path: 'sae_weights.safetensors', blob: new Blob([new Uint8Array(4)]) }]).catch((e: any) => e.code));
  expect(code).toBe('safetensors/too-small');
  // An SAE that cannot read this model is refused before anything runs, saying why.
  await page.getByTestId('sae-files').setInputFiles(saeUpload('malformed-d-in-48'));
  await page.getByTestId('sae-summary').waitFor();
  expect(await page.getByTestId('sae-model-error').textContent()).toMatch(/reads vectors of 48 numbers, .*No hook point of this model has that width: the SAE was trained on another model\.$/);
  expect(await page.getByTestId('sae-use').isDisabled()).toBe(true);
  expect(browser.errors).toEqual([]);
});
