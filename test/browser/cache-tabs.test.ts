/**
 * Two tabs on one cache: the tab that writes it holds it (Web Locks); the other sees it in use, cannot
 * delete, export or resume it meanwhile, and sees it finish without a reload; the finished cache stays
 * finished and usable in both.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { appUrl, goto, launch, makeCache, type Browser } from './harness.ts';

let browser: Browser;
beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

test('the writing tab holds the cache; the other cannot delete, export or resume it, and sees it finish', async () => {
  const { page: writer, context } = browser;
  await makeCache(writer, 'saelens-standard');
  // A cache long enough to be caught running: 192 rows of the tiny model's tokens.
  const id: string = await writer.evaluate(async () => {
    const tokens = Uint32Array.from({ length: 192 * 64 }, (_, i) => (i * 7919) % 4000);
    return (await (globalThis as any).autointerp.engine.createCache({ tokens, ctx: 64, description: 'two tabs' })).id;
  });
  const other = await context.newPage();
  other.on('pageerror', (error) => browser.errors.push(String(error)));
  await other.goto(appUrl());
  await other.getByTestId('adapter-name').waitFor();
  await goto(other, 'cache');

  // The writer runs it as its Resume button does (the cache state, which tells the other tabs).
  await writer.evaluate((id) => void (globalThis as any).autointerp.cache.run(id), id);
  const row = other.getByTestId('cache-list').locator('tbody tr', { hasText: 'two tabs' });
  await expect.poll(() => row.getByTestId('cache-elsewhere').count(), { interval: 100 }).toBe(1);
  expect(await row.getByTestId('cache-status').textContent()).toMatch(/in use by another tab/);
  expect(await row.getByRole('button', { name: /Resume|Delete|Export/ }).count()).toBe(0);
  // The engine refuses too, whatever asks it.
  const refused = await other.evaluate(async (id) => {
    const { engine } = (globalThis as any).autointerp;
    const code = (p: Promise<unknown>) => p.then(() => 'done', (e: { code?: string }) => e.code);
    return [await code(engine.deleteCache(id)), await code(engine.exportCache(id, 2))];
  }, id);
  expect(refused).toEqual(['cache/busy', 'cache/busy']);
  expect(await writer.evaluate(() => (globalThis as any).autointerp.cache.running)).toBe(id);

  // It finishes in the writing tab; the other tab's list says so without a reload, and the cache is whole.
  await expect.poll(() => row.getByTestId('cache-status').textContent(), { interval: 200 }).toMatch(/^\s*done/);
  expect(await row.getByTestId('cache-elsewhere').count()).toBe(0);
  const runs: { id: string; status: string; nRows: number }[] = await other.evaluate(() => (globalThis as any).autointerp.engine.listCaches());
  expect(runs.find((run) => run.id === id)).toMatchObject({ status: 'done', nRows: 192 });
  // Now the other tab may export it (and the writer's list is not demoted by anything it did).
  const bytes = await other.evaluate(async (id) => (await (globalThis as any).autointerp.engine.exportCache(id, 2)).size, id);
  expect(bytes).toBeGreaterThan(1000);
  await writer.reload();
  await goto(writer, 'cache');
  await expect.poll(() => writer.getByTestId('cache-list').locator('tbody tr', { hasText: 'two tabs' }).getByTestId('cache-status').textContent()).toMatch(/^\s*done/);
  expect(browser.errors).toEqual([]);
});
