/**
 * Reading an explanation from an answer: the text after the first `[EXPLANATION]:`, trimmed; a missing
 * marker, an empty or absurd explanation (too long, the examples echoed back) is a parse failure with
 * its reason, never an explanation.
 */
import { describe, expect, test } from 'vitest';
import { MAX_EXPLANATION_WORDS, parseExplanation } from '../../../src/lib/explainers/index.ts';

const SHOWN = ['we waited for three hours before dinner', 'it took twenty minutes to boil'];

describe('parseExplanation', () => {
  test.each([
    ['only the line', '[EXPLANATION]: units of time after a number', 'units of time after a number'],
    ['reasoning first', 'The marked tokens are hours and minutes.\n[EXPLANATION]: units of time', 'units of time'],
    ['spaces trimmed', '[EXPLANATION]:    the word "cat"  \n\n', 'the word "cat"'],
    ['no space after the colon', '[EXPLANATION]:cooking verbs', 'cooking verbs'],
    ['the first marker wins', '[EXPLANATION]: first idea\n[EXPLANATION]: second idea', 'first idea\n[EXPLANATION]: second idea'],
    ['marker in other case', '[Explanation]: city names', 'city names'],
    ['spaces inside the brackets', '[ EXPLANATION ] : city names', 'city names'],
    ['quotes kept', '[EXPLANATION]: "of" after "because"', '"of" after "because"'],
    ['chain of thought', 'Step 1 (tokens): hours, days\nStep 2 (shared): time\nStep 3 (context): numbers\n[EXPLANATION]: units of time after numbers', 'units of time after numbers'],
    ['exactly the word limit', `[EXPLANATION]: ${Array(MAX_EXPLANATION_WORDS).fill('word').join(' ')}`, Array(MAX_EXPLANATION_WORDS).fill('word').join(' ')],
    ['a short example quoted is fine', '[EXPLANATION]: "three hours" style durations', '"three hours" style durations'],
  ])('%s', (_, text, explanation) => {
    expect(parseExplanation(text, SHOWN)).toEqual({ ok: true, explanation });
  });

  test.each([
    ['no marker', 'These examples are about time.', 'missing'],
    ['empty text', '', 'missing'],
    ['a marker without the colon', '[EXPLANATION] units of time', 'missing'],
    ['a different tag', '[ANSWER]: units of time', 'missing'],
    ['nothing after the marker', 'I think so.\n[EXPLANATION]:', 'empty'],
    ['only spaces after the marker', '[EXPLANATION]:   \n  ', 'empty'],
    ['too many words', `[EXPLANATION]: ${Array(MAX_EXPLANATION_WORDS + 1).fill('word').join(' ')}`, 'too-long'],
    ['markers echoed', '[EXPLANATION]: we waited for three <<hours>> before', 'echo'],
    ['an example echoed', '[EXPLANATION]: we waited for three hours before dinner', 'echo'],
    ['examples by number', '[EXPLANATION]: Example 1: hours\nExample 2: minutes', 'echo'],
  ])('%s is a parse failure (%s)', (_, text, reason) => {
    const parsed = parseExplanation(text, SHOWN);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.failure).toMatchObject({ kind: 'parse', code: `explanation/${reason}` });
    expect(parsed.failure.message.length).toBeGreaterThan(10);
  });

  test('without shown examples only the markers count as an echo', () => {
    expect(parseExplanation('[EXPLANATION]: we waited for three hours before dinner')).toEqual({ ok: true, explanation: 'we waited for three hours before dinner' });
  });
});
