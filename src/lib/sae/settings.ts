/**
 * What the UI shows about an SAE and what the user may change after detection; and the key that
 * tells two encodings of the same weights apart.
 */
import { AppError } from '../errors.ts';
import { parseHookName } from '../model/index.ts';
import { FORMAT_RULES } from './spec.ts';
import type { SaeArchitecture, SaeSpec } from './types.ts';

const ARCHITECTURE_LABELS: Record<SaeArchitecture, string> = { relu: 'ReLU (standard)', jumprelu: 'JumpReLU', topk: 'TopK', gated: 'Gated' };
const NORMALIZATION_LABELS: Record<SaeSpec['normalizeActivations'], string> = {
  none: 'none',
  layer_norm: 'layer norm',
  constant_norm_rescale: 'rescale to norm √d_in',
  expected_average_only_in: 'constant scale',
};

export interface SaeSummary {
  /** One line, e.g. "SAELens TopK k=8 · 128 features · blocks.2.hook_resid_post". */
  title: string;
  rows: { label: string; value: string }[];
}

/** What to show about an SAE before the user commits to it. */
export function summarizeSae(spec: SaeSpec): SaeSummary {
  const architecture = ARCHITECTURE_LABELS[spec.architecture] + (spec.architecture === 'topk' ? ` (k = ${spec.k ?? '?'})` : '');
  const hook = spec.hookName ?? 'not set';
  const normalization =
    NORMALIZATION_LABELS[spec.normalizeActivations] +
    (spec.normalizeActivations === 'expected_average_only_in' ? (spec.normalizationScale !== undefined ? ` × ${spec.normalizationScale.toPrecision(4)}` : ' (to be estimated)') : '');
  const rows = [
    { label: 'Format', value: FORMAT_RULES[spec.format].label },
    { label: 'Architecture', value: architecture },
    { label: 'd_in', value: String(spec.dIn) },
    { label: 'Width', value: `${spec.width} features` },
    { label: 'Hook point', value: hook + (spec.hookHeadIndex !== null && spec.hookHeadIndex !== undefined ? ` (head ${spec.hookHeadIndex})` : '') },
    { label: 'Input normalization', value: normalization },
    { label: 'dtype', value: spec.dtype },
    { label: 'Size', value: `${(spec.bytes / 1e6).toFixed(spec.bytes < 1e7 ? 2 : 1)} MB` },
  ];
  if (spec.modelName) rows.push({ label: 'Trained on', value: spec.modelName });
  const k = spec.architecture === 'topk' ? ` k=${spec.k ?? '?'}` : '';
  return { title: `${FORMAT_RULES[spec.format].label} ${ARCHITECTURE_LABELS[spec.architecture].replace(' (standard)', '')}${k} · ${spec.width} features · ${hook}`, rows };
}

/** Settings the user may change after detection. */
export type SaeSettingsPatch = Partial<
  Pick<
    SaeSpec,
    'architecture' | 'k' | 'hookName' | 'hookHeadIndex' | 'normalizeActivations' | 'normalizationScale' | 'applyBDecToInput' | 'prependBos' | 'rescaleActsByDecoderNorm' | 'centerResidual' | 'encoderPrecision'
  >
>;

/** What must still be set before encoding: the same rules as detection. */
function missingSettings(spec: SaeSpec): string[] {
  const missing: string[] = [];
  if (spec.architecture === 'topk' && spec.k === undefined) missing.push('k');
  if (spec.hookName === undefined) missing.push('hookName');
  if (spec.centerResidual === undefined) missing.push('centerResidual');
  return missing;
}

/**
 * The spec with the user's choices applied: checked (k, hook name), `missing` recomputed, the changed
 * fields no longer `assumed`. Whether the weights support a changed architecture is checked by loadSaeWeights.
 */
export function applySaeSettings(spec: SaeSpec, patch: SaeSettingsPatch): SaeSpec {
  const next: SaeSpec = { ...spec, ...patch, warnings: [...spec.warnings] };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete (next as unknown as Record<string, unknown>)[key];
  }
  if (next.architecture === 'topk' && next.k !== undefined && (!Number.isInteger(next.k) || next.k < 1 || next.k > next.width)) {
    throw new AppError('sae/bad-config', `k must be a whole number from 1 to ${next.width} (the number of features); it is ${next.k}.`);
  }
  if (next.hookName !== undefined && !parseHookName(next.hookName)) {
    throw new AppError('sae/unknown-hook', `"${next.hookName}" is not a hook point we can read. Use a TransformerLens name such as blocks.6.hook_resid_pre.`);
  }
  if (next.normalizeActivations !== 'expected_average_only_in') delete next.normalizationScale;
  next.missing = missingSettings(next);
  next.assumed = spec.assumed.filter((key) => !(key in patch));
  return next;
}

/**
 * Everything in a spec that changes what the encoder outputs for the same weights, as one stable
 * string: two caches (or two halves of one resumed cache) agree only if their keys are equal.
 */
export function encodingKey(spec: SaeSpec): string {
  const { architecture, k, hookName, hookHeadIndex, normalizeActivations, normalizationScale, applyBDecToInput, prependBos, rescaleActsByDecoderNorm, centerResidual, encoderPrecision } = spec;
  return JSON.stringify({
    architecture, k: k ?? null, hookName: hookName ?? null, hookHeadIndex: hookHeadIndex ?? null, normalizeActivations, normalizationScale: normalizationScale ?? null, applyBDecToInput, prependBos, rescaleActsByDecoderNorm, centerResidual: centerResidual ?? null,
    // Only when set, so that the keys of caches made before the setting existed stay the same.
    ...(encoderPrecision ? { encoderPrecision } : {}),
  });
}
