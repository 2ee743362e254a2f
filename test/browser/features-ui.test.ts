/**
 * The features screens as a user meets them: a cache made through the page, its features table (sorted,
 * filtered, the qualifying count live), a feature page checked against the cache's raw activations read
 * independently (the strongest grid window computed here), logit effects and similar features from the
 * cache's own SAE, a reload of the page's URL (records from IndexedDB, no model), and a 131072-feature
 * table that renders only the rows in view.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { wideDelphiZip } from '../../scripts/fixtures/wide-cache.ts';
import { goto, launch, makeCache, type Browser } from './harness.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

/** The example window the test computes its reference with (delphi's default, which divides the rows of 64). */
const WINDOW = 32;

/** The cache id in the page's URL (`#/features/<runId>[/<feature>]`). */
const runIdOf = (page: Page) => decodeURIComponent(/#\/features\/([^/]+)/.exec(page.url())![1]!);

interface RawFeature {
  tokens: number[];
  values: number[];
  ctx: number;
  prependBos: boolean;
  /** The run's token ids, read straight from IndexedDB (chunk after chunk). */
  matrix: number[];
}

/** A feature's stored activations through the engine, and the run's tokens from IndexedDB itself: nothing the interp worker computed. */
async function rawFeature(page: Page, runId: string, feature: number): Promise<RawFeature> {
  return page.evaluate(async ({ runId, feature }) => {
    const { engine } = (globalThis as any).autointerp;
    const raw = await engine.cacheFeature(runId, feature);
    const run = (await engine.listCaches()).find((r: any) => r.id === runId);
    const db: IDBDatabase = await new Promise((resolve, reject) => {
      const open = indexedDB.open('autointerp-cache');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const chunks: ArrayLike<number>[] = await new Promise((resolve, reject) => {
      const request = db.transaction('tokens').objectStore('tokens').getAll(IDBKeyRange.bound([runId, 0], [runId, Infinity]));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
    db.close();
    return {
      tokens: Array.from(raw.tokens as Uint32Array),
      values: Array.from(raw.values as Float32Array),
      ctx: run.ctx as number,
      prependBos: run.settings.dataset.prependBos as boolean,
      matrix: chunks.flatMap((chunk) => Array.from(chunk)),
    };
  }, { runId, feature });
}

/** The reference: activations counted as the records count them, and the strongest grid window (ties: the earlier). */
function reference(raw: RawFeature) {
  const kept: { token: number; value: number }[] = [];
  raw.tokens.forEach((token, i) => {
    if (!(raw.prependBos && token % raw.ctx === 0)) kept.push({ token, value: raw.values[i]! });
  });
  const windowMax = new Map<number, number>();
  for (const { token, value } of kept) {
    const w = Math.floor(token / WINDOW);
    windowMax.set(w, Math.max(windowMax.get(w) ?? -Infinity, value));
  }
  let best = -1;
  let bestMax = -Infinity;
  for (const [w, max] of [...windowMax].sort((a, b) => a[0] - b[0])) {
    if (max > bestMax) [best, bestMax] = [w, max];
  }
  const activations = Array.from({ length: WINDOW }, () => 0);
  for (const { token, value } of kept) if (Math.floor(token / WINDOW) === best) activations[token - best * WINDOW] = value;
  return { count: kept.length, windows: windowMax.size, window: best, max: bestMax, activations, tokens: raw.matrix.slice(best * WINDOW, best * WINDOW + WINDOW) };
}

const attributes = (page: Page, selector: string, name: string) =>
  page.locator(selector).evaluateAll((elements, name) => elements.map((e) => e.getAttribute(name)), name);

/** The first top example's tokens: their activations (exact, from data-activation) and token ids. */
async function firstTopExample(page: Page) {
  const example = page.getByTestId('feature-top-examples').getByTestId('feature-example').first();
  await example.waitFor();
  const tokens = example.getByTestId('feature-token');
  return {
    activations: (await tokens.evaluateAll((elements) => elements.map((e) => e.getAttribute('data-activation')))).map(Number),
    titles: await tokens.evaluateAll((elements) => elements.map((e) => e.getAttribute('title') ?? '')),
  };
}

test('a cache made in the page: its features table, a feature page checked against the raw activations, and a reload of its URL', async () => {
  const { page } = browser;
  await makeCache(page, 'saelens-standard');

  // The cache row's Features link opens its table; the Features entry of the navigation is the current one.
  await page.getByTestId('cache-features-link').first().click();
  await page.getByTestId('features-row').first().waitFor();
  expect(await page.getByTestId('nav-features').getAttribute('aria-current')).toBe('page');
  expect(await page.getByTestId('nav-cache').getAttribute('aria-current')).toBeNull();
  const runId = runIdOf(page);
  const table = await page.evaluate(async (runId) => {
    const t = await (globalThis as any).autointerp.interp.featureTable(runId);
    return { width: t.width as number, dead: t.dead as number, max: Array.from(t.max as Float32Array), nnz: Array.from(t.nnz as Uint32Array), windows: Array.from(t.windows as Uint32Array) };
  }, runId);
  expect(table.width).toBe(96);

  // Sorted by max, strongest first: the first row is the feature with the largest max, as the worker says.
  const rows = page.getByTestId('features-row');
  expect(await page.locator('th[aria-sort="descending"]').textContent()).toMatch(/Max/);
  const top = table.max.reduce((best, value, f) => (value > table.max[best]! ? f : best), 0);
  expect(Number(await rows.first().getAttribute('data-feature'))).toBe(top);
  expect(Number(await rows.first().getAttribute('data-max'))).toBe(table.max[top]);
  const maxes = (await attributes(page, '[data-testid="features-row"]', 'data-max')).map(Number);
  expect(maxes).toEqual([...maxes].sort((a, b) => b - a));
  expect(await page.getByTestId('features-dead').textContent()).toBe(String(table.dead));

  // The qualifying count follows the min-examples field as it is typed.
  const qualifying = (min: number) => table.windows.filter((w, f) => w >= min && table.nnz[f]! > 0).length;
  const counted = page.getByTestId('features-qualifying');
  expect(await counted.textContent()).toBe(String(qualifying(200)));
  for (const min of [1, 3, 10]) {
    await page.getByTestId('min-examples').fill(String(min));
    await expect.poll(() => counted.textContent()).toBe(String(qualifying(min)));
  }
  expect(qualifying(1)).not.toBe(qualifying(10));
  // ... and filters the table when asked.
  await page.getByTestId('features-only-qualifying').check();
  await expect.poll(() => page.getByTestId('features-shown').textContent()).toMatch(new RegExp(`^${qualifying(10)} of 96 features shown`));
  await page.getByTestId('features-only-qualifying').uncheck();
  await page.getByTestId('min-examples').fill('200');

  // Sorting by index, both ways, then back to max.
  await page.getByTestId('features-sort-index').click();
  expect(await page.locator('th[aria-sort="ascending"]').textContent()).toMatch(/Feature/);
  expect(await rows.first().getAttribute('data-feature')).toBe('0');
  await page.getByTestId('features-sort-index').click();
  expect(await rows.first().getAttribute('data-feature')).toBe('95');
  await page.getByTestId('features-sort-max').click();
  expect(Number(await rows.first().getAttribute('data-feature'))).toBe(top);
  await page.getByTestId('view-features').screenshot({ path: 'test-results/features-table.png' });

  // The strongest feature's page, against the reference computed here.
  await rows.first().click();
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${top}`);
  expect(page.url()).toMatch(new RegExp(`#/features/${runId}/${top}$`));
  const raw = await rawFeature(page, runId, top);
  const ref = reference(raw);
  expect(raw.prependBos).toBe(true); // the SAE's cfg says so: row starts are left out of the records
  const example = await firstTopExample(page);
  expect(example.activations).toEqual(ref.activations);
  expect(Math.max(...example.activations)).toBe(ref.max);
  expect(example.titles.map((t) => Number(/\(token (\d+)\)/.exec(t)![1]))).toEqual(ref.tokens);
  expect(Number(await page.getByTestId('feature-max').getAttribute('data-value'))).toBe(ref.max);
  // A token's value without a mouse: Tab reaches the active tokens and shows the value; a tap shows any token's.
  const topExample = page.getByTestId('feature-top-examples').getByTestId('feature-example').first();
  const active = topExample.locator('[data-testid="feature-token"][tabindex="0"]').first();
  await active.focus();
  const detail = page.getByTestId('feature-token-detail').first();
  expect(await detail.textContent()).toContain(`activation ${await active.evaluate((el) => { const v = Number(el.getAttribute('data-activation')); return v.toPrecision(3).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, ''); })}`);
  const quiet = topExample.locator('[data-testid="feature-token"][data-activation="0"]').first();
  await quiet.click();
  await expect.poll(() => detail.textContent()).toMatch(/activation 0\b/);
  expect(Number(await page.getByTestId('feature-activations').getAttribute('data-value'))).toBe(ref.count);
  expect(Number(await page.getByTestId('feature-windows-count').getAttribute('data-value'))).toBe(ref.windows);
  expect(await page.getByTestId('feature-pieces-error').count()).toBe(0);
  // The histogram holds every activation (row starts left out, as they are from the count).
  const bars = (await attributes(page, '[data-testid="feature-histogram-bar"]', 'data-count')).map(Number);
  expect(bars).toHaveLength(50);
  expect(bars.reduce((a, b) => a + b, 0)).toBe(ref.count);
  expect(await page.getByTestId('feature-top-tokens').getByTestId('feature-top-token').count()).toBeGreaterThan(0);
  expect(await page.getByTestId('feature-quantiles').locator('details').count()).toBe(10);
  expect(await page.getByTestId('feature-non-activating').getAttribute('open')).toBeNull();

  // The SAE in use is the cache's: logit effects and similar features are shown.
  await page.getByTestId('feature-logits-top').waitFor();
  const upValues = (await attributes(page, '[data-testid="feature-logits-top"] li', 'data-value')).map(Number);
  const downValues = (await attributes(page, '[data-testid="feature-logits-bottom"] li', 'data-value')).map(Number);
  expect(upValues).toHaveLength(10);
  expect(downValues).toHaveLength(10);
  expect(upValues).toEqual([...upValues].sort((a, b) => b - a));
  expect(Math.min(...upValues)).toBeGreaterThan(Math.max(...downValues));
  const similar = page.getByTestId('feature-similar-link');
  expect(await similar.count()).toBe(10);
  await page.screenshot({ path: 'test-results/feature-page.png', fullPage: true });

  // A similar feature's link opens its page; prev and next step through the features.
  const neighbour = Number(await page.getByTestId('feature-similar').locator('li').first().getAttribute('data-feature'));
  await similar.first().click();
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${neighbour}`);
  await page.getByTestId('feature-top-examples').waitFor();
  if (neighbour + 1 < 96) {
    await page.getByTestId('feature-next').click();
    await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${neighbour + 1}`);
  }

  // Moving on quickly: only the last page asked for is shown (older answers are dropped).
  await page.evaluate(async ({ runId }) => {
    for (const f of [3, 4, 5, 6, 7]) {
      location.hash = `#/features/${runId}/${f}`;
      await new Promise((done) => setTimeout(done, 5));
    }
  }, { runId });
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe('Feature 7');
  await page.getByTestId('feature-numbers').waitFor();
  const seven = reference(await rawFeature(page, runId, 7));
  await expect.poll(async () => Number(await page.getByTestId('feature-activations').getAttribute('data-value'))).toBe(seven.count);

  // Record settings: a window that does not divide the rows is refused with the worker's message; 16 works.
  await page.goto(page.url().replace(/\/\d+$/, `/${top}`));
  await page.getByTestId('feature-top-examples').waitFor();
  await page.getByTestId('feature-example-ctx').fill('7');
  await page.getByTestId('feature-example-ctx').press('Enter');
  await expect.poll(async () => (await page.getByTestId('feature-error').count()) ? page.getByTestId('feature-error').textContent() : '').toMatch(/must divide the cache's rows of 64 tokens/);
  await page.getByTestId('feature-example-ctx').fill('16');
  await page.getByTestId('feature-example-ctx').press('Enter');
  await page.getByTestId('feature-top-examples').waitFor();
  expect(await page.getByTestId('feature-error').count()).toBe(0);
  expect(await page.getByTestId('feature-top-examples').getByTestId('feature-example').first().getByTestId('feature-token').count()).toBe(16);
  await page.getByTestId('feature-example-ctx').fill('32');
  await page.getByTestId('feature-example-ctx').press('Enter');
  await expect.poll(() => page.getByTestId('feature-top-examples').getByTestId('feature-example').first().getByTestId('feature-token').count()).toBe(32);

  // A reload of the page's URL shows the same page from IndexedDB, with no model loaded: the logit
  // effects say which SAE they need.
  await page.reload();
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${top}`);
  expect((await firstTopExample(page)).activations).toEqual(ref.activations);
  expect(await page.getByTestId('nav-features').getAttribute('aria-current')).toBe('page');
  const note = page.getByTestId('feature-directions-note');
  await note.waitFor();
  expect(await note.textContent()).toMatch(/use the SAE "sae_weights\.safetensors.*in Setup to see them/);
  expect(await page.getByTestId('feature-logits-top').count()).toBe(0);
  await page.getByTestId('feature-back').click();
  await page.getByTestId('features-row').first().waitFor();
  expect(Number(await page.getByTestId('features-row').first().getAttribute('data-feature'))).toBe(top);
  expect(browser.errors).toEqual([]);
});

test('the features of a cache that does not exist: the error is shown and stays', async () => {
  const { page } = browser;
  await page.goto(`${new URL(page.url()).origin}/#/features/no-such-cache`);
  const error = page.getByTestId('features-error');
  await error.waitFor();
  expect(await error.textContent()).toMatch(/no-such-cache/);
  await new Promise((done) => setTimeout(done, 1000));
  expect(await error.isVisible()).toBe(true);
  await page.goto(`${new URL(page.url()).origin}/#/features`);
  await page.getByTestId('features-caches').waitFor();
  expect(await page.getByTestId('features-cache-link').count()).toBeGreaterThan(0);
});

test('131072 features: the table renders only the rows in view, sorts and scrolls to the last one', async () => {
  const { page } = browser;
  await page.goto(`${new URL(page.url()).origin}/#/cache`);
  await page.getByTestId('view-cache').waitFor();
  await page.getByTestId('cache-import-zip').setInputFiles({ name: 'wide.zip', mimeType: 'application/zip', buffer: Buffer.from(await (await wideDelphiZip()).arrayBuffer()) });
  const row = page.getByTestId('cache-list').locator('tbody tr', { hasText: 'layers.9' });
  // The first opening runs the statistics pass, with progress and a Cancel button: cancelled, it says so
  // and stays; Try again computes them.
  await page.evaluate(() => {
    new MutationObserver((_, observer) => {
      const cancel = document.querySelector<HTMLButtonElement>('[data-testid="features-cancel"]');
      if (!cancel) return;
      observer.disconnect();
      cancel.click();
    }).observe(document.body, { childList: true, subtree: true });
  });
  await row.getByTestId('cache-features-link').click();
  const error = page.getByTestId('features-error');
  await error.waitFor();
  expect(await error.textContent()).toMatch(/^Stopped: the feature statistics were not computed/);
  const rows = page.getByTestId('features-row');
  expect(await rows.count()).toBe(0);
  await new Promise((done) => setTimeout(done, 500));
  expect(await error.isVisible()).toBe(true);
  await page.getByTestId('features-retry').click();
  await rows.first().waitFor();
  expect(await error.count()).toBe(0);
  expect(await page.getByTestId('features-summary').textContent()).toContain('131,072 features');
  const { alive, firstAlive, dead } = await page.evaluate(async (runId) => {
    const t = await (globalThis as any).autointerp.interp.featureTable(runId);
    const nnz = t.nnz as Uint32Array;
    return { alive: nnz.filter((n) => n > 0).length, firstAlive: nnz.findIndex((n) => n > 0), dead: nnz.findIndex((n) => n === 0) };
  }, runIdOf(page));
  expect(await page.getByTestId('features-dead').textContent()).toBe((131072 - alive).toLocaleString('en-US'));

  const viewport = page.getByTestId('features-table');
  const box = (await viewport.boundingBox())!;
  const bound = Math.ceil(box.height / 30) + 2 * 10 + 2; // rows in view, the overscan either side, rounding
  expect(await rows.count()).toBeLessThanOrEqual(bound);
  expect(await rows.count()).toBeGreaterThan(5);

  await page.getByTestId('features-sort-index').click();
  expect(await rows.first().getAttribute('data-feature')).toBe('0');
  // The keyboard reaches rows never drawn, as in a grid: End, Home, arrows and Page Down move the focus.
  const focused = () => page.evaluate(() => document.activeElement?.textContent ?? '');
  await rows.first().getByTestId('features-link').focus();
  await page.keyboard.press('End');
  await expect.poll(focused).toBe('#131071');
  await page.keyboard.press('Home');
  await expect.poll(focused).toBe('#0');
  for (let i = 0; i < 40; i++) await page.keyboard.press('ArrowDown');
  await expect.poll(focused).toBe('#40');
  await page.keyboard.press('PageDown');
  const paged = Number((await focused()).slice(1));
  expect(paged).toBeGreaterThan(45);
  await page.keyboard.press('ArrowUp');
  await expect.poll(focused).toBe(`#${paged - 1}`);
  await page.keyboard.press('Home');
  await expect.poll(focused).toBe('#0');
  await viewport.evaluate((element) => (element.scrollTop = element.scrollHeight));
  await expect.poll(async () => rows.last().getAttribute('data-feature')).toBe('131071');
  expect(await rows.count()).toBeLessThanOrEqual(bound);
  // Halfway down, the rows in view are the ones there.
  await viewport.evaluate((element) => (element.scrollTop = 65536 * 30));
  await expect.poll(async () => {
    const shown = (await attributes(page, '[data-testid="features-row"]', 'data-feature')).map(Number);
    return shown.some((f) => f === 65540) && shown.every((f) => Math.abs(f - 65546) < bound + 10);
  }).toBe(true);

  // Scrolled far down, a filter that leaves 512 rows shows them from the top.
  await page.getByTestId('features-hide-dead').check();
  await expect.poll(() => page.getByTestId('features-shown').textContent()).toMatch(new RegExp(`^${alive.toLocaleString('en-US')} of 131,072 features shown`));
  await expect.poll(async () => rows.first().getAttribute('data-feature')).toBe(String(firstAlive));
  expect(await rows.count()).toBeGreaterThan(5);
  expect(await rows.count()).toBeLessThanOrEqual(bound);
  await page.getByTestId('view-features').screenshot({ path: 'test-results/features-wide.png' });
  expect(browser.errors).toEqual([]);

  // A feature that never fires has its page too, saying so (all of it rendered, nothing thrown).
  await page.goto(`${page.url().replace(/#.*$/, '')}#/features/${encodeURIComponent(runIdOf(page))}/${dead}`);
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${dead}`);
  await page.getByTestId('feature-non-activating-card').waitFor();
  expect(await page.getByTestId('feature-distribution').textContent()).toMatch(/never fires in this cache/);
  expect(await page.getByTestId('feature-intervals').count()).toBe(0);
  expect(browser.errors).toEqual([]);
});
