/** The model lists the marked tokens, what they share and what their context shares, then explains. */
import { promptExplainer } from './prompt-explainer.ts';

export const chainOfThoughtExplainer = promptExplainer({
  id: 'chain-of-thought',
  label: 'Chain of thought',
  aliases: ['cot'],
  description: 'Asks for three short steps (marked tokens, what they share, their context) before the explanation: more tokens, often more precise.',
  style: { chainOfThought: true, contrastive: false },
  answerTokens: 200,
  maxTokens: 1000,
});
