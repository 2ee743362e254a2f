/**
 * Prompts as data: the system prompt's parts (system.ts), our few-shot examples (few-shot.ts), and the
 * user message and few-shot answers (format.ts). `explainMessages` puts them together.
 */
import type { ChatMessage } from '../../clients/index.ts';
import { FEW_SHOTS } from './few-shot.ts';
import { fewShotAnswer, userMessage } from './format.ts';
import type { PromptStyle, ShownExample } from './style.ts';
import { systemPrompt } from './system.ts';

export { FEW_SHOTS, type FewShot, type FewShotExample } from './few-shot.ts';
export { exampleText, fewShotAnswer, userMessage, valuesLine } from './format.ts';
export type { PromptStyle, ShownExample } from './style.ts';
export { systemPrompt } from './system.ts';

/** System prompt, the few-shot pairs (user: examples, assistant: the answer), then the feature's examples. */
export function explainMessages(style: PromptStyle, examples: readonly ShownExample[], counterexamples: readonly (readonly string[])[], threshold: number): ChatMessage[] {
  const shots = FEW_SHOTS.flatMap((shot): ChatMessage[] => [
    { role: 'user', content: userMessage(shot.examples.map((e) => ({ texts: e.tokens, activations: e.activations, values: e.activations })), shot.counterexamples, threshold, style) },
    { role: 'assistant', content: fewShotAnswer(shot, style) },
  ]);
  return [{ role: 'system', content: systemPrompt(style) }, ...shots, { role: 'user', content: userMessage(examples, counterexamples, threshold, style) }];
}
