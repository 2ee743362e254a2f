/**
 * One aggregation of scores for every place that shows them: the commands' `metrics.json` and the app's
 * Results and Explain screens. Each scorer's per-example records of every scored feature are pooled
 * (every example together), kept per feature, and per hook when there are several; classifiers add the
 * F1 weighted by how often each feature fires and the pooled ROC curve.
 *
 * ```ts
 * const scorers = aggregateScores([{ hook, feature, scorer: 'detection', kind: 'classifier', examples }], { weight: (f) => nnz[f.feature] });
 * writeFile('metrics.json', JSON.stringify(metricsJson(scorers)));
 * ```
 */
import { classificationMetrics, frequencyWeightedF1, rocCurve, simulationMetrics, type ClassificationMetrics, type ClassifiedSample, type RocPoint, type SimulatedSequence, type SimulationMetrics } from '../metrics/index.ts';
import { scorerById, SCORERS } from '../scorers/index.ts';

/** One feature's records of one scorer. */
export type ScoredFeature = { hook: string; feature: number; scorer: string } & ({ kind: 'classifier'; examples: readonly ClassifiedSample[] } | { kind: 'simulation'; examples: readonly SimulatedSequence[] });

export interface FeatureMetrics {
  hook: string;
  feature: number;
  metrics: ClassificationMetrics | SimulationMetrics;
  /** The share of tokens the feature fires on, when known. */
  density?: number;
}

/** Metrics of one scorer: pooled over features, per feature, and per hook. */
export interface ScorerSummary {
  scorer: string;
  kind: 'classifier' | 'simulation';
  features: number;
  pooled: ClassificationMetrics | SimulationMetrics;
  /** Per-feature F1 weighted by how often each feature fires (classifiers; null when no weights are known). */
  frequencyWeightedF1?: number | null;
  /** The pooled ROC curve of the probabilities (classifiers; empty without probabilities). */
  roc?: RocPoint[];
  perFeature: FeatureMetrics[];
  /** Each hook's pooled metrics (and features, weighted F1), when the features are of several hooks. */
  perHook?: Record<string, { features: number; pooled: ClassificationMetrics | SimulationMetrics; frequencyWeightedF1?: number | null }>;
}

export interface AggregateOptions {
  /** How often a feature fires (its record's n_activations, or non-zeros): weighs the F1s. */
  weight?: (feature: { hook: string; feature: number }) => number | undefined;
  /** The share of tokens a feature fires on. */
  density?: (feature: { hook: string; feature: number }) => number | undefined;
  /** Hooks of the inputs, so that per-hook figures appear when they are several even if one has no scores yet. */
  hooks?: Iterable<string>;
  /** Scorers to list even without scores, in this order (others follow in the registry's). */
  scorers?: readonly string[];
}

const byHookThenFeature = (a: { hook: string; feature: number }, b: { hook: string; feature: number }) => (a.hook < b.hook ? -1 : a.hook > b.hook ? 1 : a.feature - b.feature);

/** Scorers in the registry's order, then any others by name. */
function scorerOrder(ids: Iterable<string>): string[] {
  const known = Object.keys(SCORERS);
  return [...new Set(ids)].sort((a, b) => (known.indexOf(a) + 1 || known.length + 1) - (known.indexOf(b) + 1 || known.length + 1) || (a < b ? -1 : 1));
}

function pool(features: readonly ScoredFeature[], kind: 'classifier' | 'simulation', options: AggregateOptions) {
  if (kind === 'simulation') return { features: features.length, pooled: simulationMetrics(features.flatMap((f) => f.examples as SimulatedSequence[])) };
  const examples = features.flatMap((f) => f.examples as ClassifiedSample[]);
  const weighted = options.weight ? frequencyWeightedF1(features.map((f) => ({ f1: classificationMetrics(f.examples as ClassifiedSample[]).f1, weight: options.weight!(f) ?? 0 }))) : null;
  return { features: features.length, pooled: classificationMetrics(examples), frequencyWeightedF1: weighted };
}

export function aggregateScores(scored: readonly ScoredFeature[], options: AggregateOptions = {}): ScorerSummary[] {
  const hooks = new Set([...(options.hooks ?? []), ...scored.map((s) => s.hook)]);
  return [...new Set([...(options.scorers ?? []), ...scorerOrder(scored.map((s) => s.scorer))])].map((scorer): ScorerSummary => {
    const features = scored.filter((s) => s.scorer === scorer).sort(byHookThenFeature);
    const kind = features[0]?.kind ?? scorerById(scorer).kind;
    const perFeature = features.map((f): FeatureMetrics => {
      const density = options.density?.(f);
      const metrics = f.kind === 'classifier' ? classificationMetrics(f.examples) : simulationMetrics(f.examples);
      return { hook: f.hook, feature: f.feature, metrics, ...(density !== undefined && { density }) };
    });
    const summary: ScorerSummary = { scorer, kind, ...pool(features, kind, options), perFeature };
    if (kind === 'classifier') {
      summary.roc = rocCurve(features.flatMap((f) => (f.examples as ClassifiedSample[]).filter((e) => e.prediction !== null).map((e) => ({ activating: e.activating, score: e.probability }))));
    }
    if (hooks.size > 1) {
      const groups = [...new Set(features.map((f) => f.hook))];
      summary.perHook = Object.fromEntries(groups.map((hook) => [hook, pool(features.filter((f) => f.hook === hook), kind, options)]));
    }
    return summary;
  });
}

type PooledJson = (ClassificationMetrics | SimulationMetrics) & { features: number; frequency_weighted_f1?: number | null };

/**
 * `metrics.json`: per scorer, `pooled` (with `features`, and classifiers' `frequency_weighted_f1`) and
 * `per_feature`, keyed by the feature ("12") when the scores are of one hook, by "<hook>:<f>" with several
 * (then `per_hook` adds each hook's pooled figures).
 */
export type MetricsJson = Record<string, { pooled: PooledJson; per_feature: Record<string, ClassificationMetrics | SimulationMetrics>; per_hook?: Record<string, PooledJson> }>;

export function metricsJson(summaries: readonly ScorerSummary[]): MetricsJson {
  const json: MetricsJson = {};
  for (const s of summaries) {
    const several = s.perHook !== undefined;
    const pooledJson = (group: { features: number; pooled: ClassificationMetrics | SimulationMetrics; frequencyWeightedF1?: number | null }): PooledJson => ({
      ...group.pooled,
      features: group.features,
      ...(s.kind === 'classifier' && { frequency_weighted_f1: group.frequencyWeightedF1 ?? null }),
    });
    json[s.scorer] = {
      pooled: pooledJson(s),
      per_feature: Object.fromEntries(s.perFeature.map((f) => [several ? `${f.hook}:${f.feature}` : String(f.feature), f.metrics])),
      ...(several && { per_hook: Object.fromEntries(Object.entries(s.perHook!).map(([hook, group]) => [hook, pooledJson(group)])) }),
    };
  }
  return json;
}
