/**
 * The whole flow of the offline demo, clicked and typed as a user would, from an empty browser to an
 * exported delphi zip: the demo model, SAE and corpus (Setup, Cache), the features table and a feature's
 * page (Features), explaining and scoring with the demo LLM (Explain), the results (Results), and your own
 * text linked to the features (Setup). `shot` is called on every screen. The walkthrough test
 * (test/browser/walkthrough.test.ts) runs it and checks what it returns; scripts/screenshot.ts runs it to
 * take the README's screenshots.
 */
import type { Download, Page } from 'playwright-core';

export interface WalkthroughOptions {
  /** Called once each screen shows what it should, with a file name for its screenshot. */
  shot: (name: string) => Promise<void>;
  /** Features to explain at most (the first ones with enough windows). */
  maxFeatures?: number;
}

export interface WalkthroughResult {
  runId: string;
  /** The feature whose page was opened. */
  feature: number;
  /** The delphi zip the Results screen exported. */
  download: Download;
}

const LONG = { timeout: 180_000 };

/** The interp worker's answer to `fn(...args)`, as the page sees it. */
export const interp = <T>(page: Page, fn: string, ...args: unknown[]): Promise<T> =>
  page.evaluate(({ fn, args }) => (globalThis as any).autointerp.interp[fn](...args), { fn, args }) as Promise<T>;

export async function walkThrough(page: Page, options: WalkthroughOptions): Promise<WalkthroughResult> {
  const { shot } = options;

  // Setup: the demo model, its toy SAE, and a sentence.
  await page.getByTestId('adapter-name').waitFor({ timeout: 60_000 });
  await page.getByTestId('model-preset').selectOption({ label: 'Tiny GPT-2 (demo, bundled with this app)' });
  await page.getByTestId('model-load').click();
  await page.getByTestId('model-ready').waitFor(LONG);
  await page.getByTestId('sae-demo').click();
  await page.getByTestId('sae-use').click();
  await page.getByTestId('sae-ready').waitFor(LONG);
  await page.getByTestId('sample-encode').click();
  await page.getByTestId('try-tokens').waitFor(LONG);
  await shot('setup.png');

  // Cache: the demo corpus, tokenized and cached.
  await page.getByTestId('nav-cache').click();
  await page.getByTestId('corpus-demo').click();
  await page.getByTestId('corpus-column').waitFor(LONG);
  await page.getByTestId('corpus-prepare').click();
  await page.getByTestId('corpus-summary').waitFor(LONG);
  await page.getByTestId('cache-start').click();
  await page.getByTestId('cache-list').locator('text=done').waitFor({ timeout: 300_000 });
  await shot('cache.png');
  const runId: string = await page.evaluate(async () => (await (globalThis as any).autointerp.engine.listCaches())[0].id);

  // Features: the table, then the strongest feature's page.
  await page.getByTestId('cache-features-link').first().click();
  await page.getByTestId('features-row').first().waitFor(LONG);
  await page.getByTestId('min-examples').fill('5');
  await shot('features.png');
  const feature = Number(await page.getByTestId('features-row').first().getAttribute('data-feature'));
  await page.getByTestId('features-row').first().click();
  await page.getByTestId('feature-top-examples').waitFor(LONG);
  await shot('feature.png');

  // Explain: the demo LLM, a run over the features with enough windows.
  await page.getByTestId('nav-explain').click();
  await page.getByTestId('explain-run').waitFor(LONG);
  await page.getByTestId('llm-preset-demo').click();
  await page.getByTestId('llm-connect').click();
  await page.getByTestId('llm-model').waitFor(LONG);
  // The minimum set in the table holds here too: the two screens agree on what would be explained.
  const min = await page.getByTestId('explain-min-examples').inputValue();
  if (min !== '5') throw new Error(`The Explain form's minimum of windows is ${min}, not the 5 set in the features table.`);
  await page.getByTestId('explain-max-features').fill(String(options.maxFeatures ?? 12));
  await page.getByTestId('explain-plan').waitFor(LONG);
  await page.getByTestId('explain-start').click();
  await page.locator('[data-testid="explain-job"][data-status="done"]').waitFor(LONG);
  // Score: detection and fuzzing (the defaults).
  await page.getByTestId('score-start').click();
  await page.locator('[data-testid="score-job"][data-status="done"]').waitFor(LONG);
  await page.locator('[data-testid="score-metrics-row"]').first().waitFor(LONG);
  await shot('explain.png');

  // Back to the table: the scores are there; sorted by detection, the best-explained feature's page shows its judgements.
  await page.getByTestId('nav-features').click();
  await page.getByTestId('features-sort-detection').click();
  await page.getByTestId('features-row').first().click();
  await page.getByTestId('feature-score-result').first().waitFor(LONG);
  await page.getByTestId('feature-score-run').first().scrollIntoViewIfNeeded();
  await shot('feature-scores.png');

  return { runId, feature, download: await results(page, shot) };
}

/** The Results screen of the cache explained last: its charts, then the delphi zip exported. */
async function results(page: Page, shot: WalkthroughOptions['shot']): Promise<Download> {
  await page.getByTestId('nav-results').click();
  await page.getByTestId('view-results').waitFor(LONG);
  await page.getByTestId('results-metrics-row').first().waitFor(LONG);
  await shot('results.png');
  const download = page.waitForEvent('download');
  await page.getByTestId('results-export-delphi').click();
  return download;
}
