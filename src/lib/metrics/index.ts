/**
 * Metrics: pure functions of scored examples, importing nothing but the core's basics. Classifier
 * scorers (detection, fuzzing: classification.ts), the simulation scorer (correlation.ts), and
 * predictions read from token log-probabilities (logprobs.ts). Output keys are the snake_case ones
 * other tools read (`balanced_accuracy`, `f1`, `auc`, `pearson`, ...); an undefined figure is null.
 */
export * from './classification.ts';
export * from './correlation.ts';
export * from './logprobs.ts';
