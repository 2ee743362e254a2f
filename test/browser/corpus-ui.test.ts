/**
 * The corpus panel as a user meets it: the bundled demo dataset read from the demo hub the app ships
 * (dist/demo-hub/, served here by scripts/servers/static-server.ts as `npm start` serves it), a
 * dataset hub of its own, the "Parquet files" field the not-found message points to, a binary file
 * named .jsonl, the same file picked twice, the numbers checked where they are typed, and labels.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { appUrl, goto, hubUrl, launch, openApp, type Browser } from './harness.ts';

let browser: Browser;
beforeAll(async () => void (browser = await launch()));
afterAll(() => browser?.close());

const columnsOrError = async () => {
  const { page } = browser;
  await page.getByTestId('corpus-column').or(page.getByTestId('corpus-error')).waitFor();
  return (await page.getByTestId('corpus-error').count()) ? await page.getByTestId('corpus-error').textContent() : undefined;
};

/** Control characters, invalid UTF-8 (U+FFFD) and lone surrogates: what a message must never show raw. */
const UNPRINTABLE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\ufffd\ud800-\udfff]/;

test('the demo dataset loads from the demo hub after the demo model; datasets have their own hub and a parquet files field', async () => {
  const { page } = browser;
  await openApp(browser.page, { model: 'demo' });
  await goto(page, 'cache');
  const demoHub = new URL('demo-hub/', appUrl()).href;
  await page.getByTestId('corpus-mode-hub').check();
  await page.getByTestId('corpus-repo').fill('autointerp-test/tiny-corpus');
  await page.getByTestId('corpus-find-columns').click();
  expect(await columnsOrError()).toBeUndefined();
  expect(await page.getByTestId('corpus-column').locator('option').allTextContents()).toEqual(['text', 'title', 'id']);
  // The demo model was chosen, so the dataset hub is the demo hub, and it is a setting of its own.
  expect(await page.getByTestId('corpus-hub').inputValue()).toBe(demoHub);
  await page.getByTestId('corpus-ctx').fill('32');
  await page.getByTestId('corpus-tokens').fill('640');
  await page.getByTestId('corpus-prepare').click();
  await page.getByTestId('corpus-summary').waitFor();
  expect(await page.getByTestId('corpus-summary').textContent()).toMatch(/^20 rows × 32 = 640 tokens from \d+ documents of autointerp-test\/tiny-corpus/);
  expect(browser.requests.some((url) => url.startsWith(`${demoHub}datasets/autointerp-test/tiny-corpus/`))).toBe(true);

  // Another hub, though the model came from the demo one: a missing dataset is looked for there, and
  // the message points to the field the page has.
  await page.getByTestId('corpus-hub').fill(hubUrl());
  await page.getByTestId('corpus-repo').fill('autointerp-test/no-such-corpus');
  await page.getByTestId('corpus-find-columns').click();
  const error = page.getByTestId('corpus-error');
  await error.waitFor();
  const message = (await error.textContent())!;
  expect(message).toContain(`Tried: ${hubUrl()}api/datasets/autointerp-test/no-such-corpus/parquet/default/train`);
  expect(message).not.toContain(demoHub);
  expect(message).toMatch(/"Parquet files" field/);
  await page.getByTestId('corpus').screenshot({ path: 'test-results/corpus-hub-error.png' });

  // That field: paths inside the repo, comma-separated, read at main.
  await page.getByTestId('corpus-repo').fill('autointerp-test/tiny-corpus');
  await page.getByTestId('corpus-files').fill(' default/train/0001.parquet , ');
  await page.getByTestId('corpus-find-columns').click();
  await error.waitFor({ state: 'detached' });
  expect(await columnsOrError()).toBeUndefined();
  await page.getByTestId('corpus-tokens').fill('100000');
  await page.getByTestId('corpus-prepare').click();
  await expect.poll(async () => page.getByTestId('corpus-summary').textContent()).toMatch(/from 19 documents of autointerp-test\/tiny-corpus/);
  expect(browser.requests).toContain(`${hubUrl()}datasets/autointerp-test/tiny-corpus/resolve/main/default/train/0001.parquet`);
  expect(browser.requests.filter((url) => url.startsWith(`${hubUrl()}datasets/autointerp-test/tiny-corpus/`) && url.endsWith('0000.parquet'))).toEqual([]);

  // A hub the page's security policy does not allow yet is saved for the next load, and the page says to reload.
  await page.getByTestId('corpus-hub').fill('https://datasets.example.org/hub/');
  await page.getByTestId('corpus-find-columns').click();
  expect(await error.textContent()).toMatch(/^This page may read from https:\/\/datasets\.example\.org only after a reload/);
  expect(await page.evaluate(() => localStorage.getItem('autointerp.connect'))).toContain('https://datasets.example.org');
  await page.getByTestId('corpus-hub').fill('not a url');
  await page.getByTestId('corpus-find-columns').click();
  expect(await error.textContent()).toMatch(/^Dataset hub: "not a url" is not a URL/);
  expect(browser.errors).toEqual([]);
});

test('a binary file named .jsonl gets a short printable message', async () => {
  const { page } = browser;
  await openApp(browser.page, { model: 'none' });
  await goto(page, 'cache');
  const binary = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...Array.from({ length: 3000 }, (_, i) => (i * 37 + 11) % 256)]);
  await page.getByTestId('corpus-file').setInputFiles({ name: 'data.jsonl', mimeType: 'application/json', buffer: binary });
  const error = page.getByTestId('corpus-error');
  await error.waitFor();
  const message = (await error.textContent())!;
  expect(message).toMatch(/^Line 1 of "data\.jsonl" does not look like text/);
  expect(message).not.toMatch(UNPRINTABLE);
  const excerpt = /it starts "(.*)"\): is it a binary file/.exec(message)?.[1];
  expect(excerpt?.length).toBeLessThanOrEqual(43); // 40 and "..." 
  expect(message.length).toBeLessThan(300);
  expect(browser.errors).toEqual([]);
});

test('the same file can be picked again once fixed: the input is emptied after each pick and the page names the file', async () => {
  const { page } = browser;
  await openApp(browser.page, { model: 'none' });
  await goto(page, 'cache');
  await page.getByTestId('corpus-file').setInputFiles({ name: 'data.jsonl', mimeType: 'application/json', buffer: Buffer.from('{"body": "unfinished\n') });
  const error = page.getByTestId('corpus-error');
  await error.waitFor();
  expect(await page.getByTestId('corpus-file').inputValue()).toBe('');
  expect(await page.getByTestId('corpus-file-name').textContent()).toContain('data.jsonl');

  await page.getByTestId('corpus-file').setInputFiles({ name: 'data.jsonl', mimeType: 'application/json', buffer: Buffer.from('{"body": "fixed now"}\n') });
  await page.getByTestId('corpus-column').waitFor();
  expect(await error.count()).toBe(0);
  expect(await page.getByTestId('corpus-column').inputValue()).toBe('body');
  expect(await page.getByTestId('corpus-file').inputValue()).toBe('');
  expect(browser.errors).toEqual([]);
});

const TEXT_FILE = { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('Some text, and more of it, enough for a few rows.\n\n'.repeat(20)) };

test('row length, token budget and seed are checked where typed, and Tokenize waits for valid values', async () => {
  const { page } = browser;
  await openApp(browser.page);
  await goto(page, 'cache');
  await page.getByTestId('corpus-file').setInputFiles(TEXT_FILE);
  const prepare = page.getByTestId('corpus-prepare');
  await expect.poll(() => prepare.isEnabled()).toBe(true);
  const fieldError = (field: string) => page.getByTestId(`corpus-${field}-error`);
  const expectRefused = async (field: 'ctx' | 'tokens' | 'seed', value: string, text: RegExp) => {
    await page.getByTestId(`corpus-${field}`).fill(value);
    await expect.poll(async () => (await fieldError(field).count()) ? fieldError(field).textContent() : '').toMatch(text);
    expect(await page.getByTestId(`corpus-${field}`).getAttribute('aria-invalid')).toBe('true');
    expect(await prepare.isDisabled()).toBe(true);
  };
  await expectRefused('ctx', '', /Tokens per row: enter a whole number from 8 to \d+/);
  await expectRefused('ctx', '3', /at least 8/);
  await expectRefused('ctx', '12.5', /whole number/);
  const ctx = page.getByTestId('corpus-ctx');
  expect(await ctx.getAttribute('min')).toBe('8');
  const nPositions = await page.evaluate(() => (globalThis as any).autointerp.state.model.nPositions as number);
  expect(await ctx.getAttribute('max')).toBe(String(nPositions));
  await expectRefused('ctx', String(nPositions + 1), new RegExp(`at most ${nPositions}`));
  await ctx.fill('32');
  await expect.poll(async () => fieldError('ctx').count()).toBe(0);
  await expectRefused('tokens', '16', /at least the row length \(32\)/);
  await expectRefused('tokens', '', /Token budget: enter a whole number/);
  await page.getByTestId('corpus-tokens').fill('64');
  await expectRefused('seed', '1.5', /Shuffle seed: .*whole number/);
  // The binary .jsonl message and the field messages together, for the screenshot.
  await ctx.fill('3');
  await page.getByTestId('corpus-file').setInputFiles({ name: 'binary.jsonl', mimeType: 'application/octet-stream', buffer: Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 91) % 256)) });
  await page.getByTestId('corpus-error').waitFor();
  await page.getByTestId('corpus').screenshot({ path: 'test-results/corpus-errors.png' });

  await ctx.fill('32');
  await page.getByTestId('corpus-seed').fill('-7');
  await page.getByTestId('corpus-file').setInputFiles(TEXT_FILE);
  await expect.poll(() => prepare.isEnabled()).toBe(true);
  await prepare.click();
  await page.getByTestId('corpus-summary').waitFor();
  expect(browser.errors).toEqual([]);
});

test('every corpus input has a label a screen reader reads out, in both modes', async () => {
  const { page } = browser;
  await openApp(browser.page);
  await goto(page, 'cache');
  const unlabelled = () => page.getByTestId('corpus').locator('input, select').evaluateAll((elements) =>
    elements.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')).map((e) => e.outerHTML));
  await page.getByTestId('corpus-file').setInputFiles({ name: 'documents.jsonl', mimeType: 'application/json', buffer: Buffer.from('{"text": "a"}\n') });
  await page.getByRole('combobox', { name: 'Text column', exact: true }).waitFor();
  expect(await unlabelled()).toEqual([]);
  await page.getByLabel('Corpus file', { exact: true }).waitFor();
  for (const name of ['Tokens per row', 'Token budget', 'Shuffle seed']) await page.getByRole('spinbutton', { name, exact: true }).waitFor();
  await page.getByTestId('corpus-mode-hub').check();
  expect(await unlabelled()).toEqual([]);
  for (const name of ['Dataset repo (owner/name)', 'Config (subset)', 'Split', 'Dataset hub', 'Parquet files (optional)']) await page.getByRole('textbox', { name, exact: true }).waitFor();
  expect(browser.errors).toEqual([]);
});
