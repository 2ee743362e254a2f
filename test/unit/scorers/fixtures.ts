/**
 * Feature records for scorer tests: test examples on a topic word (strength falling with the
 * quantile, "the" weakly active), non-activating examples without it, over the word tokenizer of
 * the explainer tests.
 */
import type { FeatureRecord } from '../../../src/lib/latents/index.ts';
import type { TextTokenizer } from '../../../src/lib/types.ts';
import { exampleOf, TOPICS } from '../explainers/fixtures.ts';

export { TOPICS, wordTokenizer } from '../explainers/fixtures.ts';

const SENTENCES = [
  'The old {w} sat quietly by the window all day.',
  'Nobody expected the {w} to come back so soon.',
  'She pointed at the {w} and laughed out loud.',
  'In the morning the {w} was gone again.',
  'A small {w} appeared near the garden gate.',
  'He wrote a long letter about the {w} last week.',
  'We talked about the {w} until midnight.',
  'Her brother had never seen a {w} before.',
  'They painted a {w} on the wall of the school.',
  'Everyone in town knew the story of the {w}.',
];
const QUIET = [
  'Prices rose sharply in the second quarter.',
  'The committee will meet again on Tuesday.',
  'Rain is expected over the weekend.',
  'Nobody came to the meeting in the end.',
  'The bridge was closed for repairs.',
  'She finished the report late at night.',
  'Trains were running on a reduced timetable.',
  'He forgot his keys at the office again.',
  'The results were published in March.',
  'Most shops close early on Sundays.',
];

/** `tests` test examples (quantiles 0..4) and `negatives` non-activating ones. */
export function scoreRecord(tokenizer: TextTokenizer, feature: number, options: { word?: string; tests?: number; negatives?: number } = {}): FeatureRecord {
  const { word = TOPICS[feature % TOPICS.length]!, tests = 10, negatives = 10 } = options;
  const test = Array.from({ length: tests }, (_, i) => {
    const quantile = Math.floor((i * 5) / tests);
    return exampleOf(tokenizer, SENTENCES[i % SENTENCES.length]!.replace('{w}', word), { [word]: 10 - quantile, the: 1 }, quantile, i);
  });
  return {
    feature,
    hook: 'blocks.6.hook_resid_pre',
    n_activations: 10 * (feature + 1),
    n_windows: tests,
    max_activation: 10,
    train: [],
    test,
    non_activating: Array.from({ length: negatives }, (_, i) => exampleOf(tokenizer, QUIET[i % QUIET.length]!, {}, -1, 100 + i)),
  };
}
