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

/** A scorer by id or alias ('fuzz'), or undefined. */
export const scorerByName = (name: string): ScorerDefinition | undefined => SCORERS[name] ?? Object.values(SCORERS).find((s) => s.aliases?.includes(name));

/** Every name the commands take: ids and aliases, in the registry's order. */
export const scorerNames = (): string[] => Object.values(SCORERS).flatMap((s) => [s.id, ...(s.aliases ?? [])]);

/** The scorers run when none are named. */
export const DEFAULT_SCORERS: readonly string[] = Object.freeze(Object.values(SCORERS).filter((s) => s.byDefault).map((s) => s.id));

/** A scorer's label (its id capitalized when it is not in the registry). */
export const scorerLabel = (id: string): string => SCORERS[id]?.label ?? id.charAt(0).toUpperCase() + id.slice(1);

/** A scorer's chart colour (one colour for any scorer not in the registry). */
export const scorerColour = (id: string): string => SCORERS[id]?.colour ?? '#7a4fc4';
