/**
 * Turning a detected layout, its configs and its path into one SaeSpec.
 *
 * Settings come in layers, first defined value wins: the config beside the weights, configs in folders
 * above, the safetensors `__metadata__`, hints in the path, then the format's defaults. A value from a
 * layer marked `guess` lands in `spec.assumed`; one no layer gives (and the user must choose) lands in
 * `spec.missing`.
 */
import { AppError } from '../errors.ts';
import type { ConfigKind, OpenAiVersion, ParsedConfig, SaeSettings } from './config.ts';
import { basename, dirname } from '../util/index.ts';
import { hookFromModuleName, hookName, parseHookName } from '../model/index.ts';
import type { DetectedLayout } from './layouts.ts';
import type { SaeArchitecture, SaeFormat, SaeSpec } from './types.ts';

export interface SettingsLayer {
  source: string;
  origin: 'config' | 'path' | 'default';
  /** Values from this layer are guesses the user should confirm. */
  guess: boolean;
  settings: SaeSettings;
}

interface FormatContext {
  path: string;
  configs: readonly ParsedConfig[];
}

export interface FormatRules {
  label: string;
  /** Config kinds written by this format's tools; without one, the format's defaults are guesses. */
  configKinds: readonly ConfigKind[];
  /** Settings the file's path tells (a sparsify hook folder, an OpenAI blob path). */
  pathHints?: (ctx: FormatContext) => SettingsLayer[];
  /** The format's defaults, lowest precedence. */
  defaults: (ctx: FormatContext) => SettingsLayer[];
}

/** OpenAI's GPT-2 SAE sets: v5 is TopK(32) on layer-normed input, v1 and v4 are ReLU on raw input. */
export const OPENAI_VERSIONS: Record<OpenAiVersion, SaeSettings> = {
  v1: { architecture: 'relu', normalizeActivations: 'none' },
  v4: { architecture: 'relu', normalizeActivations: 'none' },
  v5: { architecture: 'topk', k: 32, normalizeActivations: 'layer_norm', contextSize: 64 },
};

/** OpenAI's blob folder names and the TransformerLens hook each one is. */
const OPENAI_LOCATIONS: Record<string, string> = {
  resid_delta_attn: 'hook_attn_out',
  resid_delta_mlp: 'hook_mlp_out',
  resid_post_attn: 'hook_resid_mid',
  resid_post_mlp: 'hook_resid_post',
  mlp_post_act: 'mlp.hook_post',
};

const OPENAI_LOCATION = new RegExp(`(${Object.keys(OPENAI_LOCATIONS).join('|')})(_v[45][a-z0-9_]*)?`);

/** How a path names the OpenAI set; first match wins. v1 only in OpenAI's own layout (no suffix on the folder). */
const OPENAI_VERSION_PATTERNS: readonly { version: OpenAiVersion; test: (path: string) => boolean }[] = [
  { version: 'v5', test: (path) => /(^|[^a-z0-9])v5|_v5/i.test(path) },
  { version: 'v4', test: (path) => /_v4/i.test(path) },
  {
    version: 'v1',
    test: (path) => {
      const location = OPENAI_LOCATION.exec(path);
      return location !== null && !location[2] && /\/autoencoders\/\d+\.[a-z]+$/.test(path);
    },
  },
];

/** Where a path may say the layer: OpenAI's `autoencoders/<layer>.pt`, `layer_6`, or a trailing `_6`. */
const OPENAI_LAYER_PATTERNS = [/autoencoders\/(\d+)\.[a-z]+$/, /layer[_-]?(\d+)/i, /[_-](\d+)\.safetensors$/i];

/** Reads `<location>[_v4|_v5_32k|_v5_128k]/autoencoders/<layer>.safetensors`, or a file name holding the same words. */
export function openAiPathInfo(path: string): { version?: OpenAiVersion; hookName?: string } {
  const version = OPENAI_VERSION_PATTERNS.find((p) => p.test(path))?.version;
  const location = OPENAI_LOCATION.exec(path);
  const layer = OPENAI_LAYER_PATTERNS.map((p) => p.exec(path)).find((m) => m !== null);
  const hook = location && layer ? hookName(Number(layer[1]), OPENAI_LOCATIONS[location[1]!]!) : undefined;
  return { ...(version ? { version } : {}), ...(hook ? { hookName: hook } : {}) };
}

function openAiVersion(ctx: FormatContext): OpenAiVersion | undefined {
  return ctx.configs.find((c) => c.openaiVersion)?.openaiVersion ?? openAiPathInfo(ctx.path).version;
}

export const FORMAT_RULES: Record<SaeFormat, FormatRules> = {
  saelens: {
    label: 'SAELens',
    configKinds: ['saelens-v6', 'saelens-legacy'],
    defaults: (ctx) => [
      {
        source: 'SAELens defaults',
        origin: 'default',
        guess: !ctx.configs.some((c) => c.kind === 'saelens-v6' || c.kind === 'saelens-legacy'),
        settings: { architecture: 'relu', normalizeActivations: 'none', applyBDecToInput: true, prependBos: true, rescaleActsByDecoderNorm: false },
      },
    ],
  },
  sparsify: {
    label: 'EleutherAI sparsify',
    configKinds: ['sparsify', 'sparsify-run'],
    pathHints: (ctx) => {
      // sparsify names each SAE's folder after its hook point: h.6 / layers.6 = output of block 6.
      const hook = hookFromModuleName(basename(dirname(ctx.path)));
      return hook ? [{ source: `folder name ${basename(dirname(ctx.path))}`, origin: 'path', guess: false, settings: { hookName: hook } }] : [];
    },
    defaults: (ctx) => [
      {
        source: 'sparsify defaults',
        origin: 'default',
        guess: !ctx.configs.some((c) => c.kind === 'sparsify' || c.kind === 'sparsify-run'),
        settings: { architecture: 'topk', k: 32, normalizeActivations: 'none', applyBDecToInput: true, prependBos: false, rescaleActsByDecoderNorm: false, centerResidual: false },
      },
    ],
  },
  gemmascope: {
    label: 'Gemma Scope',
    configKinds: ['gemmascope'],
    defaults: (ctx) => [
      {
        source: 'Gemma Scope defaults',
        origin: 'default',
        guess: !ctx.configs.some((c) => c.kind === 'gemmascope'),
        settings: { architecture: 'jumprelu', normalizeActivations: 'none', applyBDecToInput: false, prependBos: true, rescaleActsByDecoderNorm: false, centerResidual: false },
      },
    ],
  },
  openai: {
    label: 'OpenAI',
    configKinds: ['openai'],
    pathHints: (ctx) => {
      const hook = openAiPathInfo(ctx.path).hookName;
      return hook ? [{ source: 'OpenAI folder and file name', origin: 'path', guess: false, settings: { hookName: hook } }] : [];
    },
    defaults: (ctx) => {
      const version = openAiVersion(ctx);
      return [
        { source: version ? `OpenAI ${version} settings` : 'OpenAI v5 settings (version unknown)', origin: 'default', guess: !version, settings: OPENAI_VERSIONS[version ?? 'v5'] },
        { source: 'OpenAI defaults', origin: 'default', guess: false, settings: { applyBDecToInput: true, prependBos: false, rescaleActsByDecoderNorm: false, centerResidual: false } },
      ];
    },
  },
};

/** Formats that reuse another format's tensor names; first match wins. */
const FORMAT_REFINEMENTS: readonly { format: SaeFormat; when: (layout: DetectedLayout, ctx: FormatContext) => boolean }[] = [
  // Gemma Scope SAEs converted to SAELens tensor names, with Gemma Scope's config.json.
  { format: 'gemmascope', when: (layout, ctx) => layout.layout.format === 'saelens' && ctx.configs.some((c) => c.kind === 'gemmascope') },
  // Gemma Scope's params file with no config at all.
  {
    format: 'gemmascope',
    when: (layout, ctx) =>
      layout.layout.architecture === 'jumprelu' &&
      basename(ctx.path) === 'params.safetensors' &&
      !ctx.configs.some((c) => c.kind === 'saelens-v6' || c.kind === 'saelens-legacy'),
  },
];

/** A TransformerLens hook name anywhere in the path (jbloom's repos name folders `blocks.8.hook_resid_pre`). */
function hookInPath(path: string): SettingsLayer[] {
  const segment = path.split('/').find((part) => parseHookName(part));
  return segment ? [{ source: `folder name ${segment}`, origin: 'path', guess: true, settings: { hookName: segment } }] : [];
}

type Resolved<K extends keyof SaeSettings> = { value: SaeSettings[K]; layer?: SettingsLayer };

function resolve<K extends keyof SaeSettings>(layers: readonly SettingsLayer[], key: K): Resolved<K> {
  const layer = layers.find((l) => l.settings[key] !== undefined);
  return layer ? { value: layer.settings[key], layer } : { value: undefined };
}

/**
 * Rules for `centerResidual`, first decision wins: whether the SAE expects the residual stream with each
 * token's mean removed, as TransformerLens's default `center_writing_weights` makes it.
 */
const CENTER_RULES: readonly { decide: (ctx: CenterContext) => CenterDecision | undefined }[] = [
  { decide: (ctx) => (ctx.explicit.value !== undefined ? { value: ctx.explicit.value, ...(ctx.explicit.layer ? { layer: ctx.explicit.layer } : {}) } : undefined) },
  // A layer norm removes the mean anyway.
  { decide: (ctx) => (ctx.normalization === 'layer_norm' ? { value: false } : undefined) },
  // Only the residual stream and what is written to it are centred; hook_z, the MLP hidden layer are not.
  { decide: (ctx) => (ctx.hook && !ctx.hook.site.residualWrite ? { value: false } : undefined) },
  {
    // SAELens configs from before model_from_pretrained_kwargs existed come from TransformerLens's default
    // HookedTransformer.from_pretrained, which centres writing weights (gpt2-small-res-jb is one).
    decide: (ctx) =>
      ctx.configs.some((c) => c.kind === 'saelens-legacy' && !c.hasModelKwargs && !c.saeLensVersion)
        ? {
            value: true,
            guess: true,
            warning:
              'The cfg.json predates SAELens recording model_from_pretrained_kwargs, so the SAE was most likely trained on TransformerLens with centred writing weights (like gpt2-small-res-jb): each token’s mean will be subtracted. Turn this off if features look wrong.',
          }
        : undefined,
  },
];

interface CenterDecision {
  value: boolean;
  /** The settings layer that gave the value, if one did. */
  layer?: SettingsLayer;
  guess?: boolean;
  warning?: string;
}

interface CenterContext {
  explicit: Resolved<'centerResidual'>;
  normalization: SaeSpec['normalizeActivations'];
  hook: ReturnType<typeof parseHookName>;
  configs: readonly ParsedConfig[];
}

export interface SpecInputs {
  detected: DetectedLayout;
  /** Path of the weights file. */
  path: string;
  bytes: number;
  /** Parsed configs, highest precedence first. */
  configs: readonly ParsedConfig[];
  /** Configs that were read but not recognized. */
  ignoredConfigs?: readonly string[];
}

const mismatch = (message: string) => new AppError('sae/config-mismatch', message);

function checkSizes(detected: DetectedLayout, configs: readonly ParsedConfig[]): void {
  const { dIn, width, layout } = detected;
  const fix = 'The config belongs to another SAE: use the config that came with these weights, or drop the weights alone and set the options by hand.';
  for (const c of configs) {
    if (c.dIn !== undefined && c.dIn !== dIn) throw mismatch(`${c.source} says d_in = ${c.dIn}, but the weights (${layout.id}) have d_in ${dIn}. ${fix}`);
    if (c.width !== undefined && c.width !== width) throw mismatch(`${c.source} says the SAE has ${c.width} features, but the weights (${layout.id}) have ${width}. ${fix}`);
    if (c.width === undefined && c.expansionFactor !== undefined && c.expansionFactor * dIn !== width) {
      throw mismatch(`${c.source} says expansion_factor ${c.expansionFactor} (${c.expansionFactor * dIn} features for d_in ${dIn}), but the weights have ${width}. ${fix}`);
    }
  }
}

function reconcileArchitecture(resolved: Resolved<'architecture'>, detected: DetectedLayout): SaeArchitecture {
  const forced = detected.layout.architecture;
  const said = resolved.value === 'batchtopk' ? (forced === 'jumprelu' ? 'jumprelu' : 'topk') : resolved.value ?? 'relu';
  const source = resolved.layer?.source ?? 'the defaults';
  if (forced && said !== forced) {
    if (resolved.layer?.origin === 'config') {
      throw mismatch(
        `${source} says the architecture is ${resolved.value}, but the weights are a ${detected.layout.id} SAE, which is ${forced}. The config belongs to another SAE: use the config that came with these weights.`,
      );
    }
    return forced;
  }
  if (!forced && (said === 'jumprelu' || said === 'gated')) {
    const needs = said === 'jumprelu' ? 'a threshold tensor' : 'b_gate, b_mag and r_mag tensors';
    throw mismatch(`${source} says the architecture is ${said}, but the weights have no ${needs} (they are ${detected.layout.id}: ${detected.layout.description}). The config belongs to another SAE, or the file lost tensors.`);
  }
  return said;
}

/** Builds the spec; throws `sae/config-mismatch` or `sae/bad-config` when configs contradict the weights. */
export function buildSaeSpec(inputs: SpecInputs): SaeSpec {
  const { detected, path, configs } = inputs;
  const ctx: FormatContext = { path, configs };
  const format = FORMAT_REFINEMENTS.find((r) => r.when(detected, ctx))?.format ?? detected.layout.format;
  const rules = FORMAT_RULES[format];
  checkSizes(detected, configs);

  const layers: SettingsLayer[] = [
    ...configs.map((c): SettingsLayer => ({ source: c.source, origin: 'config', guess: false, settings: c })),
    ...(rules.pathHints?.(ctx) ?? []),
    ...hookInPath(path),
    ...rules.defaults(ctx),
  ];
  const warnings = [...detected.warnings, ...configs.flatMap((c) => c.warnings)];
  for (const ignored of inputs.ignoredConfigs ?? []) warnings.push(`${ignored} is not a config we recognize; it was ignored.`);
  const assumed: string[] = [];
  const missing: string[] = [];
  /** Guessed settings by the layer that gave them, for one warning per layer. */
  const guesses = new Map<string, string[]>();
  const noteGuess = (key: string, layer: SettingsLayer | undefined) => {
    if (!layer?.guess) return;
    assumed.push(key);
    guesses.set(layer.source, [...(guesses.get(layer.source) ?? []), key]);
  };
  const take = <K extends keyof SaeSettings>(key: K): SaeSettings[K] => {
    const r = resolve(layers, key);
    noteGuess(key, r.layer);
    return r.value;
  };

  const architectureResolved = resolve(layers, 'architecture');
  const architecture = reconcileArchitecture(architectureResolved, detected);
  if (architecture === architectureResolved.value) noteGuess('architecture', architectureResolved.layer);

  let k: number | undefined;
  if (architecture === 'topk') {
    const resolved = resolve(layers, 'k');
    noteGuess('k', resolved.layer);
    k = resolved.value;
    const said = resolved.layer ? `${resolved.layer.source} has k ${k}` : `k is ${k}`;
    if (k === undefined) missing.push('k');
    else if (!Number.isInteger(k) || k < 1) throw new AppError('sae/bad-config', `${said}; a TopK SAE needs a whole number of active features of at least 1. Correct the config.`);
    else if (k > detected.width) throw mismatch(`${said}, but the SAE has only ${detected.width} features. The config belongs to another SAE; correct k.`);
  }

  let hook = take('hookName');
  if (hook !== undefined && !parseHookName(hook)) {
    const translated = hookFromModuleName(hook);
    if (translated) hook = translated;
    else {
      warnings.push(`The hook point "${hook}" is not a TransformerLens hook we can read; choose the hook point.`);
      hook = undefined;
    }
  }
  if (hook === undefined) missing.push('hookName');
  const parsedHook = hook === undefined ? undefined : parseHookName(hook);
  const hookHeadIndex = resolve(layers, 'hookHeadIndex').value ?? null;
  if (hookHeadIndex !== null && parsedHook && !parsedHook.site.site.startsWith('attn.')) {
    warnings.push(`hook_head_index ${hookHeadIndex} is set, but ${hook} is not a per-head hook; it is ignored.`);
  }

  const normalizeActivations = take('normalizeActivations') ?? 'none';
  let normalizationScale = take('normalizationScale');
  if (normalizeActivations !== 'expected_average_only_in') normalizationScale = undefined;
  else if (normalizationScale === undefined) {
    warnings.push('The input scale for expected_average_only_in normalization is not in the config; enter it, or estimate it from sample text (sqrt(d_in) over the mean norm of the hook’s activations on that text), which only approximates the scale used in training: the more and the more typical the text, the closer.');
  }

  const centerContext: CenterContext = { explicit: resolve(layers, 'centerResidual'), normalization: normalizeActivations, hook: parsedHook, configs };
  let centerResidual: boolean | undefined;
  for (const rule of CENTER_RULES) {
    const decision = rule.decide(centerContext);
    if (!decision) continue;
    centerResidual = decision.value;
    if (decision.layer) noteGuess('centerResidual', decision.layer);
    else if (decision.guess) assumed.push('centerResidual');
    if (decision.warning) warnings.push(decision.warning);
    break;
  }
  if (centerResidual === undefined) missing.push('centerResidual');

  const spec: SaeSpec = {
    format,
    architecture,
    dIn: detected.dIn,
    width: detected.width,
    ...(k !== undefined ? { k } : {}),
    dtype: detected.dtype,
    bytes: inputs.bytes,
    ...(hook !== undefined ? { hookName: hook } : {}),
    hookHeadIndex: parsedHook?.site.site.startsWith('attn.') ? hookHeadIndex : null,
    normalizeActivations,
    ...(normalizationScale !== undefined ? { normalizationScale } : {}),
    applyBDecToInput: take('applyBDecToInput') ?? true,
    prependBos: take('prependBos') ?? true,
    rescaleActsByDecoderNorm: architecture === 'topk' ? (take('rescaleActsByDecoderNorm') ?? false) : false,
    ...(centerResidual !== undefined ? { centerResidual } : {}),
    missing,
    assumed: [...new Set(assumed)],
    warnings,
  };
  for (const [source, keys] of guesses) {
    warnings.push(`Not stated by any config, so taken from ${source}: ${keys.join(', ')}. Check these settings.`);
  }
  const modelName = resolve(layers, 'modelName').value;
  const contextSize = resolve(layers, 'contextSize').value;
  if (modelName !== undefined) spec.modelName = modelName;
  if (contextSize !== undefined) spec.contextSize = contextSize;
  return spec;
}
