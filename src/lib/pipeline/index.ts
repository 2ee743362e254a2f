/**
 * Running stages over many features: the concurrency pool (pool.ts), usage counted from responses and
 * the budget (usage.ts), cost estimates before a run (estimate.ts), and explaining a set of features
 * with progress, cancellation and hooks for storing results (explain-run.ts).
 */
export * from './estimate.ts';
export * from './explain-run.ts';
export * from './explain-job.ts';
export * from './feature-stage.ts';
export * from './pool.ts';
export * from './score-run.ts';
export * from './score-job.ts';
export * from './usage.ts';
export * from './results-import.ts';
export * from './results-views.ts';
export * from './job-runner.ts';
export * from './job-stages.ts';
export * from './aggregate.ts';
