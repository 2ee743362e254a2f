/**
 * The offline demo as a user meets it: the app and the demo LLM served as `npm start` serves them, a
 * browser with empty storage, and the whole flow clicked through (scripts/walkthrough.ts) to an exported
 * delphi zip, with a screenshot of every screen in test-results/walkthrough/. Then a reload: deep links
 * and what was made come back from IndexedDB, and your own text links to the cache's feature pages.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startAppServers, type AppServers } from '../../scripts/servers/app-server.ts';
import { interp, walkThrough } from '../../scripts/walkthrough.ts';
import { readDelphiResultsZip } from '../../src/lib/index.ts';
import { launch, type Browser } from './harness.ts';

const root = resolve(import.meta.dirname, '../..');
const shots = resolve(root, 'test-results/walkthrough');
let servers: AppServers;
let browser: Browser;

beforeAll(async () => {
  // The site the global setup built, served with the demo LLM on the next port, as `npm start` does.
  servers = await startAppServers({ root: resolve(root, process.env.TEST_DIST ?? 'dist'), llmLatencyMs: 0 });
  expect(servers.llm).toBeDefined();
  browser = await launch();
  await browser.page.setViewportSize({ width: 1280, height: 800 });
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
  await servers?.close();
});

test('the demo, from empty storage to an exported delphi zip, by clicking and typing; every screen photographed', async () => {
  const { page } = browser;
  await page.goto(servers.site.url);
  expect(await page.evaluate(async () => (await indexedDB.databases()).length)).toBe(0);
  const names: string[] = [];
  const { runId, feature, download } = await walkThrough(page, {
    shot: async (name) => {
      names.push(name);
      await page.screenshot({ path: join(shots, name), fullPage: true });
    },
  });
  // Labelled as a demo wherever it is one.
  expect(await page.getByTestId('demo-banner').textContent()).toMatch(/Demo.*canned answers/s);
  expect(names).toEqual(['setup.png', 'cache.png', 'features.png', 'feature.png', 'explain.png', 'feature-scores.png', 'results.png']);
  for (const name of names) expect(statSync(join(shots, name)).size).toBeGreaterThan(10_000);

  // The zip holds every explanation of the run and the judgements of every scored feature.
  const path = join(shots, 'results.zip');
  await download.saveAs(path);
  const back = await readDelphiResultsZip(new Blob([new Uint8Array(readFileSync(path))]));
  const [explainJob] = await interp<any[]>(page, 'explainJobs', runId);
  const [scoreJob] = await interp<any[]>(page, 'scoreJobs', runId);
  const explained = (await interp<any[]>(page, 'explanations', explainJob.id)).filter((r) => typeof r.result.explanation === 'string');
  const scored = await interp<any[]>(page, 'scoreResults', scoreJob.id);
  expect(explained.length).toBeGreaterThan(3);
  expect(back.filter((r) => r.explanation).map((r) => [r.feature, r.explanation])).toEqual(explained.map((r) => [r.feature, r.result.explanation]));
  for (const { feature: f, result } of scored) {
    const read = back.find((r) => r.feature === f)!;
    expect(read.scores.detection!.map((e) => e.correct)).toEqual(result.scores.detection.examples.map((e: any) => e.correct));
    expect(read.scores.fuzzing!.map((e) => e.prediction)).toEqual(result.scores.fuzzing.examples.map((e: any) => e.prediction));
  }
  expect(browser.errors.filter((e) => !/Failed to load resource/.test(e))).toEqual([]);
  // The navigation marks the steps done.
  for (const step of ['setup', 'cache', 'explain', 'results']) await page.getByTestId(`nav-done-${step}`).waitFor();

  // Features picked in the table are what the next run explains: here the unexplained ones with the most windows.
  await page.getByTestId('nav-features').click();
  await page.getByTestId('filter-explained').selectOption('no');
  await page.getByTestId('features-hide-dead').check();
  await page.getByTestId('features-sort-windows').click();
  const shown = await page.getByTestId('features-shown').textContent();
  const pickedCount = Number(/^([\d,]+) of/.exec(shown ?? '')![1]!.replace(/,/g, ''));
  const tableOrder: number[] = await page.evaluate(() => Array.from((globalThis as any).autointerp.features.order as Uint32Array));
  expect(tableOrder).toHaveLength(pickedCount);
  await page.getByTestId('features-explain-shown').click();
  expect(await page.getByTestId('explain-picked').textContent()).toContain(`${pickedCount.toLocaleString('en-US')} features picked in the features table`);
  await page.getByTestId('explain-max-features').fill('3');
  await expect.poll(() => page.getByTestId('explain-plan').textContent()).toMatch(/features picked; the first 3 will be explained/);
  await page.getByTestId('explain-start').click();
  await expect.poll(async () => (await interp<any[]>(page, 'explainJobs', runId)).length).toBe(2);
  const pickedJob = (await interp<any[]>(page, 'explainJobs', runId)).at(-1);
  expect([...pickedJob.features].sort((a: number, b: number) => a - b)).toEqual(tableOrder.slice(0, 3).sort((a, b) => a - b));
  await page.locator('[data-testid="explain-job"][data-status="done"]').nth(1).waitFor();
  await page.getByTestId('explain-picked-clear').click();
  await expect.poll(() => page.getByTestId('explain-plan').textContent()).toMatch(/have at least 5 activating windows/);

  // A reload at a deep link: the results and the feature page come back from IndexedDB.
  await page.goto(`${servers.site.url}#/results/${encodeURIComponent(runId)}`);
  await page.locator('[data-testid="results-metrics-row"]').first().waitFor();
  expect(await page.getByTestId('nav-results').getAttribute('aria-current')).toBe('page');
  await page.reload();
  await page.locator('[data-testid="results-metrics-row"]').first().waitFor();
  // The navigation's marks come back with what is stored: explained and scored runs.
  await page.getByTestId('nav-done-explain').waitFor();
  await page.getByTestId('nav-done-results').waitFor();
  await page.goto(`${servers.site.url}#/features/${encodeURIComponent(runId)}/${feature}`);
  await page.getByTestId('feature-top-examples').waitFor();
  // A scored feature's page lists its first 20 judgements per scorer, all of them on request.
  const first = scored.reduce((a, b) => (b.result.scores.detection.examples.length > a.result.scores.detection.examples.length ? b : a));
  const judged = first.result.scores.detection.examples.length;
  expect(judged).toBeGreaterThan(20);
  await page.goto(`${servers.site.url}#/features/${encodeURIComponent(runId)}/${first.feature}`);
  const detection = page.locator('[data-testid="feature-score-result"][data-scorer="detection"]');
  await detection.getByTestId('feature-judgement').first().waitFor();
  expect(await detection.getByTestId('feature-judgement').count()).toBe(20);
  await detection.getByTestId('feature-judgements-more').click();
  expect(await detection.getByTestId('feature-judgement').count()).toBe(judged);

  // Your own text, linked to the features' pages in the cache just made (the model loads from the browser's files).
  await page.getByTestId('nav-setup').click();
  // The model loaded last is offered again: no need to pick the demo preset a second time.
  expect(await page.getByTestId('model-preset').locator('option:checked').textContent()).toBe('Tiny GPT-2 (demo, bundled with this app)');
  await page.getByTestId('model-load').click();
  await page.getByTestId('model-ready').waitFor();
  await page.getByTestId('sae-demo').click();
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor();
  await page.getByTestId('sample-text').fill('The cat sat on the mat, and the dog barked at the cat.');
  await page.getByTestId('sample-encode').click();
  await page.getByTestId('try-feature-link').first().waitFor();
  const strongest = page.getByTestId('try-strongest-feature').first();
  const picked = await strongest.getAttribute('data-feature');
  await strongest.click();
  await page.getByTestId('sample').screenshot({ path: join(shots, 'try.png') });
  await page.getByTestId('try-feature-page').click();
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${picked}`);
  expect(page.url()).toContain(`#/features/${encodeURIComponent(runId)}/${picked}`);
  expect(existsSync(join(shots, 'try.png'))).toBe(true);
  // And the reverse on its page: the same text, shaded by this feature alone, fires where Setup said it does.
  const onSetup: number[] = await page.getByTestId('view-setup').getByTestId('try-token').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-activation'))));
  const card = page.getByTestId('feature-try');
  await card.getByTestId('sample-text').fill('The cat sat on the mat, and the dog barked at the cat.');
  await card.getByTestId('sample-encode').click();
  await expect.poll(() => card.getByTestId('try-tokens').getAttribute('data-feature')).toBe(picked);
  const onPage: number[] = await card.getByTestId('try-token').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-activation'))));
  expect(onPage).toEqual(onSetup);
  expect(Math.max(...onPage)).toBeGreaterThan(0);

  // Back another day at the site's address: Setup offers to continue on the screen left last.
  await page.goto(servers.site.url);
  await page.getByTestId('resume').waitFor();
  expect(await page.getByTestId('resume').textContent()).toContain(`feature ${picked} of the cache`);
  await page.getByTestId('resume-link').click();
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${picked}`);
});
