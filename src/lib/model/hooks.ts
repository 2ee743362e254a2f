/**
 * TransformerLens hook names: what each hook point is, how wide it is, and how the module names used
 * by other libraries (sparsify's `h.6`, Gemma Scope's `model.layers.6.output`) translate to them.
 */
import type { ModelDims } from './gpt2-config.ts';

export interface HookSite {
  /** The part after `blocks.L.`, e.g. 'hook_resid_pre' or 'attn.hook_z'. */
  site: string;
  /** Width of one token's activation at this hook. */
  width: (dims: ModelDims, headIndex: number | null | undefined) => number;
  /**
   * Whether the activation is a sum of the residual stream's writes, which TransformerLens's
   * `center_writing_weights` centres (so an SAE trained on it expects mean-free input).
   */
  residualWrite: boolean;
  description: string;
}

const heads = (dims: ModelDims, headIndex: number | null | undefined) =>
  headIndex === null || headIndex === undefined ? dims.nHeads * dims.dHead : dims.dHead;

/** Hook sites inside a block, by the name after `blocks.L.`. */
export const HOOK_SITES: readonly HookSite[] = [
  { site: 'hook_resid_pre', width: (d) => d.dModel, residualWrite: true, description: 'residual stream entering the block' },
  { site: 'hook_resid_mid', width: (d) => d.dModel, residualWrite: true, description: 'residual stream after attention' },
  { site: 'hook_resid_post', width: (d) => d.dModel, residualWrite: true, description: 'residual stream leaving the block' },
  { site: 'hook_attn_out', width: (d) => d.dModel, residualWrite: true, description: 'attention output' },
  { site: 'hook_mlp_out', width: (d) => d.dModel, residualWrite: true, description: 'MLP output' },
  { site: 'mlp.hook_pre', width: (d) => d.dMlp, residualWrite: false, description: 'MLP hidden layer before the activation function' },
  { site: 'mlp.hook_post', width: (d) => d.dMlp, residualWrite: false, description: 'MLP hidden layer after the activation function' },
  { site: 'attn.hook_z', width: heads, residualWrite: false, description: 'attention heads’ outputs before W_O (heads × d_head)' },
  { site: 'attn.hook_q', width: heads, residualWrite: false, description: 'attention queries' },
  { site: 'attn.hook_k', width: heads, residualWrite: false, description: 'attention keys' },
  { site: 'attn.hook_v', width: heads, residualWrite: false, description: 'attention values' },
];

const SITE_BY_NAME = new Map(HOOK_SITES.map((s) => [s.site, s]));

export interface ParsedHook {
  layer: number;
  site: HookSite;
}

/** Parses `blocks.L.<site>`; undefined when the name is not a block hook we know. */
export function parseHookName(name: string): ParsedHook | undefined {
  const match = /^blocks\.(\d+)\.(.+)$/.exec(name.trim());
  if (!match) return undefined;
  const site = SITE_BY_NAME.get(match[2]!);
  return site ? { layer: Number(match[1]), site } : undefined;
}

export const hookName = (layer: number, site: string) => `blocks.${layer}.${site}`;

/**
 * Module names of Hugging Face models and of sparsify/Gemma Scope configs, and the TransformerLens hook
 * they correspond to. A module's output is its hook; `h.6` (GPT-2) and `layers.6` (Llama, Gemma, Pythia's
 * `gpt_neox.layers.6`) are whole blocks, so their output is `resid_post(6)`.
 */
const MODULE_HOOKS: readonly { pattern: RegExp; site: string }[] = [
  { pattern: /^(?:.*\.)?(?:h|layers)\.(\d+)(?:\.output)?$/, site: 'hook_resid_post' },
  { pattern: /^(?:.*\.)?(?:h|layers)\.(\d+)\.(?:mlp|post_feedforward_layernorm)(?:\.output)?$/, site: 'hook_mlp_out' },
  { pattern: /^(?:.*\.)?(?:h|layers)\.(\d+)\.(?:attn|self_attn|attention|post_attention_layernorm)(?:\.output)?$/, site: 'hook_attn_out' },
  { pattern: /^(?:.*\.)?(?:h|layers)\.(\d+)\.mlp\.(?:act|act_fn)(?:\.output)?$/, site: 'mlp.hook_post' },
  { pattern: /^(?:.*\.)?(?:h|layers)\.(\d+)\.(?:attn\.c_proj|self_attn\.o_proj)\.input$/, site: 'attn.hook_z' },
];

/** Translates a module name such as `h.6`, `layers.6.mlp` or `model.layers.6.output`; undefined if unknown. */
export function hookFromModuleName(module: string): string | undefined {
  for (const { pattern, site } of MODULE_HOOKS) {
    const match = pattern.exec(module.trim());
    if (match) return hookName(Number(match[1]), site);
  }
  return undefined;
}

/** The hook points of a model whose width equals `dIn` (the presets worth offering when the hook is unknown). */
export function hookSitesForWidth(dIn: number, dims: ModelDims): HookSite[] {
  return HOOK_SITES.filter((site) => site.width(dims, null) === dIn || (site.site.startsWith('attn.') && dims.dHead === dIn));
}
