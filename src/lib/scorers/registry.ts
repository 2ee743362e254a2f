/** Every scorer, by id. Adding one is a file that defines it and a line here. */
import { AppError } from '../errors.ts';
import type { ScorerDefinition } from './contract.ts';
import { detectionScorer } from './detection.ts';
import { fuzzingScorer } from './fuzzing.ts';
import { simulationScorer } from './simulation.ts';

export const SCORERS: Readonly<Record<string, ScorerDefinition>> = Object.freeze({
  [detectionScorer.id]: detectionScorer,
  [fuzzingScorer.id]: fuzzingScorer,
  [simulationScorer.id]: simulationScorer,
});

export function scorerById(id: string): ScorerDefinition {
  const scorer = SCORERS[id];
  if (!scorer) throw new AppError('score/unknown-scorer', `There is no scorer "${id}"; there are: ${Object.keys(SCORERS).join(', ')}.`);
  return scorer;
}
