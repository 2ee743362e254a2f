/**
 * Prompts as data: the system prompts (system.ts), our few-shot cases (few-shot.ts), and the messages
 * built from them (format.ts).
 */
export * from './few-shot.ts';
export * from './format.ts';
export * from './system.ts';
