/**
 * Predictions from token log-probabilities: a model's alternatives at one answer position read as a
 * distribution over the values those tokens spell. The expected activation is `sum v * p(v)` over the
 * tokens "0".."10" present, renormalised over them; the probability of a "1" verdict is `p1 / (p0 + p1)`.
 * Alternatives that spell the same value (" 1" and "1") are summed. Undefined (null) when no
 * alternative spells a value.
 */

/** One alternative token at an answer position (the shape the clients return). */
export interface Alternative {
  token: string;
  logprob: number;
}

/** Summed probability of each value the alternatives spell; `read` says which value a token spells. */
export function valueProbabilities(alternatives: readonly Alternative[], read: (token: string) => number | undefined): Map<number, number> {
  const out = new Map<number, number>();
  const seen = new Set<string>();
  for (const { token, logprob } of alternatives) {
    if (seen.has(token)) continue; // the chosen token may also be listed among the alternatives
    seen.add(token);
    const value = read(token);
    const p = Math.exp(logprob);
    if (value === undefined || !Number.isFinite(p)) continue;
    out.set(value, (out.get(value) ?? 0) + p);
  }
  return out;
}

/** "7", " 7", "\t10": a whole number from 0 to 10 with only whitespace around it. */
export function readActivationToken(token: string): number | undefined {
  const match = /^\s*(\d{1,2})\s*$/.exec(token);
  if (!match) return undefined;
  const value = Number(match[1]);
  return value <= 10 ? value : undefined;
}

/** "1", " 0", "[1", "0,": a 0 or 1 with only whitespace or list punctuation around it. */
export function readVerdictToken(token: string): number | undefined {
  const match = /^[\s[\](),.'"]*([01])[\s[\](),.'"]*$/.exec(token);
  return match ? Number(match[1]) : undefined;
}

/** The expected value over the alternatives that spell 0..10, renormalised over them; null when none does. */
export function expectedValue(alternatives: readonly Alternative[], read: (token: string) => number | undefined = readActivationToken): number | null {
  let mass = 0;
  let sum = 0;
  for (const [value, p] of valueProbabilities(alternatives, read)) {
    mass += p;
    sum += value * p;
  }
  return mass > 0 ? sum / mass : null;
}

/** p1 / (p0 + p1) over the alternatives that spell 0 or 1; null when neither does. */
export function probabilityOfOne(alternatives: readonly Alternative[], read: (token: string) => number | undefined = readVerdictToken): number | null {
  const p = valueProbabilities(alternatives, read);
  const p0 = p.get(0) ?? 0;
  const p1 = p.get(1) ?? 0;
  return p0 + p1 > 0 ? p1 / (p0 + p1) : null;
}
