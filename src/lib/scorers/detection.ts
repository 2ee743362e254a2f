/** Detection: does each plain excerpt contain what the explanation describes? */
import { classifierScorer } from './classifier.ts';
import { DETECTION_SHOT, DETECTION_SYSTEM } from './prompts/index.ts';

export const detectionScorer = classifierScorer({
  id: 'detection',
  label: 'Detection',
  colour: '#3358d4',
  byDefault: true,
  description: 'The model reads the explanation and says for each excerpt whether the feature is in it; activating and non-activating excerpts are mixed.',
  marked: false,
  system: DETECTION_SYSTEM,
  shot: DETECTION_SHOT,
});
