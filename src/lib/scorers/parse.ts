/**
 * Reading scorers' answers: pure functions. An answer that cannot be read whole is a failure with a
 * reason (recorded; its samples stay without a prediction), never a partial guess.
 *
 * Classifiers: a list of exactly `expected` 0s and 1s in square brackets (`[1, 0, 1, 0, 0]`; the last
 * such list when the answer has several; a bare `1, 0, 1, 0, 0` is taken too).
 * Simulation, lines: `token<TAB>value` lines (lines without a tab are skipped), one per token, in order,
 * each token as shown (or the same once trimmed), values from 0 to 10.
 * Simulation, JSON: `{"activations": [{"token", "activation"}]}` with the same checks.
 */
import type { Failure, TokenLogprob, TopLogprob } from '../clients/index.ts';
import { parseJsonAnswer } from '../clients/index.ts';
import { probabilityOfOne, readActivationToken, readVerdictToken, expectedValue } from '../metrics/index.ts';

export type ScoreParseReason = 'unparseable' | 'wrong-length' | 'bad-value' | 'token-mismatch' | 'bad-json';

const fail = (reason: ScoreParseReason, message: string): { ok: false; failure: Failure } => ({ ok: false, failure: { kind: 'parse', code: `score/${reason}`, message } });

export type ParsedVerdicts = { ok: true; verdicts: number[]; /** Character offset of each verdict in the answer. */ offsets: number[] } | { ok: false; failure: Failure };

interface ListCandidate {
  items: { text: string; offset: number }[];
}

function listItems(body: string, offset: number): ListCandidate {
  const items: { text: string; offset: number }[] = [];
  if (body.trim() === '') return { items };
  let at = 0;
  for (const part of body.split(',')) {
    const lead = part.length - part.trimStart().length;
    items.push({ text: part.trim(), offset: offset + at + lead });
    at += part.length + 1;
  }
  return { items };
}

const isVerdict = (item: { text: string }) => item.text === '0' || item.text === '1';

export function parseVerdicts(text: string, expected: number): ParsedVerdicts {
  const candidates: ListCandidate[] = [...text.matchAll(/\[([^[\]]*)\]/g)].map((m) => listItems(m[1]!, m.index + 1));
  if (candidates.length === 0) {
    const bare = /^\s*([01](?:\s*,\s*[01])*)\s*\.?\s*$/.exec(text);
    if (bare) candidates.push(listItems(bare[1]!, text.indexOf(bare[1]!)));
  }
  if (candidates.length === 0) return fail('unparseable', `The answer has no list of 0s and 1s: "${text.trim().slice(0, 80)}".`);
  const verdictLists = candidates.filter((c) => c.items.length > 0 && c.items.every(isVerdict));
  const chosen = verdictLists.findLast((c) => c.items.length === expected) ?? verdictLists.at(-1);
  if (!chosen) {
    const last = candidates.at(-1)!;
    const bad = last.items.find((item) => !isVerdict(item));
    return fail('bad-value', bad ? `The answer's list holds "${bad.text.slice(0, 20)}" where only 0 or 1 may stand.` : 'The answer\'s list is empty.');
  }
  if (chosen.items.length !== expected) return fail('wrong-length', `The answer lists ${chosen.items.length} verdicts for ${expected} examples.`);
  return { ok: true, verdicts: chosen.items.map((item) => Number(item.text)), offsets: chosen.items.map((item) => item.offset) };
}

export type ParsedSimulation = { ok: true; values: number[]; /** Character offset of each value in the answer (lines only). */ offsets?: number[] } | { ok: false; failure: Failure };

/** The answer token as written matches the token as shown: the same, or the same once trimmed. */
export const sameToken = (written: string, shown: string): boolean => written === shown || written.trim() === shown.trim();

const readValue = (value: unknown): number | undefined => {
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) : NaN;
  return Number.isFinite(number) && number >= 0 && number <= 10 ? number : undefined;
};

export function parseSimulationLines(text: string, shownTokens: readonly string[]): ParsedSimulation {
  const values: number[] = [];
  const offsets: number[] = [];
  const written: string[] = [];
  let at = 0;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    const tab = line.lastIndexOf('\t');
    if (tab >= 0) {
      const valueText = line.slice(tab + 1);
      const value = readValue(valueText);
      if (value === undefined) return fail('bad-value', `Line ${written.length + 1} of the answer ends in "${valueText.slice(0, 20)}", not a value from 0 to 10.`);
      written.push(line.slice(0, tab));
      values.push(value);
      offsets.push(at + tab + 1 + (valueText.length - valueText.trimStart().length));
    }
    at += rawLine.length + 1;
  }
  if (values.length === 0) return fail('unparseable', `The answer has no "token<TAB>value" lines: "${text.trim().slice(0, 80)}".`);
  if (values.length !== shownTokens.length) return fail('wrong-length', `The answer has ${values.length} token lines for ${shownTokens.length} tokens.`);
  const mismatch = written.findIndex((token, i) => !sameToken(token, shownTokens[i]!));
  if (mismatch >= 0) return fail('token-mismatch', `Line ${mismatch + 1} of the answer has the token ${JSON.stringify(written[mismatch])} where ${JSON.stringify(shownTokens[mismatch])} was shown.`);
  return { ok: true, values, offsets };
}

/** `json`: the answer parsed by the client, when it was asked for JSON; else the text is parsed here. */
export function parseSimulationJson(text: string, shownTokens: readonly string[], json?: unknown): ParsedSimulation {
  const value = json !== undefined ? json : parseJsonAnswer(text)?.value;
  if (value === undefined) return fail('bad-json', 'The answer does not parse as JSON.');
  const list = Array.isArray(value) ? value : (value as { activations?: unknown } | null)?.activations;
  if (!Array.isArray(list)) return fail('bad-json', 'The answer is not a JSON object with an "activations" list.');
  if (list.length !== shownTokens.length) return fail('wrong-length', `The answer lists ${list.length} tokens for ${shownTokens.length}.`);
  const values: number[] = [];
  for (let i = 0; i < list.length; i++) {
    const entry = list[i] as { token?: unknown; activation?: unknown } | null;
    if (!entry || typeof entry !== 'object' || typeof entry.token !== 'string') return fail('bad-json', `Entry ${i + 1} of the answer has no "token".`);
    if (!sameToken(entry.token, shownTokens[i]!)) return fail('token-mismatch', `Entry ${i + 1} of the answer has the token ${JSON.stringify(entry.token)} where ${JSON.stringify(shownTokens[i])} was shown.`);
    const activation = readValue(entry.activation);
    if (activation === undefined) return fail('bad-value', `Entry ${i + 1} of the answer has the activation ${JSON.stringify(entry.activation)}, not a value from 0 to 10.`);
    values.push(activation);
  }
  return { ok: true, values };
}

// ---------------------------------------------------------------------------------------------------
// Log-probabilities at answer positions

/** A position's alternatives, the chosen token among them. */
export function alternativesOf(entry: TokenLogprob): TopLogprob[] {
  return entry.top.some((t) => t.token === entry.token) ? entry.top : [{ token: entry.token, logprob: entry.logprob }, ...entry.top];
}

/**
 * The log-probability entry that covers each character offset of `text`, found from where each
 * token starts; undefined when the tokens do not spell the text exactly (then offsets say nothing).
 */
export function tokenAtOffset(logprobs: readonly TokenLogprob[], text: string): ((offset: number) => TokenLogprob | undefined) | undefined {
  const starts: number[] = [];
  let joined = '';
  for (const entry of logprobs) {
    starts.push(joined.length);
    joined += entry.token;
  }
  if (joined !== text) return undefined;
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid]! <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Skip empty tokens that start at the same offset.
    while (found >= 0 && logprobs[found]!.token.length === 0) found--;
    return found >= 0 && offset < starts[found]! + logprobs[found]!.token.length ? logprobs[found] : undefined;
  };
}

/**
 * The probability of "1" at each verdict: from the token that spells it (found by offset; where the
 * tokens do not spell the text, the verdict-spelling tokens in order, when there are exactly as many).
 * Null where no usable alternatives are found.
 */
export function verdictProbabilities(logprobs: readonly TokenLogprob[], text: string, verdicts: readonly number[], offsets: readonly number[]): (number | null)[] {
  const at = tokenAtOffset(logprobs, text);
  let entries: (TokenLogprob | undefined)[];
  if (at) {
    entries = offsets.map((offset) => at(offset));
  } else {
    const spelled = logprobs.filter((entry) => readVerdictToken(entry.token) !== undefined);
    entries = spelled.length === verdicts.length ? spelled : verdicts.map(() => undefined);
  }
  return entries.map((entry, i) => (entry && readVerdictToken(entry.token) === verdicts[i] ? probabilityOfOne(alternativesOf(entry)) : null));
}

/**
 * The expected value at each value slot of a lines answer, from the token that spells the written
 * value (found by offset); null where that token does not spell the whole value (a "10" cut into
 * "1" and "0"), or the tokens do not spell the text.
 */
export function expectedValues(logprobs: readonly TokenLogprob[], text: string, values: readonly number[], offsets: readonly number[]): (number | null)[] {
  const at = tokenAtOffset(logprobs, text);
  if (!at) return values.map(() => null);
  return offsets.map((offset, i) => {
    const entry = at(offset);
    return entry && readActivationToken(entry.token) === values[i] ? expectedValue(alternativesOf(entry)) : null;
  });
}
