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
  await page.getByTestId('sae-ready').waitFor();
  await page.getByTestId('sample-encode').click();
  await page.getByTestId('try-tokens').waitFor();
  const table = page.getByTestId('sample-table');
  const rows = await table.locator('tbody tr').allTextContents();
  expect(rows.length).toBeGreaterThan(5);
  // A TopK SAE with k = 8 fires at most 8 features per token, and some token fires several.
  const active = await table.locator('tbody tr td:nth-child(2)').allTextContents();
  expect(active.every((a) => Number(a) <= 8)).toBe(true);
  expect(Math.max(...active.map(Number))).toBeGreaterThan(1);

  // Shading by a feature that fires on the text: each token's value is that feature's activation there,
  // as the table lists it (0 where it is not active), and the token's detail lists what fires on it.
  const chip = page.getByTestId('try-strongest-feature').first();
  const feature = Number(await chip.getAttribute('data-feature'));
  await chip.click();
  expect(await page.getByTestId('try-tokens').getAttribute('data-feature')).toBe(String(feature));
  const shaded = (await page.getByTestId('try-token').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-activation')))));
  const listed = (await table.locator('tbody tr td:nth-child(3)').allTextContents()).map((cell) => {
    const hit = cell.split(/\s{3}/).map((pair) => pair.split(': ')).find(([index]) => Number(index) === feature);
    return hit ? Number(hit[1]) : 0;
  });
  expect(shaded.length).toBe(listed.length);
  // The table lists each token's 5 strongest: where it lists the feature the values agree; where the feature is 0, it is not listed.
  shaded.forEach((value, t) => {
    if (listed[t]! > 0) expect(value).toBeCloseTo(listed[t]!, 2);
    if (value === 0) expect(listed[t]).toBe(0);
  });
  expect(shaded.filter((value) => value > 0).length).toBeGreaterThan(0);
  await page.getByTestId('try-token').nth(shaded.findIndex((value) => value > 0)).click();
  expect(await page.getByTestId('try-token-detail').textContent()).toContain(`#${feature}`);
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
  await page.getByTestId('sae-ready').waitFor();
});

test('a corrupt SAE file gets a clear message and the page keeps working, the SAE in use with it', async () => {
  const { page } = browser;
  const inUse = await page.getByTestId('sae-ready').textContent();
  expect(inUse).toMatch(/^\s*In use: /);
  await page.getByTestId('sae-files').setInputFiles(saeUpload('malformed-header-length'));
  const error = page.getByTestId('sae-error');
  await error.waitFor();
  expect(await error.textContent()).toMatch(/header/i);
  // Refused files change nothing: the SAE chosen before is still ready, and caching can still use it.
  expect(await page.getByTestId('sae-ready').textContent()).toBe(inUse);
  expect(await page.evaluate(async () => (await (globalThis as any).autointerp.engine.currentSae())?.label)).toBeTruthy();
  // The code stays a property of the error (it crossed the worker boundary); the user reads the message alone.
  expect(await error.textContent()).not.toMatch(/\[[a-z-]+\/[a-z-]+\]/);
  const code = await page.evaluate(() => (globalThis as any).autointerp.engine.openSaeFiles([{ path: 'sae_weights.safetensors', blob: new Blob([new Uint8Array(4)]) }]).catch((e: any) => e.code));
  expect(code).toBe('safetensors/too-small');
  // An SAE that cannot read this model is refused before anything runs, saying why.
  await page.getByTestId('sae-files').setInputFiles(saeUpload('malformed-d-in-48'));
  await page.getByTestId('sae-summary').waitFor();
  expect(await page.getByTestId('sae-model-error').textContent()).toMatch(/reads vectors of 48 numbers, .*No hook point of this model has that width: the SAE was trained on another model\.$/);
  expect(await page.getByTestId('sae-use').isDisabled()).toBe(true);
  expect(await page.getByTestId('sae-ready').textContent()).toBe(inUse);
  expect(browser.errors).toEqual([]);
});

test('float16 encoding is offered only where the adapter reports shader-f16, and refused by a GPU without it', async () => {
  const { page } = browser;
  await page.getByTestId('sae-files').setInputFiles(saeUpload('saelens-topk'));
  await page.getByTestId('sae-summary').waitFor();
  // SwiftShader has no shader-f16: no choice.
  expect(await page.getByTestId('sae-precision').count()).toBe(0);

  // An adapter that reports it (this one reported as such): the choice appears; the worker asks the real
  // GPU, which lacks it, and the panel says so. Nothing new is put to use: the SAE in use stays.
  const inUse = await page.getByTestId('sae-ready').textContent();
  await page.evaluate(() => {
    const state = (globalThis as any).autointerp.state;
    state.gpu = { ...state.gpu, features: [...state.gpu.features, 'shader-f16'] };
  });
  await page.getByTestId('sae-precision').selectOption('float16');
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-error').waitFor();
  expect(await page.getByTestId('sae-error').textContent()).toMatch(/shader-f16.*encode in float32/);
  expect(await page.getByTestId('sae-ready').textContent()).toBe(inUse);

  // float32 still works; a float16 encoder's measured agreement is what the panel would show.
  await page.getByTestId('sae-precision').selectOption('float32');
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor();
  expect(await page.getByTestId('sae-precision-check').count()).toBe(0);
  await page.evaluate(() => {
    const state = (globalThis as any).autointerp.state;
    state.sae = { ...state.sae, precisionCheck: { tokens: 65, sameFeatures: 61, featureRecall: 0.9912, worstRelative: 0.00213 } };
  });
  expect(await page.getByTestId('sae-precision-check').textContent()).toMatch(/same active features on\s+61 of 65 tokens \(99\.1 % .*within\s+0\.21 % of the largest/);
  await page.getByTestId('sae').screenshot({ path: 'test-results/sae-precision.png' });
});
