/**
 * Per-feature statistics of a cache, as stored next to it: one typed array per statistic over the
 * whole width (columns, not one object per feature), so that a page can sort and filter 131072
 * features without building 131072 objects, and IndexedDB stores them as a few large buffers.
 * Computed by the latents stage (records/stats.ts); here only their shape, which the store needs.
 */

/** What the statistics were computed with: statistics under other options are not comparable. */
export interface FeatureStatsOptions {
  /** Tokens per window (`exampleCtx` of the records), for `windows`. */
  exampleCtx: number;
  /** Activations at a row's first position were left out (rows that start with BOS). */
  skipBosPosition: boolean;
  /** Histogram bins per feature, over [0, that feature's max]. */
  bins: number;
  /** Most frequent tokens kept per feature. */
  topTokens: number;
}

export interface FeatureStats {
  options: FeatureStatsOptions;
  width: number;
  /** Tokens that could activate (the row starts left out when `skipBosPosition`): the density's denominator. */
  nTokens: number;
  /** Windows of `exampleCtx` tokens in the cache. */
  nWindows: number;
  /** Non-zeros the cache held when the statistics were computed (BOS positions included), to tell stale statistics. */
  nonZeros: number;
  /** Features with no non-zero at all. */
  dead: number;
  /** Per feature: non-zero activations. */
  nnz: Uint32Array;
  /** Per feature: windows in which it is non-zero (what `minExamples` is compared with). */
  windows: Uint32Array;
  /** Per feature: largest activation (0 for dead features). */
  max: Float32Array;
  /** Per feature: mean of the non-zero activations (0 for dead features). */
  mean: Float32Array;
  /** [width * bins]: feature f's counts are `histogram[f * bins .. (f + 1) * bins)`; bin b holds values in [b, b + 1) * max / bins (the max in the last, negative values in the first). */
  histogram: Uint32Array;
  /** [width * topTokens]: token ids, most frequent first (ties: smaller id first); unused slots have count 0. */
  topTokens: Uint32Array;
  /** [width * topTokens]: how often each of `topTokens` carries an activation of the feature. */
  topTokenCounts: Uint32Array;
}

/** A stored row of the `stats` store: a run's statistics, keyed by the run's id. */
export interface StoredFeatureStats extends FeatureStats {
  runId: string;
  /** ISO time of computation. */
  computedAt: string;
}
