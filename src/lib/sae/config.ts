/**
 * SAE config files (SAELens cfg.json before and after 6.0, sparsify cfg.json and its run config.json,
 * Gemma Scope config.json, OpenAI settings kept by a converter) read into one partial record.
 * One row per config kind in CONFIG_KINDS: how to recognize it and how to read it.
 */
import { AppError } from '../errors.ts';
import { hookFromModuleName, parseHookName } from '../model/index.ts';
import type { SaeArchitecture, SaeNormalization } from './types.ts';

export type ConfigKind = 'saelens-v6' | 'saelens-legacy' | 'sparsify' | 'sparsify-run' | 'gemmascope' | 'openai';

/** `batchtopk` SAEs are saved as jumprelu (with a threshold) or run as topk; the weights decide. */
export type ConfigArchitecture = SaeArchitecture | 'batchtopk';

export type OpenAiVersion = 'v1' | 'v4' | 'v5';

/** Settings that configs, paths and format defaults can provide. */
export interface SaeSettings {
  architecture?: ConfigArchitecture;
  k?: number;
  hookName?: string;
  hookHeadIndex?: number | null;
  normalizeActivations?: SaeNormalization;
  normalizationScale?: number;
  applyBDecToInput?: boolean;
  prependBos?: boolean;
  rescaleActsByDecoderNorm?: boolean;
  centerResidual?: boolean;
  modelName?: string;
  contextSize?: number;
}

/** What one config file says, normalized. Fields it does not mention are undefined. */
export interface ParsedConfig extends SaeSettings {
  kind: ConfigKind;
  /** The file (or `file (__metadata__)`) it was read from. */
  source: string;
  dIn?: number;
  width?: number;
  /** sparsify: width = expansion_factor × d_in when num_latents is 0. */
  expansionFactor?: number;
  /** SAELens: whether `model_from_pretrained_kwargs` was saved (absent in configs from before SAELens 3). */
  hasModelKwargs?: boolean;
  saeLensVersion?: string;
  openaiVersion?: OpenAiVersion;
  warnings: string[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
};
const bool = (v: unknown): boolean | undefined => {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|false)$/i.test(v)) return v.toLowerCase() === 'true';
  return undefined;
};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Json | undefined => (isObject(v) ? v : undefined);

/** Drops undefined fields so that spreading a parsed config never overwrites with undefined. */
function defined<T extends object>(record: T): T {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as T;
}

const SAELENS_ARCHITECTURES: Record<string, ConfigArchitecture> = {
  standard: 'relu',
  relu: 'relu',
  jumprelu: 'jumprelu',
  jump_relu: 'jumprelu',
  gated: 'gated',
  topk: 'topk',
  top_k: 'topk',
  batchtopk: 'batchtopk',
  batch_topk: 'batchtopk',
  matryoshka_batchtopk: 'batchtopk',
};

/** Pre-6 SAELens names the activation separately: `activation_fn: topk` on a standard SAE is a TopK SAE. */
const SAELENS_ACTIVATION_FNS: Record<string, SaeArchitecture> = { relu: 'relu', topk: 'topk' };

const NORMALIZATIONS: Record<string, SaeNormalization> = {
  none: 'none',
  expected_average_only_in: 'expected_average_only_in',
  constant_norm_rescale: 'constant_norm_rescale',
  layer_norm: 'layer_norm',
};

/** Keys under which a known `expected_average_only_in` scale may be saved. */
const SCALE_KEYS = ['normalization_scale', 'norm_scaling_factor', 'activation_norm_scaling_factor', 'estimated_norm_scaling_factor'];

function unsupportedArchitecture(source: string, name: string, supported: readonly string[]): AppError {
  return new AppError(
    'sae/unsupported-architecture',
    `${source} says the architecture is "${name}", which we cannot run (supported: ${supported.join(', ')}). Transcoders and other variants are not supported; pick a plain SAE.`,
  );
}

function parseNormalization(value: unknown, source: string): SaeNormalization | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'boolean') return value ? 'expected_average_only_in' : 'none';
  const name = str(value);
  const normalization = name ? NORMALIZATIONS[name] : undefined;
  if (!normalization) {
    throw new AppError(
      'sae/bad-config',
      `${source} has normalize_activations ${JSON.stringify(value)}; expected one of ${Object.keys(NORMALIZATIONS).join(', ')} (or true/false). Correct the file or drop the weights without it and choose the normalization by hand.`,
    );
  }
  return normalization;
}

/** What a numeric setting must be. Numbers saved as text ("32", as in safetensors `__metadata__`) count. */
interface NumberRule {
  /** `count`: a whole number from 1 (sizes, k); `index`: a whole number from 0; `positive`: any number above 0. */
  kind: 'count' | 'index' | 'positive';
  /**
   * Set where the value is needed (a TopK SAE's k): null is refused. Elsewhere null means "not stated"
   * (SAELens 6 saves unknown metadata as null; sizes are read from the weights anyway).
   */
  required?: boolean;
}

const RULE_TEXT: Record<NumberRule['kind'], string> = {
  count: 'a whole number of at least 1',
  index: 'a whole number (0 or more)',
  positive: 'a number greater than 0',
};

/**
 * A numeric setting: undefined when absent (or null, unless `required`), else the number, or `sae/bad-config`
 * naming the file, the field and the value. A value that is present but wrong is never dropped silently.
 */
function numberSetting(value: unknown, field: string, source: string, rule: NumberRule): number | undefined {
  if (value === undefined || (value === null && !rule.required)) return undefined;
  const n = num(value);
  const ok = n !== undefined && (rule.kind === 'positive' ? n > 0 : Number.isInteger(n) && n >= (rule.kind === 'count' ? 1 : 0));
  if (!ok) throw new AppError('sae/bad-config', `${source} has ${field} ${JSON.stringify(value)}; it must be ${RULE_TEXT[rule.kind]}. Correct the file, or drop the weights without it and set the options by hand.`);
  return n;
}

const countSetting = (value: unknown, field: string, source: string) => numberSetting(value, field, source, { kind: 'count' });
const indexSetting = (value: unknown, field: string, source: string) => numberSetting(value, field, source, { kind: 'index' });

/**
 * k as a config states it. An SAE that runs TopK needs a whole k from 1 (null is refused); other
 * architectures ignore it, so null passes and a fraction too (batchtopk trains on a batch average of k).
 */
function kSetting(value: unknown, field: string, source: string, architecture: ConfigArchitecture | undefined): number | undefined {
  return numberSetting(value, field, source, architecture === 'topk' ? { kind: 'count', required: true } : { kind: 'positive' });
}

/** The first of `keys` that a getter finds, with its name (for messages). */
function firstKey(get: (key: string) => unknown, keys: readonly string[]): [key: string, value: unknown] {
  for (const key of keys) {
    const value = get(key);
    if (value !== undefined) return [key, value];
  }
  return [keys[0]!, undefined];
}

function saeLensVersionMajor(cfg: Json): number | undefined {
  const meta = obj(cfg.metadata) ?? {};
  const version = str(cfg.sae_lens_version) ?? str(meta.sae_lens_version) ?? str(cfg.sae_lens_training_version) ?? str(meta.sae_lens_training_version);
  const major = version ? Number.parseInt(version, 10) : NaN;
  return Number.isFinite(major) ? major : undefined;
}

/** SAELens before and after 6.0: one reader, since v6 only moved fields into `metadata` and renamed a few. */
function parseSaeLens(kind: 'saelens-v6' | 'saelens-legacy') {
  return (cfg: Json, source: string): ParsedConfig => {
    const meta = obj(cfg.metadata) ?? {};
    const get = (...keys: string[]) => {
      for (const key of keys) {
        if (cfg[key] !== undefined) return cfg[key];
        if (meta[key] !== undefined) return meta[key];
      }
      return undefined;
    };
    const warnings: string[] = [];

    const architectureName = str(get('architecture'));
    let architecture: ConfigArchitecture | undefined;
    if (architectureName !== undefined) {
      architecture = SAELENS_ARCHITECTURES[architectureName.toLowerCase()];
      if (!architecture) throw unsupportedArchitecture(source, architectureName, Object.keys(SAELENS_ARCHITECTURES));
    }
    const activationName = str(get('activation_fn', 'activation_fn_str'));
    if (activationName !== undefined) {
      const activation = SAELENS_ACTIVATION_FNS[activationName.toLowerCase()];
      if (!activation) throw unsupportedArchitecture(source, `activation_fn ${activationName}`, Object.keys(SAELENS_ACTIVATION_FNS));
      if (activation === 'topk' && (architecture === undefined || architecture === 'relu')) architecture = 'topk';
    }
    const kwargs = obj(get('activation_fn_kwargs')) ?? {};
    const modelKwargs = obj(get('model_from_pretrained_kwargs'));
    const [headKey, headIndex] = firstKey(get, ['hook_head_index', 'hook_point_head_index']);
    const version = str(get('sae_lens_version')) ?? str(get('sae_lens_training_version'));
    // Every scale key that is present is checked; the first one set wins.
    const scale = SCALE_KEYS.map((key) => numberSetting(get(key), key, source, { kind: 'positive' })).find((v) => v !== undefined);
    const kFromKwargs = get('k') === undefined || (get('k') === null && kwargs.k !== undefined);
    const k = kFromKwargs ? kSetting(kwargs.k, 'activation_fn_kwargs.k', source, architecture) : kSetting(get('k'), 'k', source, architecture);
    const hookName = str(get('hook_name', 'hook_point'));
    // The layer is in the hook name too; the field is only checked, and compared with the name.
    const [layerKey, layerValue] = firstKey(get, ['hook_layer', 'hook_point_layer']);
    const layer = indexSetting(layerValue, layerKey, source);
    const namedLayer = hookName === undefined ? undefined : parseHookName(hookName)?.layer;
    if (layer !== undefined && namedLayer !== undefined && layer !== namedLayer) {
      warnings.push(`${source} has ${layerKey} ${layer}, but its hook ${hookName} is in block ${namedLayer}; the hook name is used.`);
    }

    return defined<ParsedConfig>({
      kind,
      source,
      warnings,
      architecture,
      k,
      dIn: countSetting(get('d_in'), 'd_in', source),
      width: countSetting(get('d_sae'), 'd_sae', source),
      hookName,
      hookHeadIndex: headIndex === null ? null : indexSetting(headIndex, headKey, source),
      normalizeActivations: parseNormalization(get('normalize_activations'), source),
      normalizationScale: scale,
      applyBDecToInput: bool(get('apply_b_dec_to_input')),
      prependBos: bool(get('prepend_bos')),
      rescaleActsByDecoderNorm: bool(get('rescale_acts_by_decoder_norm')),
      centerResidual: modelKwargs ? bool(modelKwargs.center_writing_weights) : undefined,
      hasModelKwargs: modelKwargs !== undefined,
      modelName: str(get('model_name')),
      contextSize: countSetting(get('context_size'), 'context_size', source),
      saeLensVersion: version,
    });
  };
}

const SPARSIFY_ACTIVATIONS: Record<string, SaeArchitecture> = { topk: 'topk' };

function parseSparsify(cfg: Json, source: string): ParsedConfig {
  const warnings: string[] = [];
  const activation = str(cfg.activation);
  if (activation !== undefined && !SPARSIFY_ACTIVATIONS[activation.toLowerCase()]) {
    throw unsupportedArchitecture(source, activation, Object.keys(SPARSIFY_ACTIVATIONS));
  }
  if (bool(cfg.transcode)) warnings.push(`${source}: this is a sparsify transcoder; its features are read from the input hook point, and its output is not reconstructed here.`);
  if (bool(cfg.skip_connection)) warnings.push(`${source}: the skip connection (W_skip) is ignored; it does not change which features fire.`);
  // num_latents 0 means expansion_factor × d_in; k has no such meaning (sparsify's default is 32).
  const numLatents = indexSetting(cfg.num_latents, 'num_latents', source);
  return defined<ParsedConfig>({
    kind: 'sparsify',
    source,
    warnings,
    architecture: 'topk',
    k: kSetting(cfg.k, 'k', source, 'topk'),
    width: numLatents === 0 ? undefined : numLatents,
    expansionFactor: countSetting(cfg.expansion_factor, 'expansion_factor', source),
    dIn: countSetting(cfg.d_in, 'd_in', source),
  });
}

function parseSparsifyRun(cfg: Json, source: string): ParsedConfig {
  const sae = parseSparsify(obj(cfg.sae) ?? {}, source);
  const model = str(cfg.model);
  // The run config describes every hook point; the sizes it implies depend on each hook, so keep only k.
  return defined<ParsedConfig>({
    kind: 'sparsify-run',
    source,
    warnings: sae.warnings,
    architecture: sae.architecture,
    k: sae.k,
    modelName: model,
    contextSize: countSetting(cfg.ctx_len, 'ctx_len', source),
  });
}

const GEMMASCOPE_ARCHITECTURES: Record<string, SaeArchitecture> = { jump_relu: 'jumprelu', jumprelu: 'jumprelu' };

function parseGemmaScope(cfg: Json, source: string): ParsedConfig {
  const warnings: string[] = [];
  const architectureName = str(cfg.architecture);
  const architecture = architectureName === undefined ? undefined : GEMMASCOPE_ARCHITECTURES[architectureName];
  if (architectureName !== undefined && !architecture) throw unsupportedArchitecture(source, architectureName, Object.keys(GEMMASCOPE_ARCHITECTURES));
  const hookIn = str(cfg.hf_hook_point_in);
  const hookOut = str(cfg.hf_hook_point_out);
  const hookName = hookIn ? hookFromModuleName(hookIn) : undefined;
  if (hookIn && !hookName) warnings.push(`${source}: hook point "${hookIn}" has no TransformerLens name we know; choose the hook point by hand.`);
  if (str(cfg.type) === 'transcoder' || (hookOut && hookIn && hookOut !== hookIn)) {
    warnings.push(`${source}: this is a transcoder (reads ${hookIn}, writes ${hookOut}); its features are read from the input hook point.`);
  }
  return defined<ParsedConfig>({
    kind: 'gemmascope',
    source,
    warnings,
    architecture,
    width: countSetting(cfg.width, 'width', source),
    hookName,
    modelName: str(cfg.model_name),
  });
}

const OPENAI_ACTIVATIONS: Record<string, SaeArchitecture> = { topk: 'topk', relu: 'relu' };

function parseOpenAi(cfg: Json, source: string): ParsedConfig {
  const activationName = str(cfg.activation);
  const architecture = activationName === undefined ? undefined : OPENAI_ACTIVATIONS[activationName.toLowerCase()];
  if (activationName !== undefined && !architecture) throw unsupportedArchitecture(source, activationName, ['TopK', 'ReLU']);
  const versionMatch = /^v?([145])\b/.exec(str(cfg.version) ?? '');
  const normalize = bool(cfg.normalize);
  return defined<ParsedConfig>({
    kind: 'openai',
    source,
    warnings: [],
    architecture,
    k: cfg.k !== undefined ? kSetting(cfg.k, 'k', source, architecture) : kSetting(obj(cfg.activation_state_dict)?.k, 'activation_state_dict.k', source, architecture),
    width: countSetting(cfg.n_latents, 'n_latents', source),
    dIn: countSetting(cfg.n_inputs, 'n_inputs', source),
    normalizeActivations: normalize === undefined ? undefined : normalize ? 'layer_norm' : 'none',
    openaiVersion: versionMatch ? (`v${versionMatch[1]}` as OpenAiVersion) : undefined,
    hookName: str(cfg.hook_name),
  });
}

export interface ConfigKindDef {
  kind: ConfigKind;
  description: string;
  matches: (cfg: Json) => boolean;
  parse: (cfg: Json, source: string) => ParsedConfig;
}

const has = (cfg: Json, ...keys: string[]) => keys.some((key) => cfg[key] !== undefined);

/** Config kinds in the order they are tried; the first whose `matches` holds reads the file. */
export const CONFIG_KINDS: readonly ConfigKindDef[] = [
  {
    kind: 'saelens-v6',
    description: 'SAELens 6 cfg.json (fields about the model in `metadata`)',
    matches: (cfg) => isObject(cfg.metadata) || (saeLensVersionMajor(cfg) ?? 0) >= 6,
    parse: parseSaeLens('saelens-v6'),
  },
  {
    kind: 'gemmascope',
    description: 'Gemma Scope config.json (hf_hook_point_in, width, l0)',
    matches: (cfg) => has(cfg, 'hf_hook_point_in') || cfg.architecture === 'jump_relu' || (has(cfg, 'l0') && has(cfg, 'width')),
    parse: parseGemmaScope,
  },
  {
    kind: 'saelens-legacy',
    description: 'SAELens cfg.json before 6.0 (flat; hook_point, activation_fn)',
    matches: (cfg) => has(cfg, 'hook_name', 'hook_point', 'd_sae', 'activation_fn', 'activation_fn_str', 'hook_layer', 'hook_point_layer', 'sae_lens_training_version'),
    parse: parseSaeLens('saelens-legacy'),
  },
  {
    kind: 'sparsify-run',
    description: 'sparsify run config.json (the SAE settings under `sae`, the model, the hook points)',
    matches: (cfg) => isObject(cfg.sae) && has(cfg, 'hookpoints', 'layers', 'model'),
    parse: parseSparsifyRun,
  },
  {
    kind: 'sparsify',
    description: 'sparsify cfg.json (k, num_latents, expansion_factor)',
    matches: (cfg) => has(cfg, 'num_latents', 'expansion_factor') && has(cfg, 'k', 'multi_topk', 'normalize_decoder', 'activation'),
    parse: parseSparsify,
  },
  {
    kind: 'openai',
    description: 'OpenAI autoencoder settings (activation TopK/ReLU, k, normalize), e.g. kept by a converter in __metadata__',
    matches: (cfg) => has(cfg, 'n_latents', 'n_inputs', 'activation_state_dict') || (typeof cfg.activation === 'string' && /^(topk|relu)$/i.test(cfg.activation)),
    parse: parseOpenAi,
  },
];

/** The first config kind that recognizes `cfg`, if any. */
export function configKindOf(cfg: Record<string, unknown>): ConfigKindDef | undefined {
  return CONFIG_KINDS.find((k) => k.matches(cfg));
}

/** Reads a config with the first kind that recognizes it; undefined when none does. */
export function parseSaeConfig(cfg: Record<string, unknown>, source: string): ParsedConfig | undefined {
  return configKindOf(cfg)?.parse(cfg, source);
}

/**
 * safetensors `__metadata__` holds strings only; converters put settings there (`"k": "32"`,
 * `"activation_state_dict": "{\"k\": 32}"`). Values that parse as JSON are parsed.
 */
export function metadataAsConfig(metadata: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(metadata).map(([key, value]) => {
      try {
        return [key, JSON.parse(value) as unknown];
      } catch {
        return [key, value];
      }
    }),
  );
}
