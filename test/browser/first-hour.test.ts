/**
 * What a new user tripped on in the first hour, each checked as they met it: errors that vanished,
 * rows longer than the model's context, an unchecked k, the same files picked twice, panels that kept
 * old state, deleting without asking, importing a cache twice, and names a screen reader needs.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ZipWriter } from '../../src/lib/index.ts';
import { FIXTURES } from '../support/sae-fixtures.ts';
import { appUrl, goto, hubUrl, launch, openApp, saeUpload, type Browser } from './harness.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

const settle = () => new Promise((done) => setTimeout(done, 1500));

/** The delphi fixture (written by an independent Python script) as one zip, built with our writer. */
async function delphiZip(): Promise<Buffer> {
  const root = join(FIXTURES, 'delphi/tiny');
  const zip = new ZipWriter({ date: new Date(0) });
  for (const hook of readdirSync(root)) {
    for (const name of readdirSync(join(root, hook))) await zip.add(`tiny/${hook}/${name}`, new Uint8Array(readFileSync(join(root, hook, name))));
  }
  return Buffer.from(await (await zip.finish()).arrayBuffer());
}

test('an error in the cache panel stays until the user acts: a file that is not a zip, a resume with another SAE', async () => {
  const { page } = browser;
  await openApp(page, { sae: 'saelens-topk' });
  await goto(page, 'cache');
  await page.getByTestId('cache-import-zip').setInputFiles({ name: 'notes.zip', mimeType: 'application/zip', buffer: Buffer.from('these are notes, not a zip archive') });
  const error = page.getByTestId('cache-error');
  await error.waitFor();
  await settle(); // the panel refreshes its list after an import: the message must survive it
  expect(await error.isVisible()).toBe(true);
  expect(await error.textContent()).toMatch(/^notes.zip: This is not a zip archive/);
  expect(await error.textContent()).not.toMatch(/\[[a-z]+\/[a-z-]+\]/);
  await error.getByRole('button', { name: 'Dismiss the error' }).click();
  expect(await error.count()).toBe(0);

  // A cache paused at once, then resumed from the list with another SAE selected.
  await page.evaluate(async () => {
    const { engine, cache } = (globalThis as any).autointerp;
    const run = await engine.createCache({ tokens: Uint32Array.from({ length: 64 }, (_, i) => (i * 37) % 4096), ctx: 16, description: 'paused rows' });
    const pause = new AbortController();
    pause.abort();
    await engine.runCache(run.id, {}, undefined, pause.signal);
    await cache.refresh();
  });
  await goto(page, 'setup');
  await page.getByTestId('sae-files').setInputFiles(saeUpload('saelens-standard'));
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor();
  await goto(page, 'cache');
  await page.getByTestId('cache-list').getByRole('button', { name: /Resume/ }).first().click();
  await error.waitFor();
  await settle();
  expect(await error.isVisible()).toBe(true);
  expect(await error.textContent()).toMatch(/made with the SAE "sae_weights\.safetensors — SAELens TopK k=8.*open and select that SAE/);
});

test('rows longer than the model\'s 1024 positions are refused where they are chosen, and so is a sample text', async () => {
  const { page } = browser;
  await openApp(page, { sae: 'saelens-topk' });
  const codes = await page.evaluate(async () => {
    const { engine } = (globalThis as any).autointerp;
    const code = (promise: Promise<unknown>) => promise.then(() => 'accepted', (error: any) => `${error.code}: ${error.message}`);
    const text = new File(['word '.repeat(5000)], 'words.txt');
    return {
      corpus: await code(engine.prepareCorpus({ kind: 'text', file: text }, { ctx: 2000, maxTokens: 4000, seed: 22, prependBos: true })),
      cache: await code(engine.createCache({ tokens: new Uint32Array(2000), ctx: 2000 })),
      encode: await code(engine.encode([Array.from({ length: 1025 }, () => 7)])),
      fits: await code(engine.encode([Array.from({ length: 1024 }, () => 7)])),
    };
  });
  expect(codes.corpus).toMatch(/^model\/too-long: Rows of 2,000 tokens .*1,024 positions/);
  expect(codes.cache).toMatch(/^model\/too-long/);
  expect(codes.encode).toMatch(/^model\/too-long/);
  expect(codes.fits).toBe('accepted');
  await page.getByLabel('Your text').fill('many words '.repeat(600));
  await page.getByTestId('sample-encode').click();
  await page.getByTestId('sample-error').waitFor();
  expect(await page.getByTestId('sample-error').textContent()).toMatch(/reads at most 1,024 at once/);
});

test('k is checked where it is typed, and by the engine', async () => {
  const { page } = browser;
  await openApp(page);
  await page.getByTestId('sae-files').setInputFiles(saeUpload('saelens-topk'));
  await page.getByTestId('sae-summary').waitFor();
  const k = page.getByTestId('sae-k');
  for (const bad of ['0', '-1', '1000', '2.5', '']) {
    await k.fill(bad);
    expect(await page.getByTestId('sae-k-error').textContent(), `k = "${bad}"`).toMatch(/whole number from 1 to 128/);
    expect(await page.getByTestId('sae-use').isDisabled(), `k = "${bad}"`).toBe(true);
  }
  await k.fill('4');
  expect(await page.getByTestId('sae-k-error').count()).toBe(0);
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor();
  const refused = await page.evaluate(async () => {
    const { engine, state } = (globalThis as any).autointerp;
    return engine.selectSae(state.saeFiles.choices[0].id, { overrides: { k: 1000 } }).then(() => 'accepted', (error: any) => `${error.code}: ${error.message}`);
  });
  expect(refused).toMatch(/^sae\/bad-config: k must be a whole number from 1 to 128/);
});

test('the same files picked again are read again: a corrected cfg.json, and a zip imported twice says so', async () => {
  const { page } = browser;
  await openApp(page);
  const files = saeUpload('saelens-topk');
  const broken = files.map((f) => (f.name === 'cfg.json' ? { ...f, buffer: Buffer.from('{ "architecture": "topk", ') } : f));
  await page.getByTestId('sae-files').setInputFiles(broken);
  await page.getByTestId('sae-error').waitFor();
  expect(await page.getByTestId('sae-error').textContent()).toMatch(/cfg\.json is not valid JSON/);
  await page.getByTestId('sae-files').setInputFiles(files); // the same names, the file fixed
  await page.getByTestId('sae-summary').waitFor();
  expect(await page.getByTestId('sae-error').count()).toBe(0);

  await goto(page, 'cache');
  const zip = { name: 'delphi-cache.zip', mimeType: 'application/zip', buffer: await delphiZip() };
  const rows = page.getByTestId('cache-list').locator('tbody tr');
  const hooks = readdirSync(join(FIXTURES, 'delphi/tiny')).length;
  const before = await page.evaluate(async () => (await (globalThis as any).autointerp.engine.listCaches()).length);
  await page.getByTestId('cache-import-zip').setInputFiles(zip);
  await expect.poll(() => rows.count()).toBe(before + hooks);
  const count = before + hooks;
  await page.getByTestId('cache-import-zip').setInputFiles(zip);
  await page.getByTestId('cache-notice').waitFor();
  expect(await page.getByTestId('cache-notice').textContent()).toMatch(/Already in this browser, so not imported again/);
  expect(await rows.count()).toBe(count);

  // Delete asks first, says what it frees, and is named for what it deletes.
  const deleteButtons = page.getByRole('button', { name: /^Delete the cache / });
  expect(await deleteButtons.count()).toBe(count);
  await deleteButtons.first().click();
  expect(await page.getByTestId('cache-confirm').textContent()).toMatch(/Delete this cache and free [\d.]+ (B|kB|MB)\?/);
  await page.getByRole('button', { name: /^Keep the cache / }).click();
  expect(await rows.count()).toBe(count);
  await deleteButtons.first().click();
  await page.getByTestId('cache-delete-confirm').click();
  await expect.poll(() => rows.count()).toBe(count - 1);
});

test('the panels show what is true now: a model reload releases the SAE and clears its sample', async () => {
  const { page } = browser;
  await openApp(page, { sae: 'saelens-topk' });
  await page.getByTestId('sample-encode').click();
  await page.getByTestId('try-tokens').waitFor();
  await page.getByTestId('model-load').click();
  await page.getByTestId('model-ready').waitFor();
  expect(await page.getByTestId('sae-ready').count()).toBe(0);
  expect(await page.getByTestId('sample-table').count()).toBe(0);
  expect(await page.getByTestId('sae-note').textContent()).toMatch(/released with the previous model/);
  expect(await page.getByTestId('sample-encode').isDisabled()).toBe(true);
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor();
  await page.getByTestId('sample-encode').click();
  await page.getByTestId('try-tokens').waitFor();
});

test('Enter in the repo field loads the model, and at 1280x800 the GPU line leaves the screen to the work', async () => {
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(appUrl({ hub: hubUrl(), model: 'autointerp-test/tiny-gpt2' }));
  await page.getByTestId('adapter-name').waitFor();
  const box = await page.getByTestId('adapter').boundingBox();
  expect(box!.height).toBeLessThan(60);
  await page.screenshot({ path: 'test-results/first-screen.png' });
  await page.getByTestId('model-repo').press('Enter');
  await page.getByTestId('model-ready').waitFor();
  await page.close();
});
