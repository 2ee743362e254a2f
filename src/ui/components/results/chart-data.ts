/**
 * The numbers the Results screen draws, from a score run's summaries: plain functions (no DOM, no
 * chart library), so the charts and the tables under them show the same figures and Node tests can
 * check them. An undefined metric (null) is never counted as 0: it is left out and counted apart.
 */
import { scorerColour, type ClassificationMetrics, type SimulationMetrics } from '../../../lib/index.ts';
import type { ScorerSummary } from '../../../../workers/interp/api.ts';

/** How a figure reads in a table: three decimals, or "n/a" when it is undefined. */
export const formatMetric = (value: number | null | undefined): string => (typeof value === 'number' && Number.isFinite(value) ? value.toFixed(3) : 'n/a');

/** The colour of a scorer's series, the same in every chart (the registry's). */
export const scorerColor = (scorer: string): string => scorerColour(scorer);

/** A feature's headline score under a scorer: balanced accuracy for classifiers, Pearson for simulation; null when undefined. */
export function featureScore(kind: ScorerSummary['kind'], metrics: ClassificationMetrics | SimulationMetrics): number | null {
  const value = kind === 'simulation' ? (metrics as SimulationMetrics).pearson : (metrics as ClassificationMetrics).balanced_accuracy;
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

export const scoreName = (kind: ScorerSummary['kind']): string => (kind === 'simulation' ? 'Pearson' : 'balanced accuracy');

export interface HistogramBin {
  from: number;
  to: number;
  count: number;
  label: string;
}

export interface ScoreHistogram {
  scorer: string;
  kind: ScorerSummary['kind'];
  bins: HistogramBin[];
  /** Features whose score is undefined (left out of the bins). */
  undefinedCount: number;
}

const oneDecimal = (value: number): string => (Math.abs(value) < 1e-9 ? '0.0' : value.toFixed(1));

/**
 * Per-feature scores in bins of `binWidth` over [0, 1] (classifiers) or [-1, 1] (simulation): each bin
 * holds [from, to), the last one also its upper end.
 */
export function scoreHistogram(summary: ScorerSummary, binWidth = 0.1): ScoreHistogram {
  const min = summary.kind === 'simulation' ? -1 : 0;
  const n = Math.round((1 - min) / binWidth);
  const bins: HistogramBin[] = Array.from({ length: n }, (_, i) => {
    const from = min + i * binWidth;
    const to = min + (i + 1) * binWidth;
    return { from, to, count: 0, label: `${oneDecimal(from)}–${oneDecimal(to)}` };
  });
  let undefinedCount = 0;
  for (const { metrics } of summary.perFeature) {
    const score = featureScore(summary.kind, metrics);
    if (score === null) {
      undefinedCount++;
      continue;
    }
    // The small epsilon keeps 0.3 in [0.3, 0.4): 0.3 / 0.1 is 2.9999999999999996 in floating point.
    const index = Math.min(n - 1, Math.max(0, Math.floor((score - min) / binWidth + 1e-9)));
    bins[index]!.count++;
  }
  return { scorer: summary.scorer, kind: summary.kind, bins, undefinedCount };
}

/** A quantile as people count it: 1 the strongest; -1 is the non-activating examples. */
export const quantileLabel = (distance: number): string => (distance < 0 ? 'not active' : distance === 0 ? '1 (strongest)' : String(distance + 1));

export interface QuantileSeries {
  scorer: string;
  /** One value per distance of `distances` (null: undefined, or the scorer has no examples there). */
  values: (number | null)[];
  /** What each value is of: scored examples (or sequences) per distance. */
  scored: number[];
  /** Correct answers per distance (classifiers). */
  correct: number[];
}

export interface QuantileChart {
  distances: number[];
  labels: string[];
  series: QuantileSeries[];
}

const distanceOrder = (distance: number): number => (distance < 0 ? Number.MAX_SAFE_INTEGER : distance);

/** Accuracy per quantile of the classifier scorers (pooled over features), or Pearson per quantile of simulation. */
export function quantileChart(summaries: readonly ScorerSummary[], kind: ScorerSummary['kind']): QuantileChart {
  const chosen = summaries.filter((s) => s.kind === kind);
  const distances = [...new Set(chosen.flatMap((s) => s.pooled.per_quantile.map((q) => q.distance)))].sort((a, b) => distanceOrder(a) - distanceOrder(b));
  const series = chosen.map((summary): QuantileSeries => {
    const rows = summary.pooled.per_quantile as (ClassificationMetrics['per_quantile'][number] | SimulationMetrics['per_quantile'][number])[];
    const at = (distance: number) => rows.find((q) => q.distance === distance);
    return {
      scorer: summary.scorer,
      values: distances.map((d) => {
        const row = at(d);
        if (!row) return null;
        const value = 'accuracy' in row ? row.accuracy : row.pearson;
        return typeof value === 'number' && Number.isFinite(value) ? value : null;
      }),
      scored: distances.map((d) => at(d)?.scored ?? 0),
      correct: distances.map((d) => {
        const row = at(d);
        return row && 'correct' in row ? row.correct : 0;
      }),
    };
  });
  return { distances, labels: distances.map(quantileLabel), series };
}

export interface DensityPoint {
  feature: number;
  /** Share of tokens the feature fires on. */
  x: number;
  /** The feature's score. */
  y: number;
}

export interface DensityScatter {
  scorer: string;
  kind: ScorerSummary['kind'];
  points: DensityPoint[];
  /** Features left out: score undefined, or no density above 0 (a log scale has no place for 0). */
  undefinedScore: number;
  noDensity: number;
}

/** Each feature's score against its density, for a log-scaled x axis. */
export function densityScatter(summary: ScorerSummary): DensityScatter {
  const points: DensityPoint[] = [];
  let undefinedScore = 0;
  let noDensity = 0;
  for (const { feature, metrics, density } of summary.perFeature) {
    const score = featureScore(summary.kind, metrics);
    if (score === null) undefinedScore++;
    else if (!(typeof density === 'number' && density > 0)) noDensity++;
    else points.push({ feature, x: density, y: score });
  }
  points.sort((a, b) => a.feature - b.feature);
  return { scorer: summary.scorer, kind: summary.kind, points, undefinedScore, noDensity };
}

/** A density as a short share: 3.08 %, 0.012 %, 1.0e-5 %. */
export function formatShare(density: number): string {
  const percent = density * 100;
  if (percent >= 0.01) return `${Number(percent.toPrecision(3))} %`;
  return `${percent.toExponential(1)} %`;
}
