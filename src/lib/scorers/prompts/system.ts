/**
 * The system prompts of the scorers, as data. The classifier prompts ask for a list of 0s and 1s in
 * square brackets; the simulation prompts for every token back with a value from 0 to 10, as lines
 * (`token<TAB>value`) or as a JSON object.
 */

const TASK = 'You are checking how well a short explanation describes a feature of a neural network: a pattern in text that some part of the network responds to.';

const LIST = 'Answer with one list of 0s and 1s in square brackets, one number per excerpt, in the order of the excerpts, for example [0, 1, 1, 0, 0]. Write nothing else.';

export const DETECTION_SYSTEM = `${TASK} You get the explanation, then a few numbered excerpts of text. For each excerpt, decide whether it contains what the explanation describes: write 1 if it does and 0 if it does not. Some excerpts contain it and others do not; judge each one on its own.

${LIST}`;

export const FUZZING_SYSTEM = `${TASK} You get the explanation, then a few numbered excerpts of text in which some tokens are wrapped in << and >>. In some excerpts the marks sit on the tokens where the feature is active; in others they were put on tokens at random. For each excerpt, write 1 if every marked token fits the explanation, and 0 if any marked token does not.

${LIST}`;

const SIMULATE = `You predict where a feature of a neural network is active, from a short explanation of the feature. After the explanation comes a text split into tokens, one token per line, each followed by a tab and the word "unknown". For every token, predict how strongly the feature is active on it, as a whole number from 0 (not active) to 10 (as active as it gets). Most tokens are usually 0.

Tokens are shown exactly as they are, leading spaces included; \\n stands for a line break and \\t for a tab.`;

export const SIMULATION_LINES_SYSTEM = `${SIMULATE}

Write every token back exactly as given, one per line and in the same order, each followed by a tab and your number instead of "unknown". Write nothing else.`;

export const SIMULATION_JSON_SYSTEM = `${SIMULATE}

Answer with a JSON object of the form {"activations": [{"token": "...", "activation": 0}, ...]}: one entry per token, in the same order, with the token written exactly as given and the activation a whole number from 0 to 10. Write nothing else.`;
