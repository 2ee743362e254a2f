/**
 * Scorers (delphi `scorers/`): the contract, settings and result records (contract.ts), prompts as data
 * (prompts/), pure answer parsers (parse.ts), the samples a feature is scored on (samples.ts) and the
 * fuzzing marks (marks.ts), the classifier core (classifier.ts) with detection and fuzzing on it, the
 * simulation scorer (simulation.ts), their registry (registry.ts), and one feature scored (score.ts).
 * Metrics are pure functions of the results (metrics/).
 */
export * from './contract.ts';
export * from './parse.ts';
export * from './prompts/index.ts';
export * from './samples.ts';
export * from './marks.ts';
export { classifierSamples, classifierScorer, type ClassifierSample, type ClassifierSpec } from './classifier.ts';
export { detectionScorer } from './detection.ts';
export { fuzzingScorer } from './fuzzing.ts';
export { SIMULATION_DEFAULTS, SIMULATION_TOP_LOGPROBS, simulationScorer } from './simulation.ts';
export { DEFAULT_SCORERS, SCORERS, scorerById, scorerByName, scorerColour, scorerLabel, scorerNames } from './registry.ts';
export { completeScore, prepareScore, resolveScorer, retryableCall, scoreFailed, scoreFeature, scorerSettings, type ScoreOptions } from './score.ts';
