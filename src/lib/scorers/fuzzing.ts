/** Fuzzing: are the marked tokens of each excerpt what the explanation describes? Negatives carry random marks. */
import { classifierScorer } from './classifier.ts';
import { FUZZING_SHOT, FUZZING_SYSTEM } from './prompts/index.ts';

export const fuzzingScorer = classifierScorer({
  id: 'fuzzing',
  label: 'Fuzzing',
  aliases: ['fuzz'],
  colour: '#c2570c',
  byDefault: true,
  description: 'Excerpts are shown with marked tokens: where the feature is active, or at random in non-activating excerpts; the model says whether the marks fit the explanation.',
  marked: true,
  system: FUZZING_SYSTEM,
  shot: FUZZING_SHOT,
});
