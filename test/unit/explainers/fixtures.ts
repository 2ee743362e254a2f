/**
 * Made-up feature records for explainer and pipeline tests: a word-level tokenizer that grows its
 * vocabulary as it meets words (GPT-2 style: a word keeps its leading space), and records whose
 * feature fires on chosen words.
 */
import type { Example, FeatureRecord } from '../../../src/lib/latents/index.ts';
import type { TextTokenizer } from '../../../src/lib/types.ts';

export function wordTokenizer(): TextTokenizer & { vocabulary: string[] } {
  const vocabulary: string[] = [];
  const ids = new Map<string, number>();
  return {
    vocabulary,
    encode(text) {
      return (text.match(/\s?[\w']+|\s?[^\w\s]|\s+/g) ?? []).map((piece) => {
        let id = ids.get(piece);
        if (id === undefined) {
          id = vocabulary.push(piece) - 1;
          ids.set(piece, id);
        }
        return id;
      });
    },
    decode: (tokens) => tokens.map((id) => vocabulary[id] ?? '\uFFFD').join(''),
  };
}

/**
 * An example of `text` whose feature is `values[word]` on the listed words (trimmed match), 0 elsewhere;
 * normalized against the feature's max (10 unless given).
 */
export function exampleOf(tokenizer: TextTokenizer, text: string, values: Record<string, number>, quantile: number, row = 0, featureMax = 10): Example {
  const tokens = tokenizer.encode(text);
  const activations = tokens.map((id) => values[tokenizer.decode([id]).trim()] ?? 0);
  return { row, start: 0, tokens, activations, normalized: activations.map((a) => Math.round((10 * a) / featureMax)), quantile };
}

const SENTENCES = [
  'The old {w} sat quietly by the window all day.',
  'Nobody expected the {w} to come back so soon.',
  'She pointed at the {w} and laughed out loud.',
  'In the morning the {w} was gone again.',
  'A small {w} appeared near the garden gate.',
  'He wrote a long letter about the {w} last week.',
];
const QUIET = ['Prices rose sharply in the second quarter.', 'The committee will meet again on Tuesday.', 'Rain is expected over the weekend.'];
export const TOPICS = ['cat', 'river', 'engine', 'violin', 'harbor', 'pepper', 'comet', 'ladder', 'meadow', 'lantern'];

/** A record for `feature`: six train examples on its topic word (strongest first by quantile), three non-activating ones. */
export function topicRecord(tokenizer: TextTokenizer, feature: number, word = TOPICS[feature % TOPICS.length]!): FeatureRecord {
  const train = SENTENCES.map((sentence, i) => exampleOf(tokenizer, sentence.replace('{w}', word), { [word]: 10 - i, the: 1 }, Math.floor(i / 2), i));
  return {
    feature,
    hook: 'blocks.6.hook_resid_pre',
    n_activations: 60,
    n_windows: 6,
    max_activation: 10,
    train,
    test: [],
    non_activating: QUIET.map((text, i) => exampleOf(tokenizer, text, {}, -1, 100 + i)),
  };
}
