/**
 * The Results screen over a cache made in the page: delphi results built here in Node (detection and
 * delphi's `fuzz` folder, records chosen so every figure can be worked out by hand) are imported
 * through the import card's file input; the metrics table and the numbers under each chart are those
 * figures; the delphi zip, CSV and Neuronpedia exports downloaded with the buttons read back to them;
 * and a refused import (another SAE's features, a file that is not a zip) says why and changes nothing.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readFile } from 'node:fs/promises';
import { exportResultsZip, readDelphiResultsZip, ZipWriter, type DelphiScoreExample, type FeatureResults } from '../../src/lib/index.ts';
import { goto, launch, makeCache, type Browser } from './harness.ts';
import { readCsvRecords } from '../support/csv.ts';

let browser: Browser;
let runId = '';
let hook = '';
let width = 0;
/** The four features the results are about (slots A to D below), and how often each fires. */
let features: number[] = [];
let nnz: number[] = [];
let nTokens = 0;

beforeAll(async () => {
  browser = await launch();
});
afterAll(async () => {
  await browser?.close();
});

/** An example: whether it activates, its quantile (-1: not active), the prediction and its probability. */
type Example = [activating: boolean, distance: number, prediction: 0 | 1 | null, probability: number | null];

const record = ([activating, distance, prediction, probability]: Example): DelphiScoreExample => ({
  str_tokens: ['The', ' cat', ' sat'],
  activations: activating ? [0, 2.5, 0] : [0, 0, 0],
  distance,
  activating,
  prediction,
  probability,
  correct: prediction === null ? null : (prediction === 1) === activating,
});

/*
 * Detection, with probabilities (all distinct, so the ROC curve moves one example at a time).
 *   A: TP 2, FN 1, TN 1, FP 1   balanced accuracy (2/3 + 1/2) / 2 = 7/12   F1 4/6   AUC 5/6
 *   B: TP 2, TN 2               balanced accuracy 1                        F1 1
 *   C: TP 0, FN 1, TN 1, FP 1, one failed   balanced accuracy (0 + 1/2) / 2 = 1/4   F1 0
 *   D: non-activating only      balanced accuracy undefined                F1 undefined
 * Pooled: P 6 (TP 4), N 8 (TN 6), failed 1: balanced accuracy (4/6 + 6/8) / 2 = 17/24, precision 4/6,
 * recall 4/6, F1 8/12. AUC: the positives 0.95, 0.9, 0.8, 0.7 beat all 8 negatives, 0.4 beats 6, 0.3
 * beats 5: 43/48.
 */
const DETECTION: Example[][] = [
  [[true, 0, 1, 0.9], [true, 1, 1, 0.8], [true, 1, 0, 0.4], [false, -1, 0, 0.2], [false, -1, 1, 0.6]],
  [[true, 0, 1, 0.95], [true, 0, 1, 0.7], [false, -1, 0, 0.1], [false, -1, 0, 0.35]],
  [[true, 0, 0, 0.3], [true, 1, null, null], [false, -1, 0, 0.15], [false, -1, 1, 0.55]],
  [[false, -1, 0, 0.05], [false, -1, 0, 0.25]],
];
/** The pooled ROC curve: scores from highest down, 0.95 0.9 0.8 0.7 (+) 0.6 0.55 (-) 0.4 (+) 0.35 (-) 0.3 (+) then five (-). */
const ROC = {
  fpr: [0, 0, 0, 0, 0, 1 / 8, 2 / 8, 2 / 8, 3 / 8, 3 / 8, 4 / 8, 5 / 8, 6 / 8, 7 / 8, 1],
  tpr: [0, 1 / 6, 2 / 6, 3 / 6, 4 / 6, 4 / 6, 4 / 6, 5 / 6, 5 / 6, 1, 1, 1, 1, 1, 1],
};

/*
 * Fuzzing (delphi's folder `fuzz`), no probabilities.
 *   A: TP 2 of 5, TN 2 of 2     balanced accuracy (0.4 + 1) / 2 = 0.7 (a bin edge in floating point)   F1 4/7
 *   B: TP 1 of 1, TN 0 of 1     balanced accuracy 0.5   F1 2/3
 *   C: TP 2 of 2, TN 2 of 2     balanced accuracy 1     F1 1
 *   D: its positive failed      balanced accuracy undefined
 * Pooled: P 8 (TP 5), N 6 (TN 5), failed 1: balanced accuracy (5/8 + 5/6) / 2 = 35/48, precision 5/6,
 * recall 5/8, F1 10/14; no AUC.
 */
const FUZZ: Example[][] = [
  [[true, 0, 1, null], [true, 1, 1, null], [true, 1, 0, null], [true, 0, 0, null], [true, 0, 0, null], [false, -1, 0, null], [false, -1, 0, null]],
  [[true, 0, 1, null], [false, -1, 1, null]],
  [[true, 0, 1, null], [true, 1, 1, null], [false, -1, 0, null], [false, -1, 0, null]],
  [[true, 0, null, null], [false, -1, 0, null]],
];
const F1 = { detection: [4 / 6, 1, 0, null], fuzzing: [4 / 7, 2 / 3, 1, null] };

/** What the zip holds: the four features, with a simulation folder the import skips (with a note). */
const delphiResults = (): FeatureResults[] =>
  features.map((feature, i) => ({
    hook,
    feature,
    explanation: `slot ${'ABCD'[i]}: "cat" after <b>The</b>, said twice`,
    scores: { detection: DETECTION[i]!.map(record), fuzz: FUZZ[i]!.map(record), simulation: [record([true, 0, 1, null])] },
  }));

const upload = async (blob: Blob, name: string) => ({ name, mimeType: 'application/zip', buffer: Buffer.from(await blob.arrayBuffer()) });

/** Per feature slot, the F1s weighted by how often each feature fires. */
function weightedF1(f1s: (number | null)[]): number {
  let sum = 0;
  let weights = 0;
  f1s.forEach((f1, i) => {
    if (f1 === null || !(nnz[features[i]!]! > 0)) return;
    sum += nnz[features[i]!]! * f1;
    weights += nnz[features[i]!]!;
  });
  return sum / weights;
}

const cell = (page: Page, scorer: string, metric: string) => page.locator(`[data-testid="results-metrics-row"][data-scorer="${scorer}"] [data-metric="${metric}"]`);

async function download(page: Page, testid: string): Promise<{ name: string; bytes: Buffer }> {
  const event = page.waitForEvent('download');
  await page.getByTestId(testid).click();
  const file = await event;
  return { name: file.suggestedFilename(), bytes: await readFile((await file.path())!) };
}

test('imported delphi results: the metrics and every chart\'s numbers are the hand-computed ones', async () => {
  const { page } = browser;
  runId = await makeCache(page, 'saelens-topk');
  const cache = await page.evaluate(async (runId) => {
    const api = (globalThis as any).autointerp.interp;
    const run = (await api.listCaches()).find((r: any) => r.id === runId);
    const table = await api.featureTable(runId);
    return { hook: run.settings.sae.hookName as string, width: run.width as number, nnz: Array.from(table.nnz as Uint32Array), nTokens: table.nTokens as number };
  }, runId);
  ({ hook, width, nnz, nTokens } = cache);
  expect(width).toBe(128);
  // Four features that fire, one of them rare if there is one, so the density axis spans something.
  const firing = nnz.flatMap((n, f) => (n > 0 ? [f] : []));
  expect(firing.length).toBeGreaterThanOrEqual(4);
  const rarest = firing.reduce((best, f) => (nnz[f]! < nnz[best]! ? f : best), firing[0]!);
  features = [...new Set([firing[0]!, firing[1]!, rarest, firing.at(-1)!])];
  if (features.length < 4) features = firing.slice(0, 4);

  // The Results entry leads to the caches; picking this one opens its screen, with no run yet.
  await goto(page, 'results');
  await expect.poll(() => page.title()).toBe('Results · AutoInterp Web');
  await page.locator(`[data-testid="results-cache-link"][href="#/results/${encodeURIComponent(runId)}"]`).click();
  await page.getByTestId('results-no-runs').waitFor();
  expect(await page.getByTestId('nav-results').getAttribute('aria-current')).toBe('page');

  await page.getByTestId('results-import-zip').setInputFiles(await upload(await exportResultsZip(delphiResults()), 'delphi-run.zip'));
  const report = page.getByTestId('results-import-report');
  await report.waitFor();
  expect(await page.getByTestId('results-import-explanations').textContent()).toBe('4');
  expect(await page.getByTestId('results-import-scorers').textContent()).toBe('detection, fuzzing');
  expect(await page.getByTestId('results-import-notes').textContent()).toContain('scores/simulation/ was not imported');
  // The new run is the one shown, with who made it.
  await page.locator('[data-testid="results-metrics-row"][data-scorer="fuzzing"]').waitFor();
  expect(await page.getByTestId('results-run-model').textContent()).toBe('delphi-run.zip');
  expect(await page.getByTestId('results-run-info').textContent()).toMatch(/^\s*Imported from delphi-run.zip on /);
  const jobs = await page.evaluate((runId) => (globalThis as any).autointerp.interp.scoreJobs(runId), runId);
  expect(jobs).toHaveLength(1);
  expect(await page.getByTestId('results-run-select').inputValue()).toBe(jobs[0].id);

  // The metrics table: pooled figures, n/a where undefined, – where not the scorer's.
  const expected: Record<string, Record<string, number | null>> = {
    detection: { balanced_accuracy: 17 / 24, precision: 4 / 6, recall: 4 / 6, f1: 8 / 12, auc: 43 / 48, frequency_weighted_f1: weightedF1(F1.detection), failed: 1 },
    fuzzing: { balanced_accuracy: 35 / 48, precision: 5 / 6, recall: 5 / 8, f1: 10 / 14, auc: null, frequency_weighted_f1: weightedF1(F1.fuzzing), failed: 1 },
  };
  for (const [scorer, metrics] of Object.entries(expected)) {
    expect(await cell(page, scorer, 'features').textContent()).toBe('4');
    for (const [metric, value] of Object.entries(metrics)) {
      const shown = cell(page, scorer, metric);
      if (value === null) {
        expect(await shown.textContent()).toBe('n/a');
        expect(await shown.getAttribute('data-value')).toBe('');
      } else {
        expect(Number(await shown.getAttribute('data-value'))).toBeCloseTo(value, 9);
        expect(await shown.textContent()).toBe(metric === 'failed' ? String(value) : value.toFixed(3));
      }
    }
    expect(await cell(page, scorer, 'pearson').textContent()).toBe('–');
  }
  expect(await cell(page, 'detection', 'balanced_accuracy').textContent()).toBe('0.708');
  expect(await cell(page, 'detection', 'auc').textContent()).toBe('0.896');

  // Histograms: bins of 0.1; 0.7 lands in [0.7, 0.8) and 1 in the last bin; D is undefined under both.
  const bins = { detection: { '0.2': 1, '0.5': 1, '0.9': 1 }, fuzzing: { '0.5': 1, '0.7': 1, '0.9': 1 } };
  for (const [scorer, counts] of Object.entries(bins)) {
    const figure = page.locator(`[data-testid="results-histogram"][data-scorer="${scorer}"]`);
    const rows = figure.locator('[data-testid="results-histogram-table"] tbody tr[data-from]');
    expect(await rows.count()).toBe(10);
    const shown: Record<string, number> = {};
    for (const row of await rows.all()) if (Number(await row.getAttribute('data-count')) > 0) shown[(await row.getAttribute('data-from'))!] = Number(await row.getAttribute('data-count'));
    expect(shown).toEqual(counts);
    expect(await figure.getByTestId('results-histogram-undefined').getAttribute('data-count')).toBe('1');
    expect(await figure.getByTestId('results-histogram-undefined').textContent()).toContain('1 feature with an undefined score');
  }

  // Accuracy by quantile, pooled: quantile 1, 2 and the non-activating examples.
  const quantiles = page.locator('[data-testid="results-quantiles"][data-kind="classifier"] [data-testid="results-quantile-table"] tbody tr');
  expect(await quantiles.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-distance')))).toEqual(['0', '1', '-1']);
  expect(await quantiles.evaluateAll((rows) => rows.map((row) => row.querySelector('th')!.textContent))).toEqual(['1 (strongest)', '2', 'not active']);
  const byQuantile = { detection: [3 / 4, 1 / 2, 6 / 8], fuzzing: [3 / 5, 2 / 3, 5 / 6] };
  for (const [scorer, values] of Object.entries(byQuantile)) {
    const shown = await quantiles.locator(`td[data-scorer="${scorer}"]`).evaluateAll((cells) => cells.map((c) => Number(c.getAttribute('data-value'))));
    shown.forEach((value, i) => expect(value).toBeCloseTo(values[i]!, 9));
  }
  expect(await quantiles.first().locator('td[data-scorer="detection"]').textContent()).toContain('(3 of 4)');
  expect(await quantiles.nth(1).locator('td[data-scorer="fuzzing"]').textContent()).toContain('(2 of 3)');

  // ROC: detection's points; fuzzing has no probabilities and the page says so.
  const roc = page.locator('[data-testid="results-roc-table"] tbody tr');
  expect(await page.locator('[data-testid="results-roc-table"] tbody tr[data-scorer="fuzzing"]').count()).toBe(0);
  const points = await roc.evaluateAll((rows) => rows.map((row) => ({ fpr: Number(row.getAttribute('data-fpr')), tpr: Number(row.getAttribute('data-tpr')) })));
  expect(points).toHaveLength(ROC.fpr.length);
  points.forEach((p, i) => {
    expect(p.fpr).toBeCloseTo(ROC.fpr[i]!, 9);
    expect(p.tpr).toBeCloseTo(ROC.tpr[i]!, 9);
  });
  expect(await page.getByTestId('results-roc-missing').textContent()).toMatch(/No curve for fuzzing: the imported records hold no probabilities/);

  // Score against density: A, B, C with their density in the cache; D (undefined) left out.
  const scores = { detection: [7 / 12, 1, 1 / 4], fuzzing: [0.7, 0.5, 1] };
  for (const [scorer, values] of Object.entries(scores)) {
    const rows = page.locator(`[data-testid="results-density"][data-scorer="${scorer}"] [data-testid="results-density-table"] tbody tr`);
    const shown = await rows.evaluateAll((rows) => rows.map((row) => ({ feature: Number(row.getAttribute('data-feature')), density: Number(row.getAttribute('data-density')), score: Number(row.getAttribute('data-score')) })));
    const wanted = features.slice(0, 3).map((feature, i) => ({ feature, density: nnz[feature]! / nTokens, score: values[i]! })).sort((a, b) => a.feature - b.feature);
    expect(shown.map((r) => r.feature)).toEqual(wanted.map((r) => r.feature));
    shown.forEach((r, i) => {
      expect(r.density).toBeCloseTo(wanted[i]!.density, 9);
      expect(r.score).toBeCloseTo(wanted[i]!.score, 9);
    });
  }

  // Six charts drawn (two histograms, accuracy by quantile, ROC, two scatters), under the page's CSP.
  const canvases = await page.locator('[data-testid="view-results"] canvas').evaluateAll((all) => all.map((c) => (c as HTMLCanvasElement).width));
  expect(canvases).toHaveLength(6);
  for (const w of canvases) expect(w).toBeGreaterThan(100);

  // How the screen looks at 1280x800 (and all of it, with a table unfolded).
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.evaluate(() => scrollTo(0, 0));
  await page.screenshot({ path: '/tmp/results.png' });
  await page.getByTestId('results-histogram-numbers').first().locator('summary').click();
  await page.screenshot({ path: '/tmp/results-full.png', fullPage: true });

  // A feature's link in the numbers (unfolded, as a user would) opens its page.
  const feature = features[1]!;
  const density = page.locator('[data-testid="results-density"][data-scorer="detection"]');
  await density.locator('summary').click();
  await density.locator(`tr[data-feature="${feature}"] a`).click();
  await expect.poll(() => page.getByTestId('feature-title').textContent()).toBe(`Feature ${feature}`);
  await page.goBack();
  await page.locator('[data-testid="results-metrics-row"][data-scorer="detection"]').waitFor();
  expect(browser.errors).toEqual([]);
});

test('the export buttons download the delphi zip, the CSV and the Neuronpedia JSON of the run shown', async () => {
  const { page } = browser;
  const delphi = await download(page, 'results-export-delphi');
  expect(delphi.name).toMatch(/^delphi-results-score-import-.*\.zip$/);
  const back = await readDelphiResultsZip(new Blob([new Uint8Array(delphi.bytes)]));
  // What was imported, with delphi's `fuzz` folder under this app's name for it and the skipped simulation left out.
  const imported = delphiResults().map(({ scores: { detection, fuzz }, ...rest }) => ({ ...rest, scores: { detection: detection!, fuzzing: fuzz! } }));
  expect(back).toEqual(imported);

  const csv = readCsvRecords((await download(page, 'results-export-csv')).bytes.toString('utf8'));
  expect(csv.map((row) => Number(row.feature))).toEqual([...features].sort((a, b) => a - b));
  const a = csv.find((row) => Number(row.feature) === features[0])!;
  expect(a.hook).toBe(hook);
  expect(a.explanation).toBe(imported[0]!.explanation);
  expect(Number(a.detection_balanced_accuracy)).toBeCloseTo(7 / 12, 12);
  expect(Number(a.detection_auc)).toBeCloseTo(5 / 6, 12);
  expect(Number(a.detection_f1)).toBeCloseTo(4 / 6, 12);
  expect(Number(a.fuzzing_balanced_accuracy)).toBeCloseTo(0.7, 12);
  expect(a.fuzzing_auc).toBe('');
  const d = csv.find((row) => Number(row.feature) === features[3])!;
  expect(d.detection_balanced_accuracy).toBe('');
  expect(Number(d.fuzzing_failed)).toBe(1);

  // Neuronpedia: the button says what it still needs (the test model is not one Neuronpedia knows).
  const button = page.getByTestId('results-export-neuronpedia');
  expect(await page.getByTestId('results-np-model').inputValue()).toBe('');
  expect(await button.textContent()).toContain('needs a model id and a source');
  expect(await button.isDisabled()).toBe(true);
  await page.getByTestId('results-np-model').fill('tiny-gpt2');
  expect(await button.textContent()).toContain('needs a source');
  await page.getByTestId('results-np-source').fill('2-res-test');
  expect((await button.textContent())!.trim()).toBe('Neuronpedia JSON');
  const neuronpedia = await download(page, 'results-export-neuronpedia');
  expect(neuronpedia.name).toBe('neuronpedia-tiny-gpt2-2-res-test.json');
  const uploaded = JSON.parse(neuronpedia.bytes.toString('utf8')) as { modelId: string; source: string; index: string; density: number; explanations: { text: string }[]; activations: unknown[] }[];
  expect(uploaded.map((f) => f.index).sort()).toEqual(features.map(String).sort());
  for (const f of uploaded) {
    const i = features.indexOf(Number(f.index));
    expect(f.modelId).toBe('tiny-gpt2');
    expect(f.source).toBe('2-res-test');
    expect(f.density).toBeCloseTo(nnz[features[i]!]! / nTokens, 12);
    expect(f.explanations.map((e) => e.text)).toEqual([imported[i]!.explanation]);
    expect(f.activations.length).toBeGreaterThan(0);
  }
  expect(await page.getByTestId('results-export-error').count()).toBe(0);
  expect(browser.errors).toEqual([]);
});

test('an import of another SAE\'s results, or of a file that is not a zip, is refused with the reason and changes nothing', async () => {
  const { page } = browser;
  const shownBefore = await page.getByTestId('results-run-select').inputValue();
  const metricsBefore = await page.getByTestId('results-metrics').textContent();
  const jobs = async () => (await page.evaluate((runId) => (globalThis as any).autointerp.interp.scoreJobs(runId), runId)).length;
  const error = page.getByTestId('results-import-error');

  const beyond = await exportResultsZip([{ hook, feature: width, explanation: 'too far', scores: { detection: [record([true, 0, 1, 0.9])] } }]);
  await page.getByTestId('results-import-zip').setInputFiles(await upload(beyond, 'other-sae.zip'));
  await error.waitFor();
  expect(await error.getAttribute('role')).toBe('alert');
  expect(await error.textContent()).toBe(`Feature ${width} is beyond this cache's SAE, which has ${width} features: these results are of another SAE.`);
  expect(await page.getByTestId('results-import-report').count()).toBe(0);

  // A file that is not a zip (named as one), then a zip with no delphi files in it.
  await page.getByTestId('results-import-zip').setInputFiles({ name: 'notes.zip', mimeType: 'application/zip', buffer: Buffer.from('These are notes, not an archive.\n') });
  await expect.poll(() => error.textContent()).toContain('This is not a zip archive');
  const other = new ZipWriter();
  await other.add('run/readme.md', new TextEncoder().encode('# nothing here') as Uint8Array<ArrayBuffer>);
  await page.getByTestId('results-import-zip').setInputFiles(await upload(await other.finish(), 'readme.zip'));
  await expect.poll(() => error.textContent()).toContain('No delphi explanations or scores found');
  // An "explanation" of 2 MB (beside a valid one): refused at once by its size, nothing imported.
  const huge = new ZipWriter();
  await huge.add(`run/explanations/${hook}_latent0.txt`, new TextEncoder().encode(JSON.stringify('fine')) as Uint8Array<ArrayBuffer>);
  await huge.add(`run/explanations/${hook}_latent1.txt`, new Uint8Array(2 * 2 ** 20).fill(0x20) as Uint8Array<ArrayBuffer>);
  await page.getByTestId('results-import-zip').setInputFiles(await upload(await huge.finish(), 'huge.zip'));
  await expect.poll(() => error.textContent()).toContain(`"run/explanations/${hook}_latent1.txt" unpacks to 2 MB, more than the 1 MB such a file may have here`);

  expect(await jobs()).toBe(1);
  expect(await page.getByTestId('results-run-select').inputValue()).toBe(shownBefore);
  expect(await page.getByTestId('results-metrics').textContent()).toBe(metricsBefore);

  // The Explain screen's score card links here.
  await page.evaluate((runId) => (location.hash = `#/explain/${encodeURIComponent(runId)}`), runId);
  await page.getByTestId('score-results-link').click();
  await page.locator('[data-testid="results-metrics-row"][data-scorer="detection"]').waitFor();
  expect(await page.getByTestId('results-run-select').inputValue()).toBe(shownBefore);
  expect(browser.errors).toEqual([]);
});
