/** How scorers and their numbers are named on screen. */

const LABELS: Readonly<Record<string, string>> = { detection: 'Detection', fuzzing: 'Fuzzing', simulation: 'Simulation' };

/** A scorer's name as a heading (its id capitalized when it is not one of ours). */
export const scorerLabel = (scorer: string): string => LABELS[scorer] ?? scorer.charAt(0).toUpperCase() + scorer.slice(1);

/** What a table's score column holds. */
export const metricTitle = (metric: string): string => (metric === 'pearson' ? 'Pearson correlation of the simulated and the true activations' : 'Balanced accuracy (0.5: chance)');

/** Where a classifier's verdicts came from. */
export const classifierModeLabel = (mode: string): string => (mode === 'logprobs' ? 'log-probabilities (each verdict with how sure)' : 'text (verdicts only, no probabilities)');

/** Where a simulation's predicted values came from. */
export const simulationModeLabel = (mode: string): string =>
  ({ 'expected-value': 'log-probabilities (expected values)', integers: 'text (the integers written)', mixed: 'log-probabilities where usable, the integers written elsewhere', json: 'a JSON object' })[mode] ?? mode;
