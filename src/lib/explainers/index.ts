/**
 * Explainers (delphi `explainers/`): prompts as data (the highlighting convention is the records' highlight.ts),
 * (prompts/), the pure answer parser (parse.ts), the contract and settings (contract.ts), the
 * explainers built from a prompt style (default.ts, chain-of-thought.ts, contrastive.ts, on
 * prompt-explainer.ts), their registry (registry.ts), and one feature explained (explain.ts).
 */
export * from './contract.ts';
export * from './parse.ts';
export * from './prompts/index.ts';
export { promptExplainer, shownCounterexamples, shownExamples, type PromptExplainerSpec } from './prompt-explainer.ts';
export { defaultExplainer } from './default.ts';
export { chainOfThoughtExplainer } from './chain-of-thought.ts';
export { contrastiveExplainer } from './contrastive.ts';
export { EXPLAINERS, explainerById, explainerByName, explainerNames } from './registry.ts';
export { explainFeature, resolveExplainer, type ExplainOptions } from './explain.ts';
