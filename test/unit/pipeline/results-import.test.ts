/**
 * delphi's results taken in as jobs of a cache (pipeline/results-import.ts) and read back for the screens
 * (results-views.ts): the hook chosen among several, features beyond the SAE refused, metrics computed
 * from the imported records, imported jobs stored done, newer runs winning in the table's columns.
 */
import 'fake-indexeddb/auto';
import { expect, test } from 'vitest';
import type { DelphiScoreExample, FeatureResults } from '../../../src/lib/latents/index.ts';
import { featureResults, featureScoreColumns, importResults, scoreCsvRows } from '../../../src/lib/pipeline/index.ts';
import { listLlmJobs } from '../../../src/lib/storage/index.ts';
import { idbRun, randomCache } from '../latents/records/caches.ts';

const example = (activating: boolean, prediction: number | null, probability: number | null = null): DelphiScoreExample => ({
  str_tokens: ['a', 'b'], activations: activating ? [0, 1] : [0, 0], distance: activating ? 0 : -1, activating, prediction, probability, correct: prediction === null ? null : (prediction === 1) === activating,
});

async function cache() {
  return idbRun(randomCache(5, 4, 8, 6, 0.1)); // hook `test.hook`, 6 features
}

test('classifier records become a done score job whose metrics are computed from them; fuzz is fuzzing; explanations a done explain job', async () => {
  const { db, run } = await cache();
  const results: FeatureResults[] = [
    // detection: TP, TN, FN, FP -> balanced accuracy (1/2 + 1/2)/2 = 0.5; fuzz: all right.
    { hook: 'test.hook', feature: 1, explanation: 'the letter b', scores: { detection: [example(true, 1, 0.9), example(false, 0, 0.2), example(true, 0, 0.4), example(false, 1, 0.6)], fuzz: [example(true, 1), example(false, 0)] } },
    { hook: 'test.hook', feature: 4, explanation: 'commas', scores: {} },
  ];
  const imported = await importResults(db, run, results, { source: 'run.zip' });
  expect(imported.scorers).toEqual(['detection', 'fuzzing']);
  expect(imported.explanations).toBe(2);
  expect(imported.notes).toEqual([]);
  expect(imported.explainJob).toMatchObject({ stage: 'explain', status: 'done', method: 'imported', features: [1, 4] });
  expect(imported.scoreJob).toMatchObject({ stage: 'score', status: 'done', method: 'detection,fuzzing', sourceJobId: imported.explainJob.id, features: [1] });

  const { explanations, scores } = await featureResults(db, run.id, 1);
  expect(explanations.map((e) => e.explanation)).toEqual(['the letter b']);
  const [detection, fuzzing] = scores[0]!.results;
  expect(detection).toMatchObject({ scorer: 'detection', kind: 'classifier', mode: 'logprobs', metrics: { balanced_accuracy: 0.5, precision: 0.5, recall: 0.5, failed: 0 } });
  expect((detection!.metrics as { auc: number }).auc).toBeCloseTo(0.75, 12); // positives 0.9, 0.4 vs negatives 0.2, 0.6: 3 of 4 pairs
  expect(fuzzing).toMatchObject({ scorer: 'fuzzing', mode: 'text', metrics: { balanced_accuracy: 1, auc: null } });

  const columns = await featureScoreColumns(db, run.id, run.width);
  expect(columns.explanations).toEqual({ 1: 'the letter b', 4: 'commas' });
  expect(Array.from(columns.scores[0]!.values)).toEqual([NaN, 0.5, NaN, NaN, NaN, NaN]);
  expect(Array.from(columns.scores[1]!.scored)).toEqual([0, 1, 0, 0, 0, 0]);

  // A newer import of feature 1 wins in the table.
  await importResults(db, run, [{ hook: 'test.hook', feature: 1, explanation: 'b again', scores: { detection: [example(true, 1), example(false, 0)] } }], { source: 'later.zip' });
  const newer = await featureScoreColumns(db, run.id, run.width);
  expect(newer.explanations[1]).toBe('b again');
  expect(newer.scores[0]!.values[1]).toBe(1);

  const rows = await scoreCsvRows(db, imported.scoreJob!.id, 'test.hook');
  expect(rows).toEqual([{ hook: 'test.hook', feature: 1, explanation: 'the letter b', metrics: {
    detection: { balanced_accuracy: 0.5, precision: 0.5, recall: 0.5, f1: 0.5, auc: 0.75, failed: 0 },
    fuzzing: { balanced_accuracy: 1, precision: 1, recall: 1, f1: 1, auc: null, failed: 0 },
  } }]);
});

test('of several hooks the cache\'s is taken (with a note); none of them, or a feature beyond the SAE, is refused and nothing is stored', async () => {
  const { db, run } = await cache();
  const imported = await importResults(db, run, [
    { hook: 'layers.2', feature: 0, explanation: 'other layer', scores: {} },
    { hook: 'test.hook', feature: 2, explanation: 'mine', scores: {} },
  ], { source: 'two.zip', skippedScorers: ['simulation'] });
  expect(imported.explainJob.features).toEqual([2]);
  expect(imported.notes.join('\n')).toMatch(/Only test\.hook was imported; the files also hold layers\.2/);
  expect(imported.notes.join('\n')).toMatch(/scores\/simulation\/ was not imported/);

  const before = (await listLlmJobs(db, { cacheRunId: run.id })).length;
  await expect(importResults(db, run, [{ hook: 'layers.1', feature: 0, scores: {} }, { hook: 'layers.2', feature: 0, scores: {} }], { source: 'x' })).rejects.toThrow(/none is this cache's \(test\.hook\)/);
  await expect(importResults(db, run, [{ hook: 'test.hook', feature: 6, explanation: 'x', scores: {} }], { source: 'x' })).rejects.toThrow(/Feature 6 is beyond this cache's SAE, which has 6 features/);
  expect(await listLlmJobs(db, { cacheRunId: run.id })).toHaveLength(before);

  // One hook that is not the cache's: matched by index, and said so.
  const renamed = await importResults(db, run, [{ hook: 'layers.0', feature: 3, explanation: 'x', scores: {} }], { source: 'y' });
  expect(renamed.notes[0]).toMatch(/name the hook layers\.0; this cache's is test\.hook/);
});
