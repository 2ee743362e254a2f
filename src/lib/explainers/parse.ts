/**
 * Reading the explanation out of an answer: a pure function. The explanation is the text after the
 * first `[EXPLANATION]:` (brackets and colon with any spacing, any case), trimmed. No marker, nothing
 * after it, more than MAX_EXPLANATION_WORDS words, or the examples echoed back (the `<<`/`>>` markers,
 * "Example 3:", or a shown example's whole text) is a parse failure: recorded, never scored.
 */
import type { Failure } from '../clients/index.ts';

export const EXPLANATION_MARKER = '[EXPLANATION]:';
export const MAX_EXPLANATION_WORDS = 200;

const MARKER = /\[\s*explanation\s*\]\s*:/i;
const NUMBERED = /\b(counter)?example\s+\d+\s*:/i;
/** A shown example this long or longer, found whole in an explanation, is an echo, not a description. */
const ECHO_MIN_CHARS = 20;

export type ParseReason = 'missing' | 'empty' | 'too-long' | 'echo';

export type ParsedExplanation = { ok: true; explanation: string } | { ok: false; failure: Failure };

const fail = (reason: ParseReason, message: string): ParsedExplanation => ({ ok: false, failure: { kind: 'parse', code: `explanation/${reason}`, message } });

const squash = (text: string) => text.replace(/\s+/g, ' ').trim().toLowerCase();

/** `shown`: the plain texts of the examples the prompt showed (to catch them echoed back). */
export function parseExplanation(text: string, shown: readonly string[] = []): ParsedExplanation {
  const match = MARKER.exec(text);
  if (!match) return fail('missing', `The answer has no "${EXPLANATION_MARKER}" line.`);
  const explanation = text.slice(match.index + match[0].length).trim();
  if (explanation === '') return fail('empty', `Nothing follows "${EXPLANATION_MARKER}" in the answer.`);
  const words = explanation.split(/\s+/).length;
  if (words > MAX_EXPLANATION_WORDS) return fail('too-long', `The explanation has ${words} words (at most ${MAX_EXPLANATION_WORDS} are taken as one).`);
  if (explanation.includes('<<') || explanation.includes('>>')) return fail('echo', 'The explanation repeats the examples with their << >> markers instead of describing them.');
  if (NUMBERED.test(explanation)) return fail('echo', 'The explanation goes through the examples by number instead of describing them.');
  const squashed = squash(explanation);
  if (shown.some((example) => squash(example).length >= ECHO_MIN_CHARS && squashed.includes(squash(example)))) {
    return fail('echo', 'The explanation repeats a shown example instead of describing it.');
  }
  return { ok: true, explanation };
}
