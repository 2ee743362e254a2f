/**
 * The system prompt, as parts put together by the prompt's style: what the task is and how the
 * examples are marked, the rules every explainer keeps, and one part each for the activation values,
 * the counterexamples (contrastive) and the steps (chain of thought).
 */
import { EXPLANATION_MARKER } from '../parse.ts';
import type { PromptStyle } from './style.ts';

const TASK = `You are studying one feature of a neural network: a direction in a sparse autoencoder that becomes active on some tokens of text. You will see short excerpts where it is active. In each excerpt, the tokens where the feature is active are wrapped in << and >>; consecutive active tokens share one pair.

Find what the marked tokens have in common, and what in the text around them seems to call the feature up, and state it as one short description.`;

const RULES = `Rules:
- Describe the pattern itself (which words, parts of words, meanings or situations), as precisely as the excerpts allow.
- If a few excerpts fit no pattern, leave them out rather than stretching the description to cover them.
- Do not mention the << >> marks, and do not go through the excerpts one by one.
- Give one description, not a list of alternatives.`;

const VALUES = 'After each excerpt, a line "Values:" gives every marked token with how strongly the feature is active on it, from 0 (barely) to 10 (its strongest).';

const COUNTEREXAMPLES = 'After the excerpts come counterexamples: text where the feature stays silent. A good description fits the excerpts and not the counterexamples; use them to rule out descriptions that are too broad.';

const STEPS = `Think it through in three short steps before the description, each on its own line:
Step 1 (tokens): list the marked tokens.
Step 2 (shared): say what they have in common.
Step 3 (context): say what the text around them has in common.`;

const LAST_LINE = `The last line of your answer must be ${EXPLANATION_MARKER} followed by the description.`;
const SHORT = `Keep the answer short: the ${EXPLANATION_MARKER} line alone is enough.`;

export function systemPrompt(style: PromptStyle): string {
  return [TASK, style.activationValues && VALUES, style.contrastive && COUNTEREXAMPLES, RULES, style.chainOfThought ? STEPS : SHORT, LAST_LINE]
    .filter((part): part is string => typeof part === 'string')
    .join('\n\n');
}
