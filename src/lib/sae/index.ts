/**
 * SAE loading, the door for the UI and workers. Plain TypeScript: no DOM, runs in workers and in Node.
 *
 *   const { candidates } = await detectSaes(files);          // headers and configs only
 *   const sae = candidates[0];                               // let the user choose when there are several
 *   // show summarizeSae(sae.spec); ask for sae.spec.missing; let the user edit sae.spec.assumed
 *   const spec = applySaeSettings(sae.spec, { hookName: 'blocks.6.hook_resid_pre', centerResidual: true });
 *   checkSaeAgainstModel(spec, modelDims);                   // spec.missing must be empty by now
 *   const weights = await loadSaeWeights(sae, spec);         // float32, canonical layout
 *   referenceEncode(weights, spec, activations);             // what the GPU encoder must match
 *
 * Internal modules (files, layouts, config, spec) are exported for tests and tools; the names below are
 * the public API.
 */
export type {
  CanonicalTensor,
  Dtype,
  ModelDims,
  SaeArchitecture,
  SaeFormat,
  SaeInputFile,
  SaeNormalization,
  SaeSpec,
  SaeWeights,
} from './types.ts';
export { detectSaes, loadSaeWeights, saeTensorRefs, type LoadWeightsOptions, type SaeCandidate, type SaeDetection, type SaeTensorRef, type SkippedSaeFile } from './load.ts';
export { summarizeSae, applySaeSettings, buildSaeSpec, encodingKey, FORMAT_RULES, OPENAI_VERSIONS, type SaeSummary, type SaeSettingsPatch } from './spec.ts';
export { checkSaeAgainstModel, hookSitesForWidth, parseHookName, hookFromModuleName, HOOK_SITES, type HookSite } from './hooks.ts';
export { SAE_LAYOUTS, detectLayout, type SaeLayout, type DetectedLayout } from './layouts.ts';
export { CONFIG_KINDS, parseSaeConfig, type ParsedConfig, type ConfigKind } from './config.ts';
export {
  referenceEncode,
  referenceEncodeToken,
  prepareInput,
  estimateNormalizationScale,
  topKIndices,
  type EncodeSettings,
  type SparseCode,
} from './reference-encode.ts';
