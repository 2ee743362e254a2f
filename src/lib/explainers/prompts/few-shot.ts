/**
 * Our own worked examples, shown to the model before the real feature: made-up features with made-up
 * text, as data. Activations are on the 0..10 scale (so they are also the values the activation lines
 * show); tokens carry their leading spaces as a GPT-2 tokenizer would give them. Each also has
 * counterexamples (for the contrastive explainer) and the three steps a chain-of-thought answer writes.
 */

export interface FewShotExample {
  tokens: string[];
  activations: number[];
}

export interface FewShot {
  examples: FewShotExample[];
  /** Texts (as tokens) where the made-up feature is silent. */
  counterexamples: string[][];
  steps: { tokens: string; shared: string; context: string };
  explanation: string;
}

/** `text` split as a GPT-2 tokenizer roughly would: words with their leading space, punctuation apart. */
const words = (text: string): string[] => text.match(/\s?[\w']+|\s?[^\w\s]|\s+/g) ?? [];

/** `text` as tokens with the listed words' activations; every other token 0. */
function example(text: string, values: Record<string, number>): FewShotExample {
  const tokens = words(text);
  return { tokens, activations: tokens.map((token) => values[token.trim()] ?? 0) };
}

export const FEW_SHOTS: readonly FewShot[] = [
  {
    examples: [
      example('We waited for three hours before the doors opened.', { hours: 10 }),
      example('The bread needs forty minutes in a hot oven.', { minutes: 8 }),
      example('After two days of rain the river rose.', { days: 9 }),
      example('She ran the race in under four seconds flat', { seconds: 6 }),
    ],
    counterexamples: [words('The hour hand was missing from the clock.'), words('Three friends walked to the station.')],
    steps: {
      tokens: '"hours", "minutes", "days", "seconds".',
      shared: 'All are units of time, in the plural.',
      context: 'Each follows a number word that counts the units.',
    },
    explanation: 'Plural units of time (hours, minutes, days) right after a number that counts them.',
  },
  {
    examples: [
      example('Finely chop the onions and fry them gently.', { chop: 10, fry: 7 }),
      example('Stir in the flour, then simmer for ten minutes.', { Stir: 9, simmer: 8 }),
      example('Season well and bake until golden.', { Season: 6, bake: 10 }),
    ],
    counterexamples: [words('The chef bought onions at the market.'), words('He stirred up trouble at the meeting.')],
    steps: {
      tokens: '"chop", "fry", "Stir", "simmer", "Season", "bake".',
      shared: 'All are cooking verbs in the imperative.',
      context: 'The sentences are recipe instructions addressed to the reader.',
    },
    explanation: 'Cooking verbs given as instructions in recipes (chop, simmer, bake).',
  },
  {
    examples: [
      example('Last year she moved to New York for work.', { New: 7, York: 10 }),
      example('A small bakery in San Francisco sells it.', { San: 6, Francisco: 9 }),
      example('Flights from Los Angeles were delayed again.', { Los: 5, Angeles: 8 }),
    ],
    counterexamples: [words('They opened a new shop in the old part of town.'), words('She moved to a small town in the hills.')],
    steps: {
      tokens: '"New York", "San Francisco", "Los Angeles".',
      shared: 'All are names of large American cities, each made of two words.',
      context: 'They follow prepositions of place such as "to", "in" and "from".',
    },
    explanation: 'Two-word names of large US cities, after words of place such as "in" or "from".',
  },
];
