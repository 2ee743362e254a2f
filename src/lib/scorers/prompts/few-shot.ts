/**
 * Our own worked examples, shown before the real feature: a made-up explanation, made-up excerpts and
 * the answer a careful model would give. Data only; format.ts turns them into messages.
 */

/** A classifier shot: the excerpts (fuzzing ones with their << >> marks written in) and the verdicts. */
export interface ClassifierShot {
  explanation: string;
  examples: { text: string; verdict: 0 | 1 }[];
}

/** A simulation shot: one sequence as tokens (GPT-2 style, leading spaces kept) and the values to predict. */
export interface SimulationShot {
  explanation: string;
  tokens: string[];
  values: number[];
}

export const DETECTION_SHOT: ClassifierShot = {
  explanation: 'Words for relatives, such as aunt, cousin or grandparents.',
  examples: [
    { text: 'My aunt sent us a card from Lisbon.', verdict: 1 },
    { text: 'The train left the station ten minutes late.', verdict: 0 },
    { text: 'Every summer he stayed with his grandparents by the sea.', verdict: 1 },
    { text: 'Turn left after the second bridge and keep going.', verdict: 0 },
    { text: "Our neighbour's cousin came round to fix the roof.", verdict: 1 },
  ],
};

export const FUZZING_SHOT: ClassifierShot = {
  explanation: 'Names of colours, mostly used as adjectives.',
  examples: [
    { text: 'She wore a <<red>> scarf to the party.', verdict: 1 },
    { text: 'The <<committee>> met again on Friday.', verdict: 0 },
    { text: 'Paint the fence <<green>> and the door <<blue>>.', verdict: 1 },
    { text: 'A <<yellow>> light blinked <<twice>> in the dark.', verdict: 0 },
    { text: 'He <<bought>> a car last <<year>>.', verdict: 0 },
  ],
};

export const SIMULATION_SHOT: SimulationShot = {
  explanation: 'Words for wet weather, such as rain, drizzle or showers.',
  tokens: ['Heavy', ' rain', ' and', ' a', ' cold', ' drizzle', ' kept', ' us', ' inside', '.'],
  values: [1, 10, 0, 0, 0, 8, 0, 0, 0, 0],
};
