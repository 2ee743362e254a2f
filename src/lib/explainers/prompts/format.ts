/**
 * The user message (the examples, strongest first, then the counterexamples) and, for the few-shot
 * pairs, the answer the model is shown. Each example is one line (`Example 3: ...`, newlines inside it
 * written as `\n`), followed by its values line when asked for.
 */
import { EXPLANATION_MARKER } from '../parse.ts';
import { highlight, markedTokens } from '../../latents/index.ts';
import type { FewShot } from './few-shot.ts';
import type { PromptStyle, ShownExample } from './style.ts';

const oneLine = (text: string) => text.replace(/\r?\n/g, '\\n');

/** `"hours" 9, "days" 7`: the marked tokens (trimmed) with their values rounded. */
export function valuesLine(texts: readonly string[], marked: readonly boolean[], values: readonly number[]): string {
  const items: string[] = [];
  marked.forEach((isMarked, i) => {
    if (isMarked) items.push(`${JSON.stringify(oneLine(texts[i]!.trim() || texts[i]!))} ${Math.round(values[i] ?? 0)}`);
  });
  return items.join(', ');
}

export function exampleText(index: number, example: ShownExample, threshold: number, style: PromptStyle): string {
  const marked = markedTokens(example.activations, threshold);
  const line = `Example ${index}: ${oneLine(highlight(example.texts, marked))}`;
  return style.activationValues && marked.some(Boolean) ? `${line}\nValues: ${valuesLine(example.texts, marked, example.values)}` : line;
}

export function userMessage(examples: readonly ShownExample[], counterexamples: readonly (readonly string[])[], threshold: number, style: PromptStyle): string {
  const parts = [`Excerpts where the feature is active (${examples.length}, strongest first):`, examples.map((example, i) => exampleText(i + 1, example, threshold, style)).join('\n\n')];
  if (style.contrastive && counterexamples.length > 0) {
    parts.push(`Counterexamples, where the feature is silent (${counterexamples.length}):`, counterexamples.map((texts, i) => `Counterexample ${i + 1}: ${oneLine(texts.join(''))}`).join('\n'));
  }
  return parts.join('\n\n');
}

export function fewShotAnswer(shot: FewShot, style: PromptStyle): string {
  const line = `${EXPLANATION_MARKER} ${shot.explanation}`;
  if (!style.chainOfThought) return line;
  return [`Step 1 (tokens): ${shot.steps.tokens}`, `Step 2 (shared): ${shot.steps.shared}`, `Step 3 (context): ${shot.steps.context}`, line].join('\n');
}
