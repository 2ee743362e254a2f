/**
 * Classifier metrics by hand: confusion at prediction >= 0.5, balanced accuracy, precision, recall, F1,
 * the Mann-Whitney AUC with ties counted 1/2, accuracy per quantile, failed examples left out, null
 * for every figure whose denominator is zero, pooling and frequency weighting over features.
 */
import { describe, expect, test } from 'vitest';
import { auc, classificationMetrics, confusion, frequencyWeightedF1, pooledClassificationMetrics, rocCurve, type ClassifiedSample } from '../../../src/lib/metrics/index.ts';

const s = (activating: boolean, prediction: number | null, probability: number | null = null, distance = activating ? 0 : -1): ClassifiedSample => ({ activating, prediction, probability, distance });

/** The AUC by brute force over every (positive, negative) pair. */
function pairAuc(pos: number[], neg: number[]): number {
  let sum = 0;
  for (const p of pos) for (const n of neg) sum += p > n ? 1 : p === n ? 0.5 : 0;
  return sum / (pos.length * neg.length);
}

describe('confusion and the figures from it', () => {
  // 3 activating (2 found), 4 non-activating (1 false alarm), 2 without a prediction.
  const samples = [s(true, 1), s(true, 1), s(true, 0), s(false, 0), s(false, 1), s(false, 0), s(false, 0), s(true, null), s(false, null)];

  test('counts: failed examples are left out of every count but their own', () => {
    expect(confusion(samples)).toEqual({ total: 7, positives: 3, negatives: 4, tp: 2, fp: 1, tn: 3, fn: 1, failed: 2 });
  });

  test('balanced accuracy (TP/P + TN/N)/2, precision, recall, F1, accuracy', () => {
    const m = classificationMetrics(samples);
    expect(m.balanced_accuracy).toBeCloseTo((2 / 3 + 3 / 4) / 2, 12); // 17/24
    expect(m.precision).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBeCloseTo(2 / 3, 12);
    expect(m.f1).toBeCloseTo(2 / 3, 12); // 2*2 / (2*2 + 1 + 1)
    expect(m.accuracy).toBeCloseTo(5 / 7, 12);
    expect(m.failed).toBe(2);
    expect(m.auc).toBeNull(); // no probabilities
  });

  test('a prediction of 0.5 or more is positive', () => {
    expect(confusion([s(true, 0.5), s(false, 0.49)])).toMatchObject({ tp: 1, tn: 1 });
  });

  test('the exact keys other tools read', () => {
    expect(Object.keys(classificationMetrics(samples))).toEqual(['balanced_accuracy', 'precision', 'recall', 'f1', 'auc', 'failed', 'accuracy', 'counts', 'per_quantile']);
  });
});

describe('zero denominators give null, never NaN or a throw', () => {
  test.each([
    ['no examples', [], { balanced_accuracy: null, precision: null, recall: null, f1: null, auc: null, accuracy: null, failed: 0 }],
    ['every answer failed', [s(true, null, 0.9), s(false, null, 0.1)], { balanced_accuracy: null, precision: null, recall: null, f1: null, auc: null, accuracy: null, failed: 2 }],
    ['only activating examples', [s(true, 1, 0.9), s(true, 0, 0.2)], { balanced_accuracy: null, precision: 1, recall: 0.5, f1: 2 / 3, auc: null, accuracy: 0.5, failed: 0 }],
    ['only non-activating examples, none flagged', [s(false, 0, 0.1), s(false, 0, 0.3)], { balanced_accuracy: null, precision: null, recall: null, f1: null, auc: null, accuracy: 1, failed: 0 }],
    ['nothing predicted positive', [s(true, 0), s(false, 0)], { balanced_accuracy: 0.5, precision: null, recall: 0, f1: 0, accuracy: 0.5 }],
  ])('%s', (_, samples, expected) => {
    const m = classificationMetrics(samples);
    for (const [key, value] of Object.entries(expected)) {
      if (value === null) expect(m[key as keyof typeof m], key).toBeNull();
      else expect(m[key as keyof typeof m] as number, key).toBeCloseTo(value as number, 12);
    }
    expect(JSON.stringify(m)).not.toMatch(/NaN|Infinity/);
  });

  test('all answers failed: per quantile, nothing scored', () => {
    const m = classificationMetrics([s(true, null, null, 0), s(true, null, null, 1), s(false, null)]);
    expect(m.per_quantile).toEqual([
      { distance: 0, total: 1, scored: 0, correct: 0, accuracy: null },
      { distance: 1, total: 1, scored: 0, correct: 0, accuracy: null },
      { distance: -1, total: 1, scored: 0, correct: 0, accuracy: null },
    ]);
  });
});

describe('AUC (Mann-Whitney)', () => {
  test('ties count 1/2: positives 0.9, 0.5, 0.5 against negatives 0.5, 0.1 give 5/6', () => {
    const samples = [s(true, 1, 0.9), s(true, 1, 0.5), s(true, 0, 0.5), s(false, 1, 0.5), s(false, 0, 0.1)];
    expect(classificationMetrics(samples).auc).toBeCloseTo(5 / 6, 12);
    expect(pairAuc([0.9, 0.5, 0.5], [0.5, 0.1])).toBeCloseTo(5 / 6, 12);
  });

  test('perfect, inverted, all tied', () => {
    expect(auc([{ activating: true, score: 0.8 }, { activating: false, score: 0.2 }])).toBe(1);
    expect(auc([{ activating: true, score: 0.2 }, { activating: false, score: 0.8 }])).toBe(0);
    expect(auc([{ activating: true, score: 0.5 }, { activating: false, score: 0.5 }, { activating: true, score: 0.5 }])).toBe(0.5);
  });

  test('agrees with the pair count on random scores with many ties', () => {
    let state = 7;
    const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pos = Array.from({ length: 40 }, () => Math.round(next() * 10) / 10);
    const neg = Array.from({ length: 35 }, () => Math.round(next() * 8) / 10);
    const value = auc([...pos.map((score) => ({ activating: true, score })), ...neg.map((score) => ({ activating: false, score }))]);
    expect(value).toBeCloseTo(pairAuc(pos, neg), 12);
  });

  test('examples without a probability or without a prediction are left out; an empty class gives null', () => {
    const samples = [s(true, 1, 0.9), s(true, 1, null), s(false, null, 0.95), s(false, 0, 0.2)];
    expect(classificationMetrics(samples).auc).toBe(1);
    expect(auc([{ activating: true, score: 0.3 }, { activating: false, score: null }])).toBeNull();
    expect(auc([{ activating: true, score: Number.NaN }, { activating: false, score: 0.4 }])).toBeNull();
  });
});

test('accuracy per quantile: strongest first, non-activating last', () => {
  const samples = [s(true, 1, null, 2), s(false, 0), s(true, 0, null, 0), s(true, 1, null, 0), s(false, 1), s(true, null, null, 2)];
  expect(classificationMetrics(samples).per_quantile).toEqual([
    { distance: 0, total: 2, scored: 2, correct: 1, accuracy: 0.5 },
    { distance: 2, total: 2, scored: 1, correct: 1, accuracy: 1 },
    { distance: -1, total: 2, scored: 2, correct: 1, accuracy: 0.5 },
  ]);
});

describe('over features', () => {
  test('pooled: the examples of every feature concatenated (not a mean of per-feature figures)', () => {
    const a = [s(true, 1, 0.9), s(false, 0, 0.1)]; // perfect
    const b = [s(true, 0, 0.2), s(true, 0, 0.3), s(false, 0, 0.1), s(false, 0, 0.4)]; // finds nothing
    const pooled = pooledClassificationMetrics([a, b]);
    expect(pooled.counts).toMatchObject({ tp: 1, fn: 2, tn: 3, fp: 0 });
    expect(pooled.recall).toBeCloseTo(1 / 3, 12);
    expect(pooled.balanced_accuracy).toBeCloseTo((1 / 3 + 1) / 2, 12);
    // Positives 0.9, 0.2, 0.3 against negatives 0.1, 0.1, 0.4: pairs won 3 + 2 + 2 = 7 of 9, none tied.
    expect(pooled.auc).toBeCloseTo(pairAuc([0.9, 0.2, 0.3], [0.1, 0.1, 0.4]), 12);
    expect(pooled.auc).toBeCloseTo(7 / 9, 12);
  });

  test('frequency-weighted F1: per-feature F1 weighted by firing count; undefined F1s and zero weights left out', () => {
    expect(frequencyWeightedF1([{ f1: 1, weight: 3 }, { f1: 0.5, weight: 1 }, { f1: null, weight: 100 }, { f1: 0.2, weight: 0 }])).toBeCloseTo(3.5 / 4, 12);
    expect(frequencyWeightedF1([{ f1: null, weight: 5 }])).toBeNull();
    expect(frequencyWeightedF1([])).toBeNull();
  });
});

describe('ROC curve', () => {
  const curve = (pairs: [boolean, number | null][]) => rocCurve(pairs.map(([activating, score]) => ({ activating, score })));
  /** The area under the curve by the trapezoid rule: equals the rank AUC, ties included. */
  const area = (points: { fpr: number; tpr: number }[]) => points.slice(1).reduce((sum, p, i) => sum + (p.fpr - points[i]!.fpr) * (p.tpr + points[i]!.tpr) / 2, 0);

  test('one step per distinct probability, highest first, from (0,0) to (1,1)', () => {
    // Positives 0.9, 0.6, 0.3; negatives 0.7, 0.2.
    expect(curve([[true, 0.9], [false, 0.7], [true, 0.6], [true, 0.3], [false, 0.2]])).toEqual([
      { fpr: 0, tpr: 0 }, { fpr: 0, tpr: 1 / 3 }, { fpr: 0.5, tpr: 1 / 3 }, { fpr: 0.5, tpr: 2 / 3 }, { fpr: 0.5, tpr: 1 }, { fpr: 1, tpr: 1 },
    ]);
  });

  test('tied probabilities move together (a diagonal step), so the area is the AUC with ties counted 1/2', () => {
    const pairs: [boolean, number][] = [[true, 0.5], [false, 0.5], [true, 0.8], [false, 0.1]];
    const points = curve(pairs);
    expect(points).toEqual([{ fpr: 0, tpr: 0 }, { fpr: 0, tpr: 0.5 }, { fpr: 0.5, tpr: 1 }, { fpr: 1, tpr: 1 }]);
    expect(area(points)).toBeCloseTo(auc(pairs.map(([activating, score]) => ({ activating, score })))!, 12);
  });

  test('no curve without probabilities or with a class empty; missing probabilities left out', () => {
    expect(curve([[true, null], [false, null]])).toEqual([]);
    expect(curve([[true, 0.9], [true, 0.2]])).toEqual([]);
    expect(curve([[true, 0.9], [false, null], [false, 0.1]])).toEqual([{ fpr: 0, tpr: 0 }, { fpr: 0, tpr: 1 }, { fpr: 1, tpr: 1 }]);
  });
});
