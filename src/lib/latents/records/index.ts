/**
 * Feature records (delphi `latents/constructors.py`, `samplers.py`, `neighbours.py`): from a cache to
 * what the explainer and scorers see of each feature, and what a feature page shows.
 *
 * Everything reads a cache through a CacheReader (reader.ts): over an IndexedDB run (idb-reader.ts),
 * a delphi folder (delphi-reader.ts) or arrays (memory-reader.ts). Passes over all features go block
 * by block (a shard, a split), so a cache larger than memory is read once and never held whole.
 *
 * Files: options.ts (settings and defaults), windows.ts (grid and centred windows), normalize.ts
 * (0..10), samplers.ts (quantiles, train and disjoint test sets, per-feature seeds), negatives.ts
 * (non-activating windows), similarity.ts (cosine and co-occurrence neighbours), stats.ts (statistics
 * of every feature in one pass), intervals.ts (activation intervals), record.ts (one feature's record,
 * all features' records), page.ts (quantile groups and intervals with examples).
 */
export * from './delphi-reader.ts';
export * from './idb-reader.ts';
export * from './highlight.ts';
export * from './intervals.ts';
export * from './memory-reader.ts';
export * from './negatives.ts';
export * from './normalize.ts';
export * from './options.ts';
export * from './page.ts';
export * from './reader.ts';
export * from './record.ts';
export * from './samplers.ts';
export * from './similarity.ts';
export * from './stats.ts';
export * from './windows.ts';
