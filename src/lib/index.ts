/**
 * The core's door: what workers and the UI import. Plain TypeScript, no DOM; runs in workers and in
 * Node tests. Stages import each other only through their own doors, in one direction
 * (formats -> model -> sae -> latents; storage, hub, util, errors and types from anywhere below);
 * test/unit/architecture/imports.test.ts checks it. runtime/ (onnxruntime-web, transformers.js) is
 * not here: only worker entry files import it.
 */
export * from './errors.ts';
export * from './types.ts';
export * from './util/index.ts';
export * from './formats/index.ts';
export * from './hub/index.ts';
export * from './storage/index.ts';
export * from './model/index.ts';
export * from './sae/index.ts';
export * from './corpus/index.ts';
export * from './latents/index.ts';
export * from './clients/index.ts';
export * from './explainers/index.ts';
export * from './metrics/index.ts';
export * from './scorers/index.ts';
export * from './pipeline/index.ts';
