/**
 * Metrics of the simulation scorer: the Pearson correlation of true and predicted activations. The
 * score is one correlation over every token of every scored sequence concatenated (pooled), as in
 * OpenAI's neuron-explainer, not the mean of per-sequence correlations (offered too, for comparison).
 *
 * A correlation is undefined when fewer than two values are paired, when either side is constant, or
 * when a value is not finite: it is then null, never 0, never NaN, and never an exception.
 */
import { quantileOrder, ratio } from './classification.ts';

/** Pearson's r of two equally long series, or null where it is undefined. */
export function pearson(x: readonly number[], y: readonly number[]): number | null {
  const n = x.length;
  if (n !== y.length || n < 2) return null;
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i]!;
    const b = y[i]!;
    if (!Number.isFinite(a) || !Number.isFinite(b)) return null;
    sx += a;
    sy += b;
  }
  const mx = sx / n;
  const my = sy / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  const r = sxy / Math.sqrt(sxx * syy);
  if (!Number.isFinite(r)) return null;
  return Math.max(-1, Math.min(1, r));
}

/** What a metric needs of one simulated sequence (a result's example record has these fields). */
export interface SimulatedSequence {
  /** True activations, one per token. */
  activations: readonly number[];
  /** Predicted activations, one per token; null when the model gave none that could be used. */
  predicted: readonly number[] | null;
  /** Quantile of the sequence; -1 for non-activating ones. */
  distance?: number;
}

const usable = (s: SimulatedSequence): s is SimulatedSequence & { predicted: readonly number[] } => s.predicted !== null && s.predicted.length === s.activations.length;

/** One correlation over the tokens of every sequence with a prediction, concatenated. */
export function pooledPearson(sequences: Iterable<SimulatedSequence>): number | null {
  const x: number[] = [];
  const y: number[] = [];
  for (const s of sequences) {
    if (!usable(s)) continue;
    for (let i = 0; i < s.activations.length; i++) {
      x.push(s.activations[i]!);
      y.push(s.predicted[i]!);
    }
  }
  return pearson(x, y);
}

/** Each sequence's own correlation (null where undefined or without a prediction). */
export const sequencePearsons = (sequences: Iterable<SimulatedSequence>): (number | null)[] => [...sequences].map((s) => (usable(s) ? pearson(s.activations, s.predicted) : null));

/** The mean of the defined per-sequence correlations; null when none is defined. */
export function meanSequencePearson(sequences: Iterable<SimulatedSequence>): number | null {
  const defined = sequencePearsons(sequences).filter((r): r is number => r !== null);
  return ratio(defined.reduce((a, b) => a + b, 0), defined.length);
}

export interface QuantileCorrelation {
  /** The quantile; -1 for non-activating sequences. */
  distance: number;
  /** Sequences of this quantile, failed ones included. */
  sequences: number;
  /** With a prediction. */
  scored: number;
  /** Pooled correlation over this quantile's scored sequences (null when undefined, e.g. all-zero truths). */
  pearson: number | null;
}

export interface SimulationMetrics {
  /** Pooled over every token of every scored sequence; null when undefined. */
  pearson: number | null;
  /** Mean of the per-sequence correlations that are defined (for comparison; not the score). */
  per_sequence_mean: number | null;
  /** Sequences without a prediction. */
  failed: number;
  /** Sequences and tokens that were scored. */
  sequences: number;
  tokens: number;
  per_quantile: QuantileCorrelation[];
}

export function simulationMetrics(sequences: readonly SimulatedSequence[]): SimulationMetrics {
  const scored = sequences.filter(usable);
  const groups = new Map<number, SimulatedSequence[]>();
  for (const s of sequences) {
    const distance = s.distance ?? 0;
    const group = groups.get(distance);
    if (group) group.push(s);
    else groups.set(distance, [s]);
  }
  const per_quantile = [...groups]
    .map(([distance, group]) => ({ distance, sequences: group.length, scored: group.filter(usable).length, pearson: pooledPearson(group) }))
    .sort((a, b) => quantileOrder(a.distance) - quantileOrder(b.distance));
  return {
    pearson: pooledPearson(scored),
    per_sequence_mean: meanSequencePearson(scored),
    failed: sequences.length - scored.length,
    sequences: scored.length,
    tokens: scored.reduce((n, s) => n + s.activations.length, 0),
    per_quantile,
  };
}
