/**
 * The scorers' messages: a classifier prompt shows the explanation and numbered one-line excerpts
 * (`Example 3: ...`, line breaks inside written as `\n`); a simulation prompt shows the explanation and
 * one sequence as `token<TAB>unknown` lines. Few-shot pairs (user: a made-up case; assistant: its
 * answer) come before the real one.
 */
import type { ChatMessage } from '../../clients/index.ts';
import type { ClassifierShot, SimulationShot } from './few-shot.ts';

/** The text on one line: line breaks written as `\n`. */
export const oneLine = (text: string): string => text.replace(/\r?\n|\r/g, '\\n');

/** A token as a simulation prompt shows it: line breaks and tabs written as `\n`, `\r`, `\t`, so each token stays on its line. */
export const showToken = (token: string): string => token.replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t');

const explanationLine = (explanation: string): string => `Explanation: ${explanation.replace(/\s+/g, ' ').trim()}`;

/** The verdicts as the answer writes them: `[1, 0, 1]`. */
export const verdictList = (verdicts: readonly number[]): string => `[${verdicts.join(', ')}]`;

export function classifierUser(explanation: string, excerpts: readonly string[]): string {
  return `${explanationLine(explanation)}\n\n${excerpts.map((text, i) => `Example ${i + 1}: ${oneLine(text)}`).join('\n')}`;
}

export function classifierMessages(system: string, shot: ClassifierShot, explanation: string, excerpts: readonly string[]): ChatMessage[] {
  return [
    { role: 'system', content: system },
    { role: 'user', content: classifierUser(shot.explanation, shot.examples.map((e) => e.text)) },
    { role: 'assistant', content: verdictList(shot.examples.map((e) => e.verdict)) },
    { role: 'user', content: classifierUser(explanation, excerpts) },
  ];
}

/** `tokens` as shown (see showToken), one `token<TAB>unknown` line each. */
export function simulationUser(explanation: string, shownTokens: readonly string[]): string {
  return `${explanationLine(explanation)}\n\nTokens:\n${shownTokens.map((token) => `${token}\tunknown`).join('\n')}`;
}

/** The answer a simulation prompt asks for, in either format. */
export function simulationAnswer(shownTokens: readonly string[], values: readonly number[], json: boolean): string {
  if (json) return JSON.stringify({ activations: shownTokens.map((token, i) => ({ token, activation: values[i] })) });
  return shownTokens.map((token, i) => `${token}\t${values[i]}`).join('\n');
}

export function simulationMessages(system: string, shot: SimulationShot, explanation: string, shownTokens: readonly string[], json: boolean): ChatMessage[] {
  const shotTokens = shot.tokens.map(showToken);
  return [
    { role: 'system', content: system },
    { role: 'user', content: simulationUser(shot.explanation, shotTokens) },
    { role: 'assistant', content: simulationAnswer(shotTokens, shot.values, json) },
    { role: 'user', content: simulationUser(explanation, shownTokens) },
  ];
}
