/** Every explainer, by id. Adding one is a file that defines it and a line here. */
import { AppError } from '../errors.ts';
import { chainOfThoughtExplainer } from './chain-of-thought.ts';
import type { ExplainerDefinition } from './contract.ts';
import { contrastiveExplainer } from './contrastive.ts';
import { defaultExplainer } from './default.ts';

export const EXPLAINERS: Readonly<Record<string, ExplainerDefinition>> = Object.freeze({
  [defaultExplainer.id]: defaultExplainer,
  [chainOfThoughtExplainer.id]: chainOfThoughtExplainer,
  [contrastiveExplainer.id]: contrastiveExplainer,
});

export function explainerById(id: string): ExplainerDefinition {
  const explainer = EXPLAINERS[id];
  if (!explainer) throw new AppError('explain/unknown-explainer', `There is no explainer "${id}"; there are: ${Object.keys(EXPLAINERS).join(', ')}.`);
  return explainer;
}

/** An explainer by id or alias ('cot'), or undefined. */
export const explainerByName = (name: string): ExplainerDefinition | undefined => EXPLAINERS[name] ?? Object.values(EXPLAINERS).find((e) => e.aliases?.includes(name));

/** The names the commands show: each explainer's shortest (its alias where it has one). */
export const explainerNames = (): string[] => Object.values(EXPLAINERS).map((e) => e.aliases?.[0] ?? e.id);
