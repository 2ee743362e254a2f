/**
 * GPT-2 as the engine needs it: its config, TransformerLens hook names, where each hook is in an ONNX
 * export, and the graph cut at a hook point.
 */
export { buildHookModel, cutAt, defaultOpset, finishModel, HOOK_OUTPUT, type BuiltModel } from './cut.ts';
export { checkRowLength, modelDims, parseGpt2Config, type Gpt2Config, type ModelDims } from './gpt2-config.ts';
export { countLayers, GRAPH_HOOK_SITES, locateHook, modelDModel, valueBias, type HookTensor } from './hook-graph.ts';
export { HOOK_SITES, hookFromModuleName, hookName, hookSitesForWidth, parseHookName, type HookSite, type ParsedHook } from './hooks.ts';
export { pastKeyValuesType, tokenFeeds, type HeadShape, type PastType } from './feeds.ts';
export { loadTokenizer, tokenizerFromJson } from './tokenizer.ts';
export { inspectGpt2, loadGpt2, type LoadedGpt2, type LoadGpt2Options } from './load.ts';
export { tokenEmbedding, type TokenEmbedding } from './embedding.ts';
