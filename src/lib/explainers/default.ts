/** delphi's default explainer: the marked examples, then the explanation line. */
import { promptExplainer } from './prompt-explainer.ts';

export const defaultExplainer = promptExplainer({
  id: 'default',
  label: 'Default',
  description: 'Shows the marked examples and asks for a one-line explanation.',
  style: { chainOfThought: false, contrastive: false },
  answerTokens: 40,
  maxTokens: 300,
});
