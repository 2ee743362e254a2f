/**
 * Scores and explanations in the features table and on a feature's page, as a user meets them: a cache
 * made in the page, hand-made delphi results for a few of its features (detection and fuzz records,
 * explanations) imported as a zip, then the table's score and explanation columns (values checked
 * against balanced accuracies computed here from the records), sorting by a score, the score range,
 * the explanation search and the density range; a feature's page with every judgement and "only
 * mistakes"; and a score run stored straight into IndexedDB (what delphi's layout cannot carry:
 * simulation, fuzzing's marked tokens, failed calls, raw answers), which the table picks up when it
 * opens again.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { classificationMetrics, exportResultsZip, simulationMetrics, type DelphiScoreExample, type FeatureResults } from '../../src/lib/index.ts';
import { goto, launch, makeCache, type Browser } from './harness.ts';

let browser: Browser;
let runId = '';
let hook = '';

beforeAll(async () => {
  browser = await launch();
  await browser.page.setViewportSize({ width: 1280, height: 800 });
});
afterAll(async () => {
  await browser?.close();
});

/** One hand-made record: `p` the probability of "fits" (null: text mode), `q` the quantile (-1: not active). */
function record(activating: boolean, prediction: number | null, p: number | null, q = activating ? 1 : -1): DelphiScoreExample {
  const activations = activating ? [0, 2.5, 0.5, 0] : [0, 0, 0, 0];
  return {
    str_tokens: [' a', ' list', ',', ' then'],
    activations,
    distance: q,
    activating,
    prediction,
    probability: p,
    correct: prediction === null ? null : (prediction >= 0.5) === activating,
  };
}

// The features and what their records say.
const A = 10; // detection 0.75 (3 of 4 found, 3 of 4 rejected), fuzz 0.50
const B = 40; // detection 1.00, fuzz 1.00 with one example unanswered
const C = 3; // detection undefined (no non-activating example): n/a; no fuzz
const D = 20; // explained, never scored
const E = 70; // detection (2/3 + 1/2) / 2, text mode, one unanswered
const F = 90; // no explanation; scored later by a run stored straight into IndexedDB

const EXPLANATIONS: Record<number, string> = {
  [A]: 'Commas between the items of a list',
  [B]: 'The word "the" at the start of a sentence',
  [C]: 'Closing COMMA of a clause, before a conjunction such as and, but or so, in long sentences of legal text',
  [D]: 'Numbers and digits',
  [E]: 'Capital letters <b>not</b> at a sentence start',
};

const DETECTION: Record<number, DelphiScoreExample[]> = {
  [A]: [
    record(true, 1, 0.9, 1), record(true, 1, 0.8, 2), record(true, 1, 0.7, 3), record(true, 0, 0.3, 4),
    record(false, 0, 0.1), record(false, 0, 0.2), record(false, 1, 0.6), record(false, 0, 0.4),
  ],
  [B]: [record(true, 1, 0.95), record(true, 1, 0.85), record(false, 0, 0.05), record(false, 0, 0.15)],
  [C]: [record(true, 1, 0.9), record(true, 1, 0.7), record(true, 0, 0.2)],
  [E]: [record(true, 1, null), record(true, 1, null), record(true, 0, null), record(true, null, null), record(false, 0, null), record(false, 1, null)],
};
const FUZZ: Record<number, DelphiScoreExample[]> = {
  [A]: [record(true, 1, 0.8), record(true, 0, 0.4), record(false, 1, 0.7), record(false, 0, 0.2)],
  [B]: [record(true, 1, 0.9), record(true, null, null), record(false, 0, 0.1), record(false, 0, 0.3)],
};

/** delphi's accuracy, by hand: (TP/P + TN/N) / 2 over the examples with a prediction; undefined when a class is empty. */
function balancedAccuracy(records: readonly DelphiScoreExample[]): number | undefined {
  const judged = records.filter((r) => r.prediction !== null);
  const positives = judged.filter((r) => r.activating);
  const negatives = judged.filter((r) => !r.activating);
  if (!positives.length || !negatives.length) return undefined;
  const tp = positives.filter((r) => r.prediction! >= 0.5).length;
  const tn = negatives.filter((r) => r.prediction! < 0.5).length;
  return (tp / positives.length + tn / negatives.length) / 2;
}

function pearson(x: readonly number[], y: readonly number[]): number {
  const mean = (v: readonly number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const [mx, my] = [mean(x), mean(y)];
  let [sxy, sxx, syy] = [0, 0, 0];
  x.forEach((_, i) => {
    sxy += (x[i]! - mx) * (y[i]! - my);
    sxx += (x[i]! - mx) ** 2;
    syy += (y[i]! - my) ** 2;
  });
  return sxy / Math.sqrt(sxx * syy);
}

/** A cell as the table should write it: "—" not scored, "n/a" undefined, else two decimals. */
const cell = (records: readonly DelphiScoreExample[] | undefined) => {
  if (!records) return '—';
  const value = balancedAccuracy(records);
  return value === undefined ? 'n/a' : value.toFixed(2);
};

interface Row {
  feature: number;
  explanation: string;
  title: string | null;
  scores: Record<string, string>;
}

const rows = (page: Page): Promise<Row[]> =>
  page.locator('[data-testid="features-row"]').evaluateAll((elements) => elements.map((row) => {
    const explanation = row.querySelector('[data-testid="features-explanation"]')!;
    return {
      feature: Number(row.getAttribute('data-feature')),
      explanation: explanation.textContent ?? '',
      title: explanation.getAttribute('title'),
      scores: Object.fromEntries([...row.querySelectorAll('[data-testid="features-score"]')].map((c) => [c.getAttribute('data-scorer')!, (c.textContent ?? '').trim()])),
    };
  }));
const shownFeatures = async (page: Page) => (await rows(page)).map((r) => r.feature);
/** Opens a feature's page from its row in the table, as a user would, and waits for it. */
async function openFeature(page: Page, feature: number): Promise<void> {
  await page.locator(`[data-testid="features-row"][data-feature="${feature}"] a`).click();
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${feature}`);
}
const explainedIndexOrder = Object.keys(EXPLANATIONS).map(Number).sort((a, b) => a - b);

/** Waits until the table shows exactly `features`, in this order. */
async function expectRows(page: Page, features: number[]): Promise<void> {
  await expect.poll(() => shownFeatures(page)).toEqual(features);
}

test('the table shows each feature\'s newest explanation and scores, sorts by a score and filters by range, search and density', async () => {
  const { page } = browser;
  runId = await makeCache(page, 'saelens-topk');
  hook = await page.evaluate(async (runId) => (await (globalThis as any).autointerp.engine.listCaches()).find((r: any) => r.id === runId).settings.sae.hookName, runId);

  // delphi's layout, made here, imported in the page (a Blob cannot cross page.evaluate: base64 does).
  const results: FeatureResults[] = [A, B, C, D, E].map((feature) => ({
    hook, feature, explanation: EXPLANATIONS[feature]!,
    scores: { ...(DETECTION[feature] ? { detection: DETECTION[feature] } : {}), ...(FUZZ[feature] ? { fuzz: FUZZ[feature] } : {}) },
  }));
  const zip = Buffer.from(await (await exportResultsZip(results)).arrayBuffer()).toString('base64');
  const imported = await page.evaluate(async ({ runId, zip }) => {
    const bytes = Uint8Array.from(atob(zip), (c) => c.charCodeAt(0));
    const done = await (globalThis as any).autointerp.interp.importResults(runId, { name: 'hand-made.zip', zip: new Blob([bytes]) });
    return { explanations: done.explanations as number, scorers: done.scorers as string[], notes: done.notes as string[] };
  }, { runId, zip });
  expect(imported).toEqual({ explanations: 5, scorers: ['detection', 'fuzzing'], notes: [] });

  // The table, opened as a user would.
  await goto(page, 'features');
  await page.locator(`a[data-testid="features-cache-link"][href$="${encodeURIComponent(runId)}"]`).click();
  await page.getByTestId('features-row').first().waitFor();
  const table = await page.evaluate(async (runId) => {
    const t = await (globalThis as any).autointerp.interp.featureTable(runId);
    return { width: t.width as number, nTokens: t.nTokens as number, nnz: Array.from(t.nnz as Uint32Array) };
  }, runId);
  expect(table.width).toBe(128);
  await page.getByTestId('features-sort-detection').waitFor();
  expect(await page.getByTestId('features-sort-fuzzing').count()).toBe(1);
  expect(await page.getByTestId('features-sort-simulation').count()).toBe(0); // no run has simulated

  // Only the explained features, by index: each row's explanation and scores as the records imply.
  await page.getByTestId('features-sort-index').click();
  await page.getByTestId('filter-explained').selectOption('yes');
  await expectRows(page, explainedIndexOrder);
  for (const row of await rows(page)) {
    expect(row.explanation).toBe(EXPLANATIONS[row.feature]);
    expect(row.title).toBe(EXPLANATIONS[row.feature]);
    expect(row.scores).toEqual({ detection: cell(DETECTION[row.feature]), fuzzing: cell(FUZZ[row.feature]) });
  }
  // The values spelled out, so that a mistake in the helpers above cannot hide one in the page.
  const byFeature = Object.fromEntries((await rows(page)).map((r) => [r.feature, r.scores]));
  expect(byFeature).toEqual({
    [C]: { detection: 'n/a', fuzzing: '—' },
    [A]: { detection: '0.75', fuzzing: '0.50' },
    [D]: { detection: '—', fuzzing: '—' },
    [B]: { detection: '1.00', fuzzing: '1.00' },
    [E]: { detection: '0.58', fuzzing: '—' },
  });
  // HTML in an explanation stays text.
  expect(await page.locator(`[data-testid="features-row"][data-feature="${E}"] [data-testid="features-explanation"] b`).count()).toBe(0);
  // The long explanation is cut to its column (the whole text in the title).
  const long = page.locator(`[data-testid="features-row"][data-feature="${C}"] [data-testid="features-explanation"]`);
  expect(await long.evaluate((e) => e.scrollWidth > e.clientWidth)).toBe(true);

  // Sorted by detection, best first, then worst first: the undefined (C) and the unscored (D) stay last, by index.
  await page.getByTestId('features-sort-detection').click();
  expect(await page.locator('th[aria-sort="descending"]').textContent()).toMatch(/Detection/);
  await expectRows(page, [B, A, E, C, D]);
  await page.getByTestId('features-sort-detection').click();
  await expectRows(page, [E, A, B, C, D]);
  // Without the filter, every unscored feature follows the scored ones, in index order.
  await page.getByTestId('filter-explained').selectOption('any');
  await expect.poll(async () => (await shownFeatures(page)).slice(0, 6)).toEqual([E, A, B, 0, 1, 2]);
  await page.getByTestId('features-sort-detection').click();
  await expect.poll(async () => (await shownFeatures(page)).slice(0, 6)).toEqual([B, A, E, 0, 1, 2]);
  await page.screenshot({ path: '/tmp/table.png' });

  // A detection score range, then the search, then both.
  await page.getByTestId('features-sort-index').click();
  await page.getByTestId('filter-scorer').selectOption('detection');
  await page.getByTestId('filter-score-min').fill('0.7');
  await expectRows(page, [A, B]);
  await page.getByTestId('filter-score-max').fill('0.8');
  await expectRows(page, [A]);
  await page.getByTestId('filter-score-min').fill('');
  await expectRows(page, [A, E]); // C's is undefined: never within a range
  await page.getByTestId('filter-scorer').selectOption('fuzzing');
  await expectRows(page, [A]);
  await page.getByTestId('filter-score-max').fill('');
  expect((await page.getByTestId('features-shown').textContent())!).toMatch(/^128 of 128 features shown/);
  await page.getByTestId('filter-search').fill('comma');
  await expectRows(page, [C, A]);
  await page.getByTestId('filter-search').fill('COMMA OF');
  await expectRows(page, [C]);
  await page.getByTestId('filter-search').fill('comma');
  await page.getByTestId('filter-scorer').selectOption('detection');
  await page.getByTestId('filter-score-min').fill('0.5');
  await expectRows(page, [A]);
  await page.getByTestId('filter-reset').click();
  await expect.poll(() => page.getByTestId('features-shown').textContent()).toMatch(/^128 of 128 features shown/);
  expect(await page.getByTestId('filter-search').inputValue()).toBe('');
  expect(await page.getByTestId('filter-reset').isDisabled()).toBe(true);

  // A density range in percent, bounds inclusive: the count is the table's own.
  const densities = table.nnz.map((n) => n / table.nTokens);
  const alive = densities.filter((d) => d > 0).sort((a, b) => a - b);
  // Percentages as typed (three decimals); the page divides them by 100, as done here.
  const minPercent = Math.floor(alive[Math.floor(alive.length / 4)]! * 100_000) / 1000;
  const maxPercent = Math.ceil(alive[Math.floor((alive.length * 3) / 4)]! * 100_000) / 1000;
  const [low, high] = [minPercent / 100, maxPercent / 100];
  await page.getByTestId('filter-density-min').fill(String(minPercent));
  await page.getByTestId('filter-density-max').fill(String(maxPercent));
  const inRange = densities.filter((d) => d >= low && d <= high).length;
  expect(inRange).toBeGreaterThan(0);
  expect(inRange).toBeLessThan(128);
  await expect.poll(() => page.getByTestId('features-shown').textContent()).toMatch(new RegExp(`^${inRange} of 128 features shown`));
  for (const f of await shownFeatures(page)) expect(densities[f]! >= low && densities[f]! <= high).toBe(true);

  // A filter takes the table back to its top.
  await page.getByTestId('filter-reset').click();
  const viewport = page.getByTestId('features-table');
  await viewport.evaluate((e) => (e.scrollTop = e.scrollHeight));
  await expect.poll(() => viewport.evaluate((e) => e.scrollTop)).toBeGreaterThan(1000);
  // (A filter that leaves many rows: the browser alone would keep the box scrolled down.)
  await page.getByTestId('filter-explained').selectOption('no');
  await expect.poll(() => page.getByTestId('features-shown').textContent()).toMatch(/^123 of 128 features shown/);
  await expect.poll(() => viewport.evaluate((e) => e.scrollTop)).toBe(0);
  expect(await page.getByTestId('features-row').first().getAttribute('data-feature')).toBe('0');
  await page.getByTestId('filter-search').fill('word');
  await expectRows(page, []);
  await page.getByTestId('filter-explained').selectOption('any');
  await expectRows(page, [B]);
  await page.getByTestId('filter-reset').click();
  expect(browser.errors).toEqual([]);
});

test('a feature\'s page shows each score run with every judgement, and "only mistakes" leaves the wrong ones', async () => {
  const { page } = browser;
  await page.getByTestId('filter-explained').selectOption('yes');
  await openFeature(page, A);
  const card = page.getByTestId('feature-scores');
  await card.getByTestId('feature-score-run').waitFor();
  expect(await card.getByTestId('feature-score-run').count()).toBe(1);
  expect(await card.getByTestId('feature-score-explanation').textContent()).toBe(EXPLANATIONS[A]);

  for (const [scorer, records] of [['detection', DETECTION[A]!], ['fuzzing', FUZZ[A]!]] as const) {
    const result = card.locator(`[data-testid="feature-score-result"][data-scorer="${scorer}"]`);
    expect(Number(await result.locator('[data-metric="balanced_accuracy"]').getAttribute('data-value'))).toBeCloseTo(balancedAccuracy(records)!, 12);
    expect(await result.locator('[data-metric="balanced_accuracy"] dd').textContent()).toBe(balancedAccuracy(records)!.toFixed(2));
    expect(await result.getByTestId('feature-score-mode').getAttribute('data-mode')).toBe('logprobs');
    const judgements = result.getByTestId('feature-judgement');
    const shown = await judgements.evaluateAll((elements) => elements.map((e) => ({
      index: Number(e.getAttribute('data-index')),
      correct: e.getAttribute('data-correct'),
      activating: e.getAttribute('data-activating'),
      probability: e.querySelector('[data-testid="feature-judgement-probability"]')?.textContent,
      mark: e.querySelector('[data-testid="feature-judgement-mark"]')?.textContent?.trim(),
      wrong: e.classList.contains('wrong'),
      verdict: e.querySelector('.verdict')?.textContent,
      truth: e.querySelector('.truth')?.textContent,
    })));
    expect(shown).toEqual(records.map((r, index) => ({
      index,
      correct: String(r.correct),
      activating: String(r.activating),
      probability: r.probability!.toFixed(2),
      mark: r.correct ? '✓' : '✗',
      wrong: r.correct === false,
      verdict: r.prediction! >= 0.5 ? 'fits' : 'does not fit',
      truth: r.activating ? `quantile ${r.distance + 1}` : 'not active',
    })));
  }
  // Detection's AUC from the probabilities: 14 of the 16 (activating, non-activating) pairs are ordered right.
  const detection = card.locator('[data-testid="feature-score-result"][data-scorer="detection"]');
  expect(Number(await detection.locator('[data-metric="auc"]').getAttribute('data-value'))).toBeCloseTo(14 / 16, 12);
  await card.screenshot({ path: '/tmp/feature-scores.png' });

  // Only mistakes: the wrong ones of each scorer, nothing else.
  await card.getByTestId('feature-only-mistakes').check();
  const wrong = async (scorer: string) => (await card.locator(`[data-testid="feature-score-result"][data-scorer="${scorer}"] [data-testid="feature-judgement"]`).evaluateAll((elements) => elements.map((e) => [Number(e.getAttribute('data-index')), e.getAttribute('data-correct')])));
  await expect.poll(() => wrong('detection')).toEqual([[3, 'false'], [6, 'false']]);
  expect(await wrong('fuzzing')).toEqual([[1, 'false'], [2, 'false']]);
  await card.getByTestId('feature-only-mistakes').uncheck();
  await expect.poll(async () => (await wrong('detection')).length).toBe(8);

  // E: text mode, no probability column, the unanswered example says so and is neither right nor wrong.
  await page.getByTestId('feature-back').click();
  await openFeature(page, E);
  const e = page.getByTestId('feature-scores').locator('[data-testid="feature-score-result"][data-scorer="detection"]');
  await e.waitFor();
  expect(await e.getByTestId('feature-score-mode').getAttribute('data-mode')).toBe('text');
  expect(await e.getByTestId('feature-judgement-probability').count()).toBe(0);
  expect(await e.locator('[data-metric="auc"] dd').textContent()).toBe('n/a');
  const unanswered = e.locator('[data-testid="feature-judgement"][data-index="3"]');
  expect(await unanswered.getAttribute('data-correct')).toBe('null');
  expect(await unanswered.locator('.verdict').textContent()).toBe('no answer');
  // C: balanced accuracy undefined, shown as n/a (never 0).
  await page.getByTestId('feature-back').click();
  await openFeature(page, C);
  const c = page.getByTestId('feature-scores').locator('[data-testid="feature-score-result"][data-scorer="detection"]');
  await c.waitFor();
  expect(await c.locator('[data-metric="balanced_accuracy"]').getAttribute('data-value')).toBe('null');
  expect(await c.locator('[data-metric="balanced_accuracy"] dd').textContent()).toBe('n/a');
  // D was never scored: the card points to the Explain screen.
  await page.getByTestId('feature-back').click();
  await openFeature(page, D);
  await page.getByTestId('feature-no-scores').waitFor();
  expect(await page.getByTestId('feature-no-scores').locator('a').getAttribute('href')).toMatch(/#\/explain/);
  expect(browser.errors).toEqual([]);
});

test('a newer score run with simulation, marked tokens, failures and raw answers: the table picks it up when it opens again, the page shows it', async () => {
  const { page } = browser;
  // What delphi's layout cannot carry, stored as the app's own score run would be.
  const fuzzing = [
    { str_tokens: [' a', ' b', ' c'], activations: [0, 3, 1], distance: 0, activating: true, prediction: 1, probability: null, correct: true, marked: [false, true, false] },
    { str_tokens: [' d', ' e', ' f'], activations: [0, 0, 0], distance: -1, activating: false, prediction: 1, probability: null, correct: false, marked: [true, false, true] },
    { str_tokens: [' g', ' h', ' i'], activations: [0, 0, 0], distance: -1, activating: false, prediction: null, probability: null, correct: null, marked: [false, false, false] },
  ];
  const sequences = [
    { str_tokens: [' The', ' cat', ' sat', ' on'], activations: [0, 2, 4, 0], distance: 0, activating: true, predicted: [0, 3, 8, 1] },
    { str_tokens: [' A', ' dog', ' ran', ' off'], activations: [1, 0, 0, 3], distance: 1, activating: true, predicted: [2, 0, 1, 6] },
    { str_tokens: [' No', ' such', ' thing', '.'], activations: [0, 0, 0, 0], distance: -1, activating: false, predicted: null },
  ];
  const common = { feature: F, hook, model: 'hand/made', explanation: 'Animals doing things', seed: 0, usage: { promptTokens: 0, completionTokens: 0 }, attempts: 2 };
  const settings = { examplesShown: 5, logprobs: false, topLogprobs: 5, threshold: 0.3, simulationFormat: 'lines', temperature: 0 };
  const scores = {
    fuzzing: { ...common, scorer: 'fuzzing', settings, raw: ['[1, 1]', 'maybe <b>so</b>'], calls: 2, failures: [{ kind: 'parse', code: 'score/unreadable', message: 'The answer "maybe" is not a list of 0 and 1.', call: 1 }], kind: 'classifier', mode: 'text', examples: fuzzing, metrics: classificationMetrics(fuzzing) },
    simulation: { ...common, scorer: 'simulation', settings, raw: ['The\t0\ncat\t3', 'The\t0', null], calls: 3, failures: [{ kind: 'llm', code: 'llm/timeout', message: 'The model did not answer within 90 s.', call: 2 }], kind: 'simulation', mode: 'integers', examples: sequences, metrics: simulationMetrics(sequences) },
  };
  await page.evaluate(async ({ runId, F, scores }) => {
    const db: IDBDatabase = await new Promise((resolve, reject) => {
      const open = indexedDB.open('autointerp-cache');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
    const id = 'score-hand-made';
    const job = { id, stage: 'score', cacheRunId: runId, createdAt: new Date(Date.now() + 1000).toISOString(), baseUrl: '', model: 'hand/made', method: 'fuzzing,simulation', settings: {}, recordOptions: {}, budget: {}, concurrency: 1, features: [F], status: 'done' };
    const tx = db.transaction(['llmJobs', 'llmResults'], 'readwrite');
    tx.objectStore('llmJobs').put(job);
    tx.objectStore('llmResults').put({ jobId: id, feature: F, result: { feature: F, explanation: 'Animals doing things', scores } });
    await new Promise((resolve, reject) => {
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }, { runId, F, scores });

  // Back to the table (the same one, still current): its scores are read again, so Simulation is there now.
  await page.getByTestId('feature-back').click();
  await page.getByTestId('features-sort-simulation').waitFor();
  await page.getByTestId('filter-reset').click();
  await page.getByTestId('features-sort-simulation').click();
  const pooled = pearson([0, 2, 4, 0, 1, 0, 0, 3], [0, 3, 8, 1, 2, 0, 1, 6]);
  const first = (await rows(page))[0]!;
  expect(first.feature).toBe(F);
  expect(first.scores).toEqual({ detection: '—', fuzzing: '0.50', simulation: pooled.toFixed(2) });
  expect(first.explanation).toBe('');
  await page.screenshot({ path: '/tmp/table-simulation.png' });
  // A simulation range keeps F only.
  await page.getByTestId('filter-scorer').selectOption('simulation');
  await page.getByTestId('filter-score-min').fill('-1');
  await expectRows(page, [F]);
  await page.getByTestId('filter-reset').click();

  await openFeature(page, F);
  const card = page.getByTestId('feature-scores');
  const fuzz = card.locator('[data-testid="feature-score-result"][data-scorer="fuzzing"]');
  await fuzz.waitFor();
  // Fuzzing: the marked tokens are marked, the failed call is named with its message, the raw answers stay text.
  const marks = await fuzz.getByTestId('feature-judgement').evaluateAll((elements) => elements.map((row) => [...row.querySelectorAll('[data-testid="feature-score-token"]')].map((t) => t.getAttribute('data-marked') === 'true')));
  expect(marks).toEqual(fuzzing.map((e) => e.marked));
  expect(await fuzz.locator('[data-testid="feature-score-token"][data-marked="true"]').first().evaluate((e) => getComputedStyle(e).textDecorationLine)).toBe('underline');
  expect(await fuzz.getByTestId('feature-score-failure').textContent()).toBe('Call 2: The answer "maybe" is not a list of 0 and 1.');
  expect(await fuzz.getByTestId('feature-score-raw').locator('pre').allTextContents()).toEqual(['[1, 1]', 'maybe <b>so</b>']);
  expect(await fuzz.getByTestId('feature-score-raw').locator('b').count()).toBe(0);
  expect(await fuzz.locator('[data-testid="feature-judgement"][data-index="2"] .verdict').textContent()).toBe('no answer');
  // An unanswered example is no mistake.
  await card.getByTestId('feature-only-mistakes').check();
  await expect.poll(() => fuzz.getByTestId('feature-judgement').evaluateAll((elements) => elements.map((e) => e.getAttribute('data-index')))).toEqual(['1']);
  await card.getByTestId('feature-only-mistakes').uncheck();
  // Simulation: the pooled Pearson, each sequence's own, each token's prediction beside its truth.
  const simulation = card.locator('[data-testid="feature-score-result"][data-scorer="simulation"]');
  expect(Number(await simulation.locator('[data-metric="pearson"]').getAttribute('data-value'))).toBeCloseTo(pooled, 12);
  const shown = await simulation.getByTestId('feature-sequence').evaluateAll((elements) => elements.map((e) => ({
    pearson: e.getAttribute('data-pearson'),
    truth: [...e.querySelectorAll('[data-testid="feature-simulated-token"]')].map((t) => Number(t.getAttribute('data-activation'))),
    predicted: [...e.querySelectorAll('[data-testid="feature-simulated-token"] .predicted')].map((t) => Number(t.textContent)),
  })));
  expect(shown).toHaveLength(3);
  expect(Number(shown[0]!.pearson)).toBeCloseTo(pearson(sequences[0]!.activations, sequences[0]!.predicted!), 12);
  expect(Number(shown[1]!.pearson)).toBeCloseTo(pearson(sequences[1]!.activations, sequences[1]!.predicted!), 12);
  expect(shown[2]!.pearson).toBe('null');
  expect(shown.map((s) => s.truth)).toEqual(sequences.map((s) => s.activations));
  expect(shown.map((s) => s.predicted)).toEqual([[0, 3, 8, 1], [2, 0, 1, 6], []]);
  expect(await simulation.getByTestId('feature-score-failure').textContent()).toBe('Call 3: The model did not answer within 90 s.');
  await card.screenshot({ path: '/tmp/feature-scores-simulation.png' });
  expect(browser.errors).toEqual([]);
});
