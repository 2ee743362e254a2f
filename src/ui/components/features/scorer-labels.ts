/** How scorers and their numbers are named on screen (a scorer's own name is the registry's). */
export { scorerLabel } from '../../../lib/index.ts';

/** What a table's score column holds. */
export const metricTitle = (metric: string): string => (metric === 'pearson' ? 'Pearson correlation of the simulated and the true activations' : 'Balanced accuracy (0.5: chance)');

/** Where a classifier's verdicts came from. */
export const classifierModeLabel = (mode: string): string => (mode === 'logprobs' ? 'log-probabilities (each verdict with how sure)' : 'text (verdicts only, no probabilities)');

/** Where a simulation's predicted values came from. */
export const simulationModeLabel = (mode: string): string =>
  ({ 'expected-value': 'log-probabilities (expected values)', integers: 'text (the integers written)', mixed: 'log-probabilities where usable, the integers written elsewhere', json: 'a JSON object' })[mode] ?? mode;
