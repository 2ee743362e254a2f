/**
 * SAE loading and encoding, the door for the UI and workers. Plain TypeScript: no DOM, runs in workers and in Node.
 *
 *   const { candidates } = await detectSaes(files);          // headers and configs only
 *   const sae = candidates[0];                               // let the user choose when there are several
 *   // show summarizeSae(sae.spec); ask for sae.spec.missing; let the user edit sae.spec.assumed
 *   const spec = applySaeSettings(sae.spec, { hookName: 'blocks.6.hook_resid_pre', centerResidual: true });
 *   checkSaeAgainstModel(spec, modelDims);                   // spec.missing must be empty by now
 *   const weights = await loadSaeWeights(sae, spec);         // float32, canonical layout
 *   referenceEncode(weights, spec, activations);             // what the GPU encoder must match
 *
 */
export * from './types.ts';
export * from './files.ts';
export * from './layouts.ts';
export * from './config.ts';
export * from './spec.ts';
export * from './settings.ts';
export * from './load.ts';
export * from './model-check.ts';
export * from './reference-encode.ts';
export * from './encode-graph.ts';
export { planChunkedTopK, SHARED_MEMORY_TOPK, type ChunkedTopKPlan } from './top-k-graph.ts';
export * from './encoder-model.ts';
export * from './sparse.ts';
export * from './encoder.ts';
export * from './scale.ts';
export * from './fingerprint.ts';
export * from './directions.ts';
