/** The Results screen's chart numbers: bins, quantile labels and the density scatter, in Node. */
import { describe, expect, test } from 'vitest';
import { classificationMetrics, simulationMetrics, type ClassifiedSample } from '../../../src/lib/index.ts';
import { densityScatter, formatMetric, formatShare, quantileChart, quantileLabel, scoreHistogram } from '../../../src/ui/components/results/chart-data.ts';
import type { ScorerSummary } from '../../../workers/interp/api.ts';

/** A classifier feature whose balanced accuracy is (tp/p + tn/n) / 2. */
function feature(tp: number, p: number, tn: number, n: number): ClassifiedSample[] {
  return [
    ...Array.from({ length: p }, (_, i) => ({ activating: true, prediction: i < tp ? 1 : 0, distance: i % 2 })),
    ...Array.from({ length: n }, (_, i) => ({ activating: false, prediction: i < tn ? 0 : 1, distance: -1 })),
  ];
}

const classifier = (features: ClassifiedSample[][], density: number[] = []): ScorerSummary => ({
  scorer: 'detection',
  kind: 'classifier',
  features: features.length,
  pooled: classificationMetrics(features.flat()),
  roc: [],
  perFeature: features.map((samples, i) => ({ hook: '', feature: i, metrics: classificationMetrics(samples), ...(density[i] !== undefined ? { density: density[i] } : {}) })),
});

describe('score histograms', () => {
  test('balanced accuracies fall in bins of 0.1 over [0, 1], edges in the upper bin, 1 in the last, undefined apart', () => {
    // 0.7 = (0.4 + 1) / 2 is 6.999... tenths in floating point; 0.3 likewise; 1 and 0 are the ends.
    const summary = classifier([feature(2, 5, 2, 2), feature(1, 5, 1, 5), feature(3, 3, 2, 2), feature(0, 2, 0, 2), feature(1, 2, 1, 2), feature(0, 0, 2, 2)]);
    const histogram = scoreHistogram(summary);
    expect(histogram.bins).toHaveLength(10);
    expect(histogram.bins.map((b) => b.count)).toEqual([1, 0, 1, 0, 0, 1, 0, 1, 0, 1]);
    expect(histogram.undefinedCount).toBe(1);
    expect(histogram.bins[7]!.label).toBe('0.7–0.8');
    expect(histogram.bins[0]!.from).toBe(0);
  });

  test('simulation correlations fall in bins of 0.1 over [-1, 1]', () => {
    const sequences = (predicted: number[]) => [{ activations: [0, 1, 2, 3], predicted, distance: 0 }];
    const sims = [sequences([3, 2, 1, 0]), sequences([0, 1, 2, 3]), sequences([1, 1, 1, 1])];
    const summary: ScorerSummary = {
      scorer: 'simulation', kind: 'simulation', features: 3, pooled: simulationMetrics(sims.flat()),
      perFeature: sims.map((s, i) => ({ hook: '', feature: i, metrics: simulationMetrics(s) })),
    };
    const histogram = scoreHistogram(summary);
    expect(histogram.bins).toHaveLength(20);
    expect(histogram.bins[0]!.label).toBe('-1.0–-0.9');
    expect(histogram.bins[0]!.count).toBe(1);
    expect(histogram.bins[19]!.count).toBe(1);
    expect(histogram.undefinedCount).toBe(1);
  });
});

describe('quantiles', () => {
  test('labels count from 1, the strongest, and name the non-activating examples', () => {
    expect([0, 1, 4, -1].map(quantileLabel)).toEqual(['1 (strongest)', '2', '5', 'not active']);
  });

  test('each scorer has a value per quantile of any scorer, strongest first, non-activating last', () => {
    const detection = classifier([feature(1, 2, 1, 2)]);
    const fuzzing = { ...classifier([[...feature(1, 2, 1, 2), { activating: true, prediction: 1, distance: 3 }]]), scorer: 'fuzzing' };
    const chart = quantileChart([detection, fuzzing], 'classifier');
    expect(chart.distances).toEqual([0, 1, 3, -1]);
    expect(chart.series.map((s) => s.scorer)).toEqual(['detection', 'fuzzing']);
    expect(chart.series[0]!.values).toEqual([1, 0, null, 0.5]);
    expect(chart.series[1]!.values).toEqual([1, 0, 1, 0.5]);
    expect(chart.series[1]!.correct).toEqual([1, 0, 1, 1]);
    expect(quantileChart([detection], 'simulation').series).toEqual([]);
  });
});

describe('score against density', () => {
  test('features without a score or a density above 0 are left out and counted', () => {
    const summary = classifier([feature(1, 1, 1, 1), feature(0, 0, 1, 1), feature(1, 1, 0, 1), feature(1, 2, 1, 1)], [0.01, 0.5, 0, 0.002]);
    const scatter = densityScatter(summary);
    expect(scatter.points).toEqual([{ feature: 0, x: 0.01, y: 1 }, { feature: 3, x: 0.002, y: 0.75 }]);
    expect(scatter.undefinedScore).toBe(1);
    expect(scatter.noDensity).toBe(1);
  });

  test('figures as the tables write them', () => {
    expect(formatMetric(null)).toBe('n/a');
    expect(formatMetric(undefined)).toBe('n/a');
    expect(formatMetric(0)).toBe('0.000');
    expect(formatMetric(0.708333)).toBe('0.708');
    expect(formatShare(0.0308)).toBe('3.08 %');
    expect(formatShare(0.00001)).toBe('1.0e-3 %');
  });
});
