/**
 * How an example is shown to an LLM (the explainers' highlighted examples, the fuzzing scorer's marked
 * ones). The highlighting convention: an example is its tokens' texts joined as decoded (each token decoded on
 * its own, so GPT-2 tokens keep their leading space), with every run of consecutive marked tokens
 * wrapped in one `<<` ... `>>`. A token is marked when its activation is above `threshold` times the
 * example's largest activation (0.3 by default, as delphi).
 *
 * Whitespace at the edges of a run stays outside its markers (`three <<hours>> before`, not
 * `three<< hours>> before`): the text is the same, and the marked words read as words. A run that is
 * only whitespace (a marked newline) keeps it inside, so the mark is not lost.
 */
import type { TextTokenizer } from '../../types.ts';

export const DEFAULT_MARK_THRESHOLD = 0.3;
export const MARK_OPEN = '<<';
export const MARK_CLOSE = '>>';

/** Each token's text, decoded on its own. */
export function tokenTexts(tokens: readonly number[], tokenizer: TextTokenizer): string[] {
  return tokens.map((token) => tokenizer.decode([token]));
}

/** Which tokens are marked: activation above `threshold` x the example's max (none when the max is not positive). */
export function markedTokens(activations: readonly number[], threshold = DEFAULT_MARK_THRESHOLD): boolean[] {
  let max = 0;
  for (const value of activations) if (value > max) max = value;
  return activations.map((value) => max > 0 && value > threshold * max);
}

/** The runs of consecutive marked tokens, as [start, end) index pairs. */
export function markedRuns(marked: readonly boolean[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < marked.length; i++) {
    if (!marked[i]) continue;
    const start = i;
    while (i + 1 < marked.length && marked[i + 1]) i++;
    runs.push([start, i + 1]);
  }
  return runs;
}

/** The texts joined, each marked run in `<<` `>>`. */
export function highlight(texts: readonly string[], marked: readonly boolean[]): string {
  let out = '';
  let next = 0;
  for (const [start, end] of markedRuns(marked)) {
    out += texts.slice(next, start).join('');
    const run = texts.slice(start, end).join('');
    if (run.trim() === '') {
      out += `${MARK_OPEN}${run}${MARK_CLOSE}`;
    } else {
      const lead = /^\s*/.exec(run)![0];
      const trail = /\s*$/.exec(run)![0];
      out += `${lead}${MARK_OPEN}${run.slice(lead.length, run.length - trail.length)}${MARK_CLOSE}${trail}`;
    }
    next = end;
  }
  return out + texts.slice(next).join('');
}
