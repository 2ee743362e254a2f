/** Also shows non-activating examples as counterexamples, so that too broad an explanation can be ruled out. */
import { promptExplainer } from './prompt-explainer.ts';

export const contrastiveExplainer = promptExplainer({
  id: 'contrastive',
  label: 'Contrastive',
  description: 'Adds examples where the feature is silent as counterexamples, to rule out explanations that are too broad.',
  style: { chainOfThought: false, contrastive: true },
  answerTokens: 40,
  maxTokens: 300,
});
