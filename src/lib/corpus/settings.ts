/**
 * The numbers a corpus is packed with, checked as typed: the row length (tokens per row, at least
 * MIN_CTX and, when the model's context is known, at most that), the token budget (at least one row)
 * and the shuffle seed, each a whole number. One pure function, so that a form shows each field's
 * problem where it is typed and nothing runs with a value the user did not choose.
 */
/** The shortest row the page accepts. */
export const MIN_CTX = 8;

export interface CorpusNumbers {
  ctx: number;
  maxTokens: number;
  seed: number;
}

export type CorpusNumberField = keyof CorpusNumbers;

/** What a form holds: numbers, the text typed, or nothing (an empty or unreadable number field). */
export type CorpusNumbersInput = Record<CorpusNumberField, number | string | null | undefined>;

export type CorpusNumbersCheck =
  | { ok: true; numbers: CorpusNumbers; errors: Partial<Record<CorpusNumberField, string>> }
  | { ok: false; errors: Partial<Record<CorpusNumberField, string>> };

const LABELS: Record<CorpusNumberField, string> = { ctx: 'Tokens per row', maxTokens: 'Token budget', seed: 'Shuffle seed' };

/** The whole number in `value`, or undefined when it is empty or not a whole number. */
function wholeNumber(value: number | string | null | undefined): number | undefined {
  const number = typeof value === 'string' ? (value.trim() === '' ? NaN : Number(value)) : (value ?? NaN);
  return Number.isSafeInteger(number) ? number : undefined;
}

/**
 * Checks the three numbers; `maxCtx` is the longest row the model takes (GPT-2's n_positions), when
 * known. Each field with a problem gets a message that names it and says what it accepts.
 */
export function checkCorpusNumbers(input: CorpusNumbersInput, maxCtx?: number): CorpusNumbersCheck {
  const errors: Partial<Record<CorpusNumberField, string>> = {};
  const range = (min: number, max: number | undefined) => (max === undefined ? `${min} or more` : `from ${min} to ${max}`);
  const need = (field: CorpusNumberField, what: string) => {
    const given = input[field];
    const empty = given === undefined || given === null || (typeof given === 'string' && given.trim() === '');
    errors[field] = `${LABELS[field]}: ${empty ? 'enter' : `"${String(given).trim()}" is not`} ${what}.`;
  };

  const ctx = wholeNumber(input.ctx);
  if (ctx === undefined) need('ctx', `a whole number ${range(MIN_CTX, maxCtx)}`);
  else if (ctx < MIN_CTX) errors.ctx = `${LABELS.ctx}: at least ${MIN_CTX}.`;
  else if (maxCtx !== undefined && ctx > maxCtx) errors.ctx = `${LABELS.ctx}: at most ${maxCtx}, the longest row the model takes.`;

  const maxTokens = wholeNumber(input.maxTokens);
  const rowLength = errors.ctx === undefined ? ctx! : MIN_CTX;
  if (maxTokens === undefined) need('maxTokens', `a whole number, at least the row length (${rowLength})`);
  else if (maxTokens < rowLength) errors.maxTokens = `${LABELS.maxTokens}: at least the row length (${rowLength}), so that one row fits.`;

  const seed = wholeNumber(input.seed);
  if (seed === undefined) need('seed', 'a whole number');

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  return { ok: true, numbers: { ctx: ctx!, maxTokens: maxTokens!, seed: seed! }, errors };
}
