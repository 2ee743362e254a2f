import { describe, expect, it } from 'vitest';
import { TINY_GPT2 } from '../../../scripts/fixtures/saes.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { encodeSafetensors, type TensorToWrite } from '../../../src/lib/formats/index.ts';
import { metadataAsConfig } from '../../../src/lib/index.ts';
import { openAiPathInfo } from '../../../src/lib/index.ts';
import {
  applySaeSettings,
  checkSaeAgainstModel,
  detectSaes,
  hookFromModuleName,
  hookSitesForWidth,
  loadSaeWeights,
  parseHookName,
  parseSaeConfig,
  type SaeInputFile,
  type SaeSpec,
} from '../../../src/lib/index.ts';

const blobOf = (bytes: Uint8Array | string) => new Blob([bytes as BlobPart]);
const f32 = (shape: number[], fill = 0): TensorToWrite => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill) });

/** SAELens-named tensors of the given sizes; `extra` adds or replaces tensors, null removes one. */
function saeLens(dIn: number, width: number, extra: Record<string, TensorToWrite | null> = {}): Uint8Array {
  const tensors: Record<string, TensorToWrite | null> = { W_enc: f32([dIn, width]), b_enc: f32([width]), W_dec: f32([width, dIn]), b_dec: f32([dIn]), ...extra };
  return encodeSafetensors(Object.fromEntries(Object.entries(tensors).filter((e): e is [string, TensorToWrite] => e[1] !== null)));
}

async function specOf(files: Record<string, Uint8Array | string | object>): Promise<SaeSpec> {
  const input: SaeInputFile[] = Object.entries(files).map(([path, content]) => ({
    path,
    blob: blobOf(content instanceof Uint8Array || typeof content === 'string' ? content : JSON.stringify(content)),
  }));
  const { candidates } = await detectSaes(input);
  expect(candidates).toHaveLength(1);
  return candidates[0]!.spec;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return errorCode(error);
  }
}

describe('parseSaeConfig', () => {
  it('reads a SAELens 6 cfg with nested metadata', () => {
    const parsed = parseSaeConfig(
      {
        architecture: 'topk',
        d_in: 768,
        d_sae: 32768,
        k: 32,
        rescale_acts_by_decoder_norm: true,
        apply_b_dec_to_input: false,
        normalize_activations: 'layer_norm',
        reshape_activations: 'none',
        metadata: {
          sae_lens_version: '6.3.0',
          model_name: 'gpt2',
          hook_name: 'blocks.8.hook_resid_post',
          hook_head_index: null,
          prepend_bos: false,
          context_size: 64,
          model_from_pretrained_kwargs: { center_writing_weights: true },
        },
      },
      'cfg.json',
    );
    expect(parsed).toMatchObject({
      kind: 'saelens-v6',
      architecture: 'topk',
      k: 32,
      dIn: 768,
      width: 32768,
      rescaleActsByDecoderNorm: true,
      applyBDecToInput: false,
      normalizeActivations: 'layer_norm',
      hookName: 'blocks.8.hook_resid_post',
      hookHeadIndex: null,
      prependBos: false,
      contextSize: 64,
      modelName: 'gpt2',
      centerResidual: true,
      hasModelKwargs: true,
      saeLensVersion: '6.3.0',
    });
  });

  it('reads a flat pre-6 cfg: hook_point, activation_fn_str topk with kwargs.k, normalize true', () => {
    const parsed = parseSaeConfig(
      {
        model_name: 'gpt2-small',
        hook_point: 'blocks.4.hook_resid_pre',
        hook_point_head_index: null,
        d_in: 768,
        d_sae: 24576,
        activation_fn_str: 'topk',
        activation_fn_kwargs: { k: 16 },
        normalize_activations: true,
      },
      'cfg.json',
    );
    expect(parsed).toMatchObject({ kind: 'saelens-legacy', architecture: 'topk', k: 16, hookName: 'blocks.4.hook_resid_pre', normalizeActivations: 'expected_average_only_in', hasModelKwargs: false });
    expect(parsed!.applyBDecToInput).toBeUndefined();
    expect(parsed!.prependBos).toBeUndefined();
    expect(parseSaeConfig({ hook_name: 'blocks.0.hook_mlp_out', normalize_activations: false }, 'cfg.json')!.normalizeActivations).toBe('none');
    expect(parseSaeConfig({ hook_name: 'blocks.0.hook_mlp_out', activation_fn: 'relu', architecture: 'standard' }, 'cfg.json')!.architecture).toBe('relu');
  });

  it('rejects what it cannot run, naming the value and the choices', () => {
    const attempt = (cfg: Record<string, unknown>) => {
      try {
        parseSaeConfig(cfg, 'x/cfg.json');
      } catch (error) {
        return [errorCode(error), (error as Error).message];
      }
      return ['parsed'];
    };
    expect(attempt({ hook_name: 'blocks.0.hook_resid_pre', normalize_activations: 'zscore' })).toEqual([
      'sae/bad-config',
      expect.stringMatching(/x\/cfg\.json has normalize_activations "zscore"; expected one of none, expected_average_only_in, constant_norm_rescale, layer_norm/),
    ]);
    expect(attempt({ hook_name: 'blocks.0.hook_resid_pre', activation_fn: 'tanh-relu' })[0]).toBe('sae/unsupported-architecture');
    expect(attempt({ architecture: 'jumprelu_skip_transcoder', metadata: {} })[0]).toBe('sae/unsupported-architecture');
    expect(attempt({ expansion_factor: 32, k: 32, activation: 'groupmax' })[0]).toBe('sae/unsupported-architecture');
    expect(attempt({ hook_name: 'blocks.0.hook_resid_pre', d_sae: 'wide' })[0]).toBe('sae/bad-config');
  });

  it('reads sparsify cfg.json and run config.json', () => {
    expect(parseSaeConfig({ expansion_factor: 32, normalize_decoder: true, num_latents: 0, k: 192, multi_topk: false, skip_connection: false, d_in: 768 }, 'h.6/cfg.json')).toMatchObject({
      kind: 'sparsify',
      architecture: 'topk',
      k: 192,
      dIn: 768,
      expansionFactor: 32,
    });
    expect(parseSaeConfig({ expansion_factor: 32, normalize_decoder: true, num_latents: 0, k: 192 }, 'c')!.width).toBeUndefined();
    expect(parseSaeConfig({ num_latents: 4096, k: 64 }, 'c')).toMatchObject({ width: 4096, k: 64 });
    expect(parseSaeConfig({ sae: { expansion_factor: 8, k: 16 }, model: 'EleutherAI/pythia-70m', hookpoints: ['layers.1'] }, 'config.json')).toMatchObject({
      kind: 'sparsify-run',
      k: 16,
      modelName: 'EleutherAI/pythia-70m',
    });
  });

  it('reads a Gemma Scope 2 config.json, translating hf_hook_point_in', () => {
    const parsed = parseSaeConfig(
      { hf_hook_point_in: 'model.layers.10.output', hf_hook_point_out: 'model.layers.10.output', width: 16384, model_name: 'google/gemma-3-1b-pt', architecture: 'jump_relu', l0: 60, affine_connection: false, type: 'sae' },
      'config.json',
    );
    expect(parsed).toMatchObject({ kind: 'gemmascope', architecture: 'jumprelu', width: 16384, hookName: 'blocks.10.hook_resid_post', modelName: 'google/gemma-3-1b-pt', warnings: [] });
    const transcoder = parseSaeConfig({ hf_hook_point_in: 'model.layers.5.pre_feedforward_layernorm.output', hf_hook_point_out: 'model.layers.5.post_feedforward_layernorm.output', width: 16384, type: 'transcoder' }, 'config.json');
    expect(transcoder!.hookName).toBeUndefined();
    expect(transcoder!.warnings.join(' ')).toMatch(/no TransformerLens name.*transcoder/s);
  });

  it('reads OpenAI settings, also from safetensors __metadata__ strings', () => {
    expect(parseSaeConfig({ n_latents: 32768, n_inputs: 768, activation: 'TopK', k: 32, normalize: true }, 'c')).toMatchObject({
      kind: 'openai',
      architecture: 'topk',
      k: 32,
      width: 32768,
      dIn: 768,
      normalizeActivations: 'layer_norm',
    });
    const fromMetadata = metadataAsConfig({ format: 'pt', activation: 'ReLU', normalize: 'False', version: 'v4' });
    expect(parseSaeConfig(fromMetadata, 'm')).toMatchObject({ kind: 'openai', architecture: 'relu', normalizeActivations: 'none', openaiVersion: 'v4' });
    expect(parseSaeConfig(metadataAsConfig({ format: 'pt' }), 'm')).toBeUndefined();
  });

  it('returns undefined for JSON that is no SAE config', () => {
    expect(parseSaeConfig({ vocab_size: 50257, n_embd: 768 }, 'config.json')).toBeUndefined();
  });
});

describe('building the spec', () => {
  it('a SAELens file alone: defaults are assumed, hook point and centring are missing', async () => {
    const spec = await specOf({ 'sae_weights.safetensors': saeLens(64, 96) });
    expect(spec).toMatchObject({ format: 'saelens', architecture: 'relu', applyBDecToInput: true, prependBos: true, normalizeActivations: 'none' });
    expect(spec.missing).toEqual(['hookName', 'centerResidual']);
    expect(spec.assumed).toEqual(expect.arrayContaining(['architecture', 'applyBDecToInput', 'prependBos', 'normalizeActivations']));
    expect(spec.warnings.join(' ')).toMatch(/taken from SAELens defaults: .*architecture/);
  });

  it('a jbloom-style folder name gives the hook point (as an assumption)', async () => {
    const spec = await specOf({ 'blocks.3.hook_resid_pre/sae_weights.safetensors': saeLens(64, 96) });
    expect(spec.hookName).toBe('blocks.3.hook_resid_pre');
    expect(spec.assumed).toContain('hookName');
  });

  it('an old flat cfg without model_from_pretrained_kwargs (gpt2-small-res-jb): centred residual, assumed', async () => {
    const spec = await specOf({
      'sae_weights.safetensors': saeLens(64, 96),
      'cfg.json': { model_name: 'gpt2-small', hook_point: 'blocks.2.hook_resid_pre', hook_point_layer: 2, d_in: 64, d_sae: 96, context_size: 128, expansion_factor: 32, b_dec_init_method: 'geometric_median' },
    });
    expect(spec).toMatchObject({ hookName: 'blocks.2.hook_resid_pre', centerResidual: true, prependBos: true, applyBDecToInput: true, contextSize: 128, modelName: 'gpt2-small' });
    expect(spec.assumed).toEqual(['centerResidual']);
    expect(spec.missing).toEqual([]);
    expect(spec.warnings.join(' ')).toMatch(/centred writing weights/);
  });

  it('batchtopk is jumprelu when saved with a threshold, topk otherwise', async () => {
    const cfg = { architecture: 'batchtopk', k: 12.5, d_in: 64, d_sae: 96, metadata: { hook_name: 'blocks.0.hook_resid_pre' } };
    expect((await specOf({ 's.safetensors': saeLens(64, 96, { threshold: f32([96]) }), 'cfg.json': cfg })).architecture).toBe('jumprelu');
    const topk = await specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { ...cfg, k: 12 } });
    expect(topk).toMatchObject({ architecture: 'topk', k: 12 });
  });

  it('a cfg that contradicts the weights is sae/config-mismatch', async () => {
    const hook = { hook_name: 'blocks.0.hook_resid_pre' };
    expect(await codeOf(specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { ...hook, architecture: 'jumprelu' } }))).toBe('sae/config-mismatch');
    expect(await codeOf(specOf({ 's.safetensors': saeLens(64, 96, { threshold: f32([96]) }), 'cfg.json': { ...hook, architecture: 'topk', k: 4 } }))).toBe('sae/config-mismatch');
    expect(await codeOf(specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { ...hook, d_in: 768 } }))).toBe('sae/config-mismatch');
    expect(await codeOf(specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { ...hook, activation_fn: 'topk', activation_fn_kwargs: { k: 200 } } }))).toBe('sae/config-mismatch');
    expect(await codeOf(specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { ...hook, activation_fn: 'topk', activation_fn_kwargs: { k: 2.5 } } }))).toBe('sae/bad-config');
  });

  it('a topk cfg without k leaves k missing', async () => {
    const spec = await specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { hook_name: 'blocks.0.hook_resid_pre', activation_fn: 'topk' } });
    expect(spec.architecture).toBe('topk');
    expect(spec.k).toBeUndefined();
    expect(spec.missing).toContain('k');
  });

  it('log_threshold becomes threshold = exp(log_threshold)', async () => {
    const logThreshold = f32([4], Math.log(0.25));
    const files = [
      { path: 's.safetensors', blob: blobOf(saeLens(2, 4, { log_threshold: logThreshold })) },
      { path: 'cfg.json', blob: blobOf(JSON.stringify({ architecture: 'jumprelu', d_in: 2, d_sae: 4, metadata: { hook_name: 'blocks.0.hook_resid_pre' } })) },
    ];
    const { candidates } = await detectSaes(files);
    expect(candidates[0]!.layoutId).toBe('saelens-jumprelu-log');
    const weights = await loadSaeWeights(candidates[0]!, candidates[0]!.spec);
    for (const t of weights.threshold!) expect(t).toBeCloseTo(0.25, 6);
  });

  it('a known scale for expected_average_only_in is kept', async () => {
    const spec = await specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { hook_name: 'blocks.0.hook_mlp_out', normalize_activations: 'expected_average_only_in', norm_scaling_factor: 2.5 } });
    expect(spec).toMatchObject({ normalizeActivations: 'expected_average_only_in', normalizationScale: 2.5 });
  });

  it('an unknown hook name is dropped with a warning; module names are translated', async () => {
    const unknown = await specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { hook_name: 'blocks.1.hook_foo' } });
    expect(unknown.hookName).toBeUndefined();
    expect(unknown.missing).toContain('hookName');
    expect(unknown.warnings.join(' ')).toMatch(/blocks\.1\.hook_foo/);
    const module = await specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { hook_name: 'transformer.h.1.mlp' } });
    expect(module.hookName).toBe('blocks.1.hook_mlp_out');
  });

  it('sparsify without cfg: k = 32 assumed, hook point from the folder name', async () => {
    const tensors = encodeSafetensors({ 'encoder.weight': f32([128, 64]), 'encoder.bias': f32([128]), W_dec: f32([128, 64]), b_dec: f32([64]) });
    const spec = await specOf({ 'layers.2/sae.safetensors': tensors });
    expect(spec).toMatchObject({ format: 'sparsify', architecture: 'topk', k: 32, hookName: 'blocks.2.hook_resid_post', prependBos: false, applyBDecToInput: true });
    expect(spec.assumed).toContain('k');
    expect(spec.assumed).not.toContain('hookName');
    expect(await codeOf(specOf({ 'h.2/sae.safetensors': tensors, 'h.2/cfg.json': { expansion_factor: 4, k: 8, d_in: 64 } }))).toBe('sae/config-mismatch');
    expect(await codeOf(specOf({ 'h.2/sae.safetensors': tensors, 'h.2/cfg.json': { expansion_factor: 2, k: 8, activation: 'groupmax' } }))).toBe('sae/unsupported-architecture');
  });

  it('OpenAI without any settings: v5 assumed (TopK 32, layer norm); v1/v4 paths give ReLU', async () => {
    const openai = (dIn: number, width: number) =>
      encodeSafetensors({ pre_bias: f32([dIn]), 'encoder.weight': f32([width, dIn]), latent_bias: f32([width]), 'decoder.weight': f32([dIn, width]) });
    const unknown = await specOf({ 'my-sae.safetensors': openai(64, 128) });
    expect(unknown).toMatchObject({ format: 'openai', architecture: 'topk', k: 32, normalizeActivations: 'layer_norm', applyBDecToInput: true, prependBos: false, centerResidual: false });
    expect(unknown.assumed).toEqual(expect.arrayContaining(['architecture', 'k', 'normalizeActivations']));
    expect(unknown.missing).toEqual(['hookName']);

    const v1 = await specOf({ 'mlp_post_act/autoencoders/5.safetensors': openai(256, 128) });
    expect(v1).toMatchObject({ architecture: 'relu', normalizeActivations: 'none', hookName: 'blocks.5.mlp.hook_post', assumed: [] });
    const v4 = await specOf({ 'resid_delta_attn_v4/autoencoders/2.safetensors': openai(64, 128) });
    expect(v4).toMatchObject({ architecture: 'relu', hookName: 'blocks.2.hook_attn_out' });
  });

  it('reads OpenAI blob paths', () => {
    expect(openAiPathInfo('resid_post_attn_v5_128k/autoencoders/11.safetensors')).toEqual({ version: 'v5', hookName: 'blocks.11.hook_resid_mid' });
    expect(openAiPathInfo('resid_delta_mlp/autoencoders/0.safetensors')).toEqual({ version: 'v1', hookName: 'blocks.0.hook_mlp_out' });
    expect(openAiPathInfo('v5_32k_resid_delta_mlp_layer_3.safetensors')).toEqual({ version: 'v5', hookName: 'blocks.3.hook_mlp_out' });
    expect(openAiPathInfo('sae.safetensors')).toEqual({});
  });

  it('Gemma Scope params.safetensors without config: jumprelu, no b_dec subtraction, hook point missing', async () => {
    const spec = await specOf({ 'params.safetensors': saeLens(64, 96, { threshold: f32([96]) }) });
    expect(spec).toMatchObject({ format: 'gemmascope', architecture: 'jumprelu', applyBDecToInput: false });
    expect(spec.missing).toEqual(['hookName']);
    expect(spec.assumed).toContain('applyBDecToInput');
  });

  it('SAELens jumprelu with a v6 cfg stays SAELens even in a file named params.safetensors', async () => {
    const spec = await specOf({ 'params.safetensors': saeLens(64, 96, { threshold: f32([96]) }), 'cfg.json': { architecture: 'jumprelu', d_in: 64, d_sae: 96, metadata: { hook_name: 'blocks.0.hook_resid_post' } } });
    expect(spec).toMatchObject({ format: 'saelens', applyBDecToInput: true });
  });

  it('gated without b_enc; a dictionary_learning file is recognized but unsupported', async () => {
    const gated = saeLens(64, 96, { b_enc: null, b_gate: f32([96]), b_mag: f32([96]), r_mag: f32([96]) });
    expect((await specOf({ 's.safetensors': gated })).architecture).toBe('gated');
    const dl = encodeSafetensors({ 'encoder.weight': f32([96, 64]), 'encoder.bias': f32([96]), 'decoder.weight': f32([64, 96]), 'decoder.bias': f32([64]) });
    await expect(detectSaes([{ path: 'ae.safetensors', blob: blobOf(dl) }])).rejects.toMatchObject({ code: 'sae/unknown-layout', message: expect.stringMatching(/dictionary_learning/) });
  });
});

describe('applySaeSettings', () => {
  it('fills what is missing, clears assumptions the user confirmed, checks k and the hook name', async () => {
    const spec = await specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { activation_fn: 'topk', d_in: 64, model_from_pretrained_kwargs: {} } });
    expect(spec.missing).toEqual(['k', 'hookName', 'centerResidual']);
    const set = applySaeSettings(spec, { k: 8, hookName: 'blocks.0.hook_resid_pre', centerResidual: false });
    expect(set).toMatchObject({ k: 8, hookName: 'blocks.0.hook_resid_pre', centerResidual: false, missing: [] });
    expect(spec.missing).toHaveLength(3);

    const bare = await specOf({ 's.safetensors': saeLens(64, 96) });
    expect(applySaeSettings(bare, { prependBos: false }).assumed).not.toContain('prependBos');
    expect(applySaeSettings(bare, { architecture: 'topk' }).missing).toContain('k');
    expect(applySaeSettings(applySaeSettings(set, { hookName: undefined }), {}).missing).toEqual(['hookName']);

    const codeOfSync = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        return errorCode(error);
      }
    };
    expect(codeOfSync(() => applySaeSettings(spec, { k: 97 }))).toBe('sae/bad-config');
    expect(codeOfSync(() => applySaeSettings(spec, { hookName: 'layer 3' }))).toBe('sae/unknown-hook');
  });
});

describe('hook points', () => {
  it('parses TransformerLens names', () => {
    expect(parseHookName('blocks.11.attn.hook_z')).toMatchObject({ layer: 11, site: { site: 'attn.hook_z' } });
    expect(parseHookName('blocks.0.hook_resid_pre')!.site.residualWrite).toBe(true);
    expect(parseHookName('blocks.x.hook_resid_pre')).toBeUndefined();
    expect(parseHookName('hook_embed')).toBeUndefined();
  });

  it.each([
    ['h.6', 'blocks.6.hook_resid_post'],
    ['layers.6', 'blocks.6.hook_resid_post'],
    ['gpt_neox.layers.6', 'blocks.6.hook_resid_post'],
    ['model.layers.6.output', 'blocks.6.hook_resid_post'],
    ['transformer.h.6', 'blocks.6.hook_resid_post'],
    ['h.6.mlp', 'blocks.6.hook_mlp_out'],
    ['layers.6.self_attn', 'blocks.6.hook_attn_out'],
    ['h.6.mlp.act', 'blocks.6.mlp.hook_post'],
    ['transformer.h.3.attn.c_proj.input', 'blocks.3.attn.hook_z'],
    ['embed_tokens', undefined],
  ])('module %s is %s', (module, hook) => {
    expect(hookFromModuleName(module)).toBe(hook);
  });

  it('checkSaeAgainstModel accepts hooks of the right width', () => {
    const ok = (spec: Pick<SaeSpec, 'dIn' | 'hookName' | 'hookHeadIndex'>) => () => checkSaeAgainstModel(spec, TINY_GPT2);
    expect(ok({ dIn: 64, hookName: 'blocks.2.attn.hook_z', hookHeadIndex: null })).not.toThrow();
    expect(ok({ dIn: 16, hookName: 'blocks.2.attn.hook_z', hookHeadIndex: 3 })).not.toThrow();
    expect(ok({ dIn: 256, hookName: 'blocks.0.mlp.hook_post' })).not.toThrow();
    expect(ok({ dIn: 64 })).not.toThrow();
  });

  it.each([
    [{ dIn: 64, hookName: 'blocks.0.mlp.hook_post' }, 'sae/mismatch', /blocks\.0\.mlp\.hook_post has 256.*Hook points of width 64: hook_resid_pre/],
    [{ dIn: 48 }, 'sae/mismatch', /no hook point of this model has that width/],
    [{ dIn: 64, hookName: 'blocks.3.hook_resid_post' }, 'sae/layer-out-of-range', /only 3 layers/],
    [{ dIn: 16, hookName: 'blocks.0.attn.hook_z', hookHeadIndex: 4 }, 'sae/layer-out-of-range', /heads 0 to 3/],
    [{ dIn: 64, hookName: 'blocks.0.hook_foo' }, 'sae/unknown-hook', /hook_resid_pre, hook_resid_mid/],
  ])('checkSaeAgainstModel(%j) throws %s', (spec, code, message) => {
    try {
      checkSaeAgainstModel(spec as Pick<SaeSpec, 'dIn' | 'hookName' | 'hookHeadIndex'>, TINY_GPT2);
      expect.unreachable();
    } catch (error) {
      expect(errorCode(error)).toBe(code);
      expect((error as Error).message).toMatch(message);
    }
  });

  it('lists the hook points a width fits', () => {
    expect(hookSitesForWidth(256, TINY_GPT2).map((s) => s.site)).toEqual(['mlp.hook_pre', 'mlp.hook_post']);
    expect(hookSitesForWidth(16, TINY_GPT2).map((s) => s.site)).toEqual(['attn.hook_z', 'attn.hook_q', 'attn.hook_k', 'attn.hook_v']);
  });
});

describe('numeric settings that are present but wrong are refused, naming the file, the field and the value', () => {
  /** The error code and message parsing `cfg` gives, or 'parsed'. */
  const refusal = (cfg: Record<string, unknown>, source = 'x/cfg.json') => {
    try {
      parseSaeConfig(cfg, source);
    } catch (error) {
      return { code: errorCode(error), message: (error as Error).message };
    }
    return { code: 'parsed', message: '' };
  };
  const expectRefused = (cfg: Record<string, unknown>, field: string, value: unknown, rule: RegExp, source = 'x/cfg.json') => {
    const { code, message } = refusal(cfg, source);
    expect(code, JSON.stringify(cfg)).toBe('sae/bad-config');
    expect(message).toContain(`${source} has ${field} ${JSON.stringify(value)}; it must be`);
    expect(message).toMatch(rule);
  };
  const hook = { hook_name: 'blocks.0.hook_resid_pre' };
  const topkV6 = (k: unknown) => ({ architecture: 'topk', d_in: 64, d_sae: 96, k, metadata: { hook_name: 'blocks.0.hook_resid_pre' } });
  const bad = ['eight', 2.5, 0, -1, null, true, { value: 8 }];

  it.each(bad.map((v) => [JSON.stringify(v), v] as const))('SAELens topk k %s', (_label, k) => {
    expectRefused(topkV6(k), 'k', k, /a whole number of at least 1/);
  });

  it.each(bad.map((v) => [JSON.stringify(v), v] as const))('SAELens legacy activation_fn_kwargs.k %s', (_label, k) => {
    expectRefused({ hook_point: 'blocks.0.hook_resid_pre', activation_fn: 'topk', activation_fn_kwargs: { k } }, 'activation_fn_kwargs.k', k, /a whole number of at least 1/);
  });

  it.each(bad.map((v) => [JSON.stringify(v), v] as const))('sparsify cfg.json k %s', (_label, k) => {
    expectRefused({ expansion_factor: 2, normalize_decoder: true, num_latents: 0, k }, 'k', k, /a whole number of at least 1/, 'h.1/cfg.json');
  });

  it.each(bad.map((v) => [JSON.stringify(v), v] as const))('sparsify run config.json sae.k %s', (_label, k) => {
    expectRefused({ sae: { expansion_factor: 2, k }, model: 'tiny-gpt2', hookpoints: ['h.1'] }, 'k', k, /a whole number of at least 1/, 'config.json');
  });

  it.each(bad.map((v) => [JSON.stringify(v), v] as const))('OpenAI TopK k %s', (_label, k) => {
    expectRefused({ n_latents: 128, n_inputs: 64, activation: 'TopK', k }, 'k', k, /a whole number of at least 1/);
  });

  it('a k the architecture does not use may be null or fractional (batchtopk), but not text or below 1; optional settings may be null', () => {
    expect(parseSaeConfig({ architecture: 'standard', k: null, metadata: {} }, 'c')!.k).toBeUndefined();
    expect(parseSaeConfig({ architecture: 'batchtopk', k: 12.5, metadata: {} }, 'c')!.k).toBe(12.5);
    expect(parseSaeConfig({ n_latents: 128, activation: 'ReLU', k: null }, 'c')!.k).toBeUndefined();
    expectRefused({ architecture: 'batchtopk', k: 'eight', metadata: {} }, 'k', 'eight', /a number greater than 0/);
    expectRefused({ architecture: 'jumprelu', k: 0, metadata: {} }, 'k', 0, /a number greater than 0/);
    // Numbers saved as text (safetensors __metadata__ holds strings only) still count.
    expect(parseSaeConfig(metadataAsConfig({ activation: 'TopK', k: '16' }), 'm')!.k).toBe(16);
    // SAELens 6 saves unknown metadata as null; sizes left null are read from the weights.
    const parsed = parseSaeConfig({ architecture: 'standard', d_in: 64, d_sae: null, norm_scaling_factor: null, metadata: { ...hook, hook_head_index: null, context_size: null, hook_layer: null } }, 'c')!;
    expect(parsed).toMatchObject({ dIn: 64, hookHeadIndex: null });
    expect(parsed.width).toBeUndefined();
    expect(parsed.contextSize).toBeUndefined();
    expect(parsed.normalizationScale).toBeUndefined();
  });

  it('the report: cfg.json "k": "eight" stops detection instead of showing k = ? and encoding with another k', async () => {
    const files = { 'sae_weights.safetensors': saeLens(64, 96), 'cfg.json': topkV6('eight') };
    await expect(specOf(files)).rejects.toMatchObject({ code: 'sae/bad-config', message: expect.stringMatching(/^cfg\.json has k "eight"; it must be a whole number of at least 1/) });
    const sparsify = encodeSafetensors({ 'encoder.weight': f32([128, 64]), 'encoder.bias': f32([128]), W_dec: f32([128, 64]), b_dec: f32([64]) });
    const run = { sae: { expansion_factor: 2, k: 'eight' }, model: 'tiny-gpt2', hookpoints: ['h.1'], ctx_len: 128 };
    // The run config in the folder above is read for its k; a broken one is an error, not ignored (k = 32 by default).
    await expect(specOf({ 'run/config.json': run, 'run/h.1/sae.safetensors': sparsify })).rejects.toMatchObject({
      code: 'sae/bad-config',
      message: expect.stringMatching(/^run\/config\.json has k "eight"/),
    });
    // Other JSON files in folders above are still ignored.
    expect((await specOf({ 'run/tokenizer.json': { model: { vocab: {} } }, 'run/h.1/sae.safetensors': sparsify })).k).toBe(32);
  });

  it('a fractional k of a batchtopk SAE run as TopK is refused naming the config', async () => {
    const cfg = { architecture: 'batchtopk', k: 12.5, d_in: 64, d_sae: 96, metadata: { hook_name: 'blocks.0.hook_resid_pre' } };
    await expect(specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': cfg })).rejects.toMatchObject({ code: 'sae/bad-config', message: expect.stringMatching(/^cfg\.json has k 12\.5; a TopK SAE needs a whole number/) });
    await expect(specOf({ 's.safetensors': saeLens(64, 96), 'cfg.json': { ...cfg, k: 200 } })).rejects.toMatchObject({ code: 'sae/config-mismatch', message: expect.stringMatching(/^cfg\.json has k 200, but the SAE has only 96 features/) });
  });

  it.each([
    ['d_in', { ...hook, d_in: 0 }, 0, /whole number of at least 1/],
    ['d_in', { ...hook, d_in: -64 }, -64, /whole number of at least 1/],
    ['d_in', { ...hook, d_in: 63.5 }, 63.5, /whole number of at least 1/],
    ['d_in', { ...hook, d_in: 'sixty-four' }, 'sixty-four', /whole number of at least 1/],
    ['d_sae', { ...hook, d_sae: 0 }, 0, /whole number of at least 1/],
    ['hook_layer', { ...hook, hook_layer: 'zero' }, 'zero', /whole number \(0 or more\)/],
    ['hook_point_layer', { hook_point: 'blocks.0.hook_resid_pre', hook_point_layer: -1 }, -1, /whole number \(0 or more\)/],
    ['hook_layer', { ...hook, hook_layer: 1.5 }, 1.5, /whole number \(0 or more\)/],
    ['hook_head_index', { ...hook, hook_head_index: -2 }, -2, /whole number \(0 or more\)/],
    ['context_size', { ...hook, context_size: 0 }, 0, /whole number of at least 1/],
    ['context_size', { ...hook, context_size: 'long' }, 'long', /whole number of at least 1/],
    ['context_size', { architecture: 'standard', metadata: { ...hook, context_size: 128.5 } }, 128.5, /whole number of at least 1/],
    ['norm_scaling_factor', { ...hook, normalize_activations: 'expected_average_only_in', norm_scaling_factor: 'big' }, 'big', /a number greater than 0/],
    ['normalization_scale', { ...hook, normalize_activations: 'expected_average_only_in', normalization_scale: 0 }, 0, /a number greater than 0/],
    ['estimated_norm_scaling_factor', { ...hook, estimated_norm_scaling_factor: -3 }, -3, /a number greater than 0/],
  ])('SAELens %s: %j', (field, cfg, value, rule) => {
    expectRefused(cfg, field, value, rule);
  });

  it.each([
    ['expansion_factor', { expansion_factor: 'two', k: 8 }, 'two', /whole number of at least 1/],
    ['expansion_factor', { expansion_factor: 0, k: 8 }, 0, /whole number of at least 1/],
    ['expansion_factor', { expansion_factor: 2.5, k: 8 }, 2.5, /whole number of at least 1/],
    ['num_latents', { num_latents: -128, k: 8 }, -128, /whole number \(0 or more\)/],
    ['d_in', { num_latents: 128, k: 8, d_in: 0 }, 0, /whole number of at least 1/],
  ])('sparsify %s: %j', (field, cfg, value, rule) => {
    expectRefused(cfg, field, value, rule, 'h.1/cfg.json');
  });

  it.each([
    ['ctx_len', { sae: { k: 8 }, model: 'm', hookpoints: [], ctx_len: 0 }, 0, 'config.json'],
    ['width', { hf_hook_point_in: 'model.layers.1.output', width: 0 }, 0, 'config.json'],
    ['n_latents', { n_latents: 0, n_inputs: 64, activation: 'ReLU' }, 0, 'x/cfg.json'],
    ['n_inputs', { n_latents: 128, n_inputs: 'sixty-four', activation: 'ReLU' }, 'sixty-four', 'x/cfg.json'],
  ])('%s: %j', (field, cfg, value, source) => {
    expectRefused(cfg, field, value, /whole number of at least 1/, source);
  });

  it('a hook layer that disagrees with the hook name is a warning; the hook name wins', () => {
    const parsed = parseSaeConfig({ hook_point: 'blocks.2.hook_resid_pre', hook_point_layer: 3 }, 'x/cfg.json')!;
    expect(parsed.hookName).toBe('blocks.2.hook_resid_pre');
    expect(parsed.warnings.join(' ')).toMatch(/x\/cfg\.json has hook_point_layer 3, but its hook blocks\.2\.hook_resid_pre is in block 2/);
    expect(parseSaeConfig({ hook_point: 'blocks.2.hook_resid_pre', hook_point_layer: 2 }, 'c')!.warnings).toEqual([]);
  });
});
