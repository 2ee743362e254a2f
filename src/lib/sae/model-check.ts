/**
 * Whether an SAE can read a model: its hook point exists in the model and has the SAE's width; and
 * whether it was trained on this model at all (the name its config gives against the repo loaded).
 */
import { AppError } from '../errors.ts';
import { HOOK_SITES, hookSitesForWidth, parseHookName, type ModelDims } from '../model/index.ts';
import type { SaeSpec } from './types.ts';

const describeDims = (d: ModelDims) =>
  `d_model ${d.dModel}, d_mlp ${d.dMlp}, ${d.nHeads} heads × d_head ${d.dHead}, ${d.nLayers} layers`;

/**
 * Checks that the SAE can read the model's hook point: a known hook name, a layer the model has, and a
 * d_in equal to the hook's width. With no hook name yet, checks that some hook point has width d_in.
 * Throws AppError `sae/unknown-hook`, `sae/layer-out-of-range` or `sae/mismatch`. `modelRepo`, the model
 * loaded, keeps the message from naming the config's model when that is the same one.
 */
export function checkSaeAgainstModel(spec: Pick<SaeSpec, 'dIn' | 'hookName' | 'hookHeadIndex' | 'modelName'>, dims: ModelDims, modelRepo?: string): void {
  try {
    checkShapes(spec, dims);
  } catch (error) {
    // Say what it was trained on when the config tells and names another model: that is the fix.
    const otherModel = spec.modelName && (!modelRepo || canonicalModelName(spec.modelName) !== canonicalModelName(modelRepo));
    if (error instanceof AppError && otherModel) throw new AppError(error.code, `${error.message} (Its config says it was trained on ${spec.modelName}.)`);
    throw error;
  }
}

/** Names of the same model across TransformerLens, the hub and ONNX export repos. */
const MODEL_ALIASES: Record<string, string> = { 'gpt2-small': 'gpt2' };

/** A model name reduced to compare: lower case, no owner (`Xenova/gpt2` -> `gpt2`), no export suffix, aliases resolved. */
export function canonicalModelName(name: string): string {
  const lower = name.trim().toLowerCase();
  const alias = MODEL_ALIASES[lower];
  if (alias) return alias;
  const bare = lower.slice(lower.lastIndexOf('/') + 1).replace(/[-_](onnx|web|webgpu)$/, '');
  return MODEL_ALIASES[bare] ?? bare;
}

/**
 * A warning when the SAE's config names another model than the one loaded (its sizes may still match,
 * as for two GPT-2 checkpoints of the same size); undefined when they agree or the config names none.
 */
export function modelNameWarning(modelName: string | undefined, repo: string): string | undefined {
  if (!modelName || canonicalModelName(modelName) === canonicalModelName(repo)) return undefined;
  return `This SAE was trained on ${modelName}, and the model loaded is ${repo}. Their sizes match, so it will run, but its features are only meaningful on the model it was trained on.`;
}

function checkShapes(spec: Pick<SaeSpec, 'dIn' | 'hookName' | 'hookHeadIndex'>, dims: ModelDims): void {
  if (spec.hookName === undefined) {
    if (hookSitesForWidth(spec.dIn, dims).length === 0) {
      throw new AppError(
        'sae/mismatch',
        `The SAE reads vectors of ${spec.dIn} numbers, but no hook point of this model has that width (${describeDims(dims)}). ` +
          'It was trained on another model: load the model it was trained on, or pick an SAE for this one.',
      );
    }
    return;
  }
  const parsed = parseHookName(spec.hookName);
  if (!parsed) {
    throw new AppError(
      'sae/unknown-hook',
      `"${spec.hookName}" is not a hook point we can read. Use a TransformerLens name blocks.L.<site> with <site> one of: ${HOOK_SITES.map((s) => s.site).join(', ')}.`,
    );
  }
  if (parsed.layer >= dims.nLayers) {
    throw new AppError(
      'sae/layer-out-of-range',
      `The SAE reads ${spec.hookName}, but the model has only ${dims.nLayers} layers (0 to ${dims.nLayers - 1}). ` +
        'It was trained on a deeper model, or the hook point is wrong: choose the model it was trained on or correct the layer.',
    );
  }
  const headIndex = spec.hookHeadIndex;
  if (headIndex !== null && headIndex !== undefined && (!Number.isInteger(headIndex) || headIndex < 0 || headIndex >= dims.nHeads)) {
    throw new AppError('sae/layer-out-of-range', `The SAE reads head ${headIndex} of ${spec.hookName}, but the model has heads 0 to ${dims.nHeads - 1}.`);
  }
  const width = parsed.site.width(dims, headIndex);
  if (width !== spec.dIn) {
    const fits = hookSitesForWidth(spec.dIn, dims).map((s) => s.site);
    throw new AppError(
      'sae/mismatch',
      `The SAE reads vectors of ${spec.dIn} numbers, but ${spec.hookName} has ${width} in this model (${describeDims(dims)}). ` +
        (fits.length > 0
          ? `Hook points of width ${spec.dIn}: ${fits.join(', ')}; choose one of those, or the model the SAE was trained on.`
          : 'No hook point of this model has that width: the SAE was trained on another model.'),
    );
  }
}
