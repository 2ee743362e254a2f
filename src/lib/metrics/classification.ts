/**
 * Metrics of a classifier scorer (detection, fuzzing), after delphi's `log/result_analysis.py`: the
 * confusion counts with a prediction >= 0.5 taken as positive, balanced accuracy `(TP/P + TN/N) / 2`
 * (what delphi calls accuracy), precision, recall, F1 and the AUC of the probabilities; plus what
 * delphi lacks: the accuracy per quantile and the count of examples without a prediction.
 *
 * Examples without a prediction (a failed call, an answer that could not be read) are left out of
 * every figure and only counted in `failed`. A figure whose denominator is zero is null, never 0 or
 * NaN. Keys are snake_case: other tools read them.
 */

/** What a metric needs of one scored example (a result's example record has these fields). */
export interface ClassifiedSample {
  /** Ground truth: an activating example (the feature fires in it). */
  activating: boolean;
  /** The model's verdict (0 or 1), or null when it gave none. */
  prediction: number | null;
  /** Probability of "1" from log-probabilities, or null without them. */
  probability?: number | null;
  /** Quantile of the example; -1 for non-activating examples. */
  distance?: number;
}

export interface Confusion {
  /** Examples with a prediction. */
  total: number;
  /** Activating examples with a prediction (P). */
  positives: number;
  /** Non-activating examples with a prediction (N). */
  negatives: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
  /** Examples without a prediction, left out of the other counts. */
  failed: number;
}

export interface QuantileAccuracy {
  /** The quantile; -1 for non-activating examples. */
  distance: number;
  /** Examples of this quantile, failed ones included. */
  total: number;
  /** With a prediction. */
  scored: number;
  correct: number;
  /** correct / scored; null when none was scored. */
  accuracy: number | null;
}

export interface ClassificationMetrics {
  balanced_accuracy: number | null;
  precision: number | null;
  recall: number | null;
  f1: number | null;
  /** Area under the ROC curve of the probabilities; null without probabilities or with a class empty. */
  auc: number | null;
  /** Examples without a prediction. */
  failed: number;
  /** Plain accuracy (TP + TN) / (P + N). */
  accuracy: number | null;
  counts: Confusion;
  /** Accuracy per quantile, strongest first, non-activating (-1) last. */
  per_quantile: QuantileAccuracy[];
}

/** a / b, or null when b is 0. */
export const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

const isPositive = (prediction: number): boolean => prediction >= 0.5;

/** Sort key of a quantile: strongest (0) first, non-activating (-1) last. */
export const quantileOrder = (distance: number): number => (distance < 0 ? Number.MAX_SAFE_INTEGER : distance);

export function confusion(samples: Iterable<ClassifiedSample>): Confusion {
  const c: Confusion = { total: 0, positives: 0, negatives: 0, tp: 0, fp: 0, tn: 0, fn: 0, failed: 0 };
  for (const s of samples) {
    if (s.prediction === null || !Number.isFinite(s.prediction)) {
      c.failed++;
      continue;
    }
    c.total++;
    const predicted = isPositive(s.prediction);
    if (s.activating) {
      c.positives++;
      if (predicted) c.tp++;
      else c.fn++;
    } else {
      c.negatives++;
      if (predicted) c.fp++;
      else c.tn++;
    }
  }
  return c;
}

/** (TP/P + TN/N) / 2; null when either class is empty. */
export function balancedAccuracy(c: Confusion): number | null {
  const tpr = ratio(c.tp, c.positives);
  const tnr = ratio(c.tn, c.negatives);
  return tpr === null || tnr === null ? null : (tpr + tnr) / 2;
}

/** TP / (TP + FP); null when nothing was predicted positive. */
export const precision = (c: Confusion): number | null => ratio(c.tp, c.tp + c.fp);

/** TP / P; null without activating examples. */
export const recall = (c: Confusion): number | null => ratio(c.tp, c.positives);

/**
 * 2TP / (2TP + FP + FN), the harmonic mean of precision and recall where both exist; 0 when there
 * are positives but none was found; null when there is nothing to find and nothing was predicted.
 */
export const f1 = (c: Confusion): number | null => ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn);

/**
 * The AUC by Mann-Whitney: the chance that a random activating example gets a higher score than a
 * random non-activating one, ties counted 1/2 (computed from average ranks). Only examples with a
 * finite score count; null when either class has none.
 */
export function auc(samples: Iterable<{ activating: boolean; score: number | null | undefined }>): number | null {
  const scored: { activating: boolean; score: number }[] = [];
  for (const s of samples) if (typeof s.score === 'number' && Number.isFinite(s.score)) scored.push({ activating: s.activating, score: s.score });
  const positives = scored.filter((s) => s.activating).length;
  const negatives = scored.length - positives;
  if (positives === 0 || negatives === 0) return null;
  scored.sort((a, b) => a.score - b.score);
  let rankSum = 0;
  for (let i = 0; i < scored.length; ) {
    let j = i;
    while (j + 1 < scored.length && scored[j + 1]!.score === scored[i]!.score) j++;
    const rank = (i + j) / 2 + 1; // average rank of the tied run, 1-based
    for (let k = i; k <= j; k++) if (scored[k]!.activating) rankSum += rank;
    i = j + 1;
  }
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** One point of a ROC curve: the false and true positive rates at a threshold. */
export interface RocPoint {
  fpr: number;
  tpr: number;
}

/**
 * The ROC curve of the probabilities, from (0, 0) to (1, 1): one point per distinct probability,
 * highest first (tied examples move together, so a tie draws a diagonal step, as the AUC counts it).
 * Empty without probabilities or with a class empty (no curve can be drawn then).
 */
export function rocCurve(samples: Iterable<{ activating: boolean; score: number | null | undefined }>): RocPoint[] {
  const scored: { activating: boolean; score: number }[] = [];
  for (const s of samples) if (typeof s.score === 'number' && Number.isFinite(s.score)) scored.push({ activating: s.activating, score: s.score });
  const positives = scored.filter((s) => s.activating).length;
  const negatives = scored.length - positives;
  if (positives === 0 || negatives === 0) return [];
  scored.sort((a, b) => b.score - a.score);
  const points: RocPoint[] = [{ fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < scored.length; ) {
    let j = i;
    while (j < scored.length && scored[j]!.score === scored[i]!.score) {
      if (scored[j]!.activating) tp++;
      else fp++;
      j++;
    }
    points.push({ fpr: fp / negatives, tpr: tp / positives });
    i = j;
  }
  return points;
}

/** Accuracy per quantile (distance), strongest first, non-activating (-1) last. */
export function accuracyPerQuantile(samples: Iterable<ClassifiedSample>): QuantileAccuracy[] {
  const groups = new Map<number, QuantileAccuracy>();
  for (const s of samples) {
    const distance = s.distance ?? (s.activating ? 0 : -1);
    let group = groups.get(distance);
    if (!group) groups.set(distance, (group = { distance, total: 0, scored: 0, correct: 0, accuracy: null }));
    group.total++;
    if (s.prediction === null || !Number.isFinite(s.prediction)) continue;
    group.scored++;
    if (isPositive(s.prediction) === s.activating) group.correct++;
  }
  const out = [...groups.values()].map((g) => ({ ...g, accuracy: ratio(g.correct, g.scored) }));
  return out.sort((a, b) => quantileOrder(a.distance) - quantileOrder(b.distance));
}

/** Every metric of one set of examples (one feature, or many features pooled). */
export function classificationMetrics(samples: readonly ClassifiedSample[]): ClassificationMetrics {
  const counts = confusion(samples);
  const predicted = samples.filter((s) => s.prediction !== null && Number.isFinite(s.prediction));
  return {
    balanced_accuracy: balancedAccuracy(counts),
    precision: precision(counts),
    recall: recall(counts),
    f1: f1(counts),
    auc: auc(predicted.map((s) => ({ activating: s.activating, score: s.probability }))),
    failed: counts.failed,
    accuracy: ratio(counts.tp + counts.tn, counts.total),
    counts,
    per_quantile: accuracyPerQuantile(samples),
  };
}

/** The metrics of many features' examples taken together (all examples concatenated). */
export function pooledClassificationMetrics(features: readonly (readonly ClassifiedSample[])[]): ClassificationMetrics {
  return classificationMetrics(features.flat());
}

/**
 * Per-feature F1 weighted by how often each feature fires (e.g. its record's `n_activations`):
 * sum(w * F1) / sum(w) over the features whose F1 is defined; null when their weights sum to 0.
 */
export function frequencyWeightedF1(features: Iterable<{ f1: number | null; weight: number }>): number | null {
  let sum = 0;
  let weights = 0;
  for (const { f1: value, weight } of features) {
    if (value === null || !Number.isFinite(value) || !(weight > 0)) continue;
    sum += weight * value;
    weights += weight;
  }
  return weights > 0 ? sum / weights : null;
}
