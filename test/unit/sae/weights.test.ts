import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeSae, readFixtureFiles, SAE_FIXTURES_DIR, TINY_GPT2 } from '../../../scripts/fixtures/saes.ts';
import { errorCode } from '../../../src/lib/errors.ts';
import { encodeSafetensors, float32ToBfloat16Bits, float32ToFloat16Bits, type TensorToWrite } from '../../../src/lib/formats/index.ts';
import { transpose } from '../../../src/lib/sae/index.ts';
import { detectSaes, loadSaeWeights, saeTensorRefs, type SaeCandidate } from '../../../src/lib/sae/index.ts';

const D = TINY_GPT2.dModel;

async function candidates(name: string): Promise<SaeCandidate[]> {
  return (await detectSaes(await readFixtureFiles(join(SAE_FIXTURES_DIR, name)))).candidates;
}

/** IEEE half bits -> number, written independently of the library's table. */
function halfToNumber(bits: number): number {
  const sign = bits >> 15 ? -1 : 1;
  const exponent = (bits >> 10) & 31;
  const mantissa = bits & 1023;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 31) return mantissa ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

/** bfloat16 bits -> number: the top half of a float32. */
function bfloat16ToNumber(bits: number): number {
  return new Float32Array(new Uint32Array([bits << 16]).buffer)[0]!;
}

describe('decoding half-precision weights', () => {
  it('F16 values are the float32 originals rounded to half', async () => {
    const [sae] = await candidates('saelens-topk');
    const w = await loadSaeWeights(sae!, sae!.spec);
    const original = makeSae(D, 128, 'topk', 102);
    for (let i = 0; i < original.wEnc.length; i += 7) {
      expect(w.wEnc[i]).toBe(Math.fround(halfToNumber(float32ToFloat16Bits(original.wEnc[i]!))));
      expect(Math.abs(w.wEnc[i]! - original.wEnc[i]!)).toBeLessThanOrEqual(Math.abs(original.wEnc[i]!) * 2 ** -11 + 2 ** -25);
    }
    expect([...w.bDec]).toEqual([...original.bDec].map((v) => Math.fround(halfToNumber(float32ToFloat16Bits(v)))));
  });

  it('BF16 values are the float32 originals rounded to bfloat16', async () => {
    const [sae] = await candidates('saelens-jumprelu');
    const w = await loadSaeWeights(sae!, sae!.spec);
    const original = makeSae(D, 96, 'jumprelu', 103);
    expect([...w.threshold!]).toEqual([...original.threshold].map((v) => bfloat16ToNumber(float32ToBfloat16Bits(v))));
    for (let i = 0; i < original.wDec.length; i += 5) {
      expect(Math.abs(w.wDec[i]! - original.wDec[i]!)).toBeLessThanOrEqual(Math.abs(original.wDec[i]!) * 2 ** -8);
    }
  });

  it('half-precision special values decode exactly', async () => {
    const bits = [0x0000, 0x8000, 0x0001, 0x03ff, 0x0400, 0x3c00, 0xc000, 0x7bff, 0x7c00, 0xfc00];
    const bytes = encodeSafetensors({
      W_enc: { dtype: 'F16', shape: [2, 5], data: Uint16Array.from(bits) },
      b_enc: { dtype: 'BF16', shape: [5], data: Uint16Array.from([0x3f80, 0xbf80, 0x0001, 0x7f80, 0x4049]) },
      W_dec: { dtype: 'F32', shape: [5, 2], data: new Float32Array(10) },
      b_dec: { dtype: 'F64', shape: [2], data: Float64Array.from([0.1, -2]) },
    });
    const { candidates: [sae] } = await detectSaes([{ path: 's.safetensors', blob: new Blob([bytes as BlobPart]) }]);
    const reader = sae!.reader;
    const wEnc = await reader.float32('W_enc');
    expect([...wEnc]).toEqual(bits.map(halfToNumber).map(Math.fround));
    expect([...wEnc]).toEqual([0, -0, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 1, -2, 65504, Infinity, -Infinity]);
    expect([...(await reader.float32('b_enc'))]).toEqual([1, -1, bfloat16ToNumber(1), Infinity, 3.140625]);
    expect([...(await reader.float32('b_dec'))]).toEqual([Math.fround(0.1), -2]);
    expect(sae!.spec.dtype).toBe('F16');
    expect(sae!.spec.warnings.join(' ')).toMatch(/mixed dtypes/);
    // Decoded faithfully, but not accepted as SAE weights.
    await expect(loadSaeWeights(sae!, sae!.spec)).rejects.toMatchObject({
      code: 'sae/non-finite',
      message: expect.stringMatching(/^s\.safetensors: Tensor W_enc \[2, 5\] has 2 non-finite values \(1 \+Inf, 1 -Inf\) of 10; the first is at row 1, column 3 \(feature 3\)/),
    });
  });
});

describe('canonical layout', () => {
  it('SAELens weights are read as stored', async () => {
    const [sae] = await candidates('saelens-standard');
    const w = await loadSaeWeights(sae!, sae!.spec);
    const original = makeSae(D, 96, 'relu', 101);
    expect(w.wEnc).toEqual(original.wEnc);
    expect(w.wDec).toEqual(original.wDec);
    expect(w.bEnc).toEqual(original.bEnc);
    expect(w.bDec).toEqual(original.bDec);
    expect(w.threshold).toBeUndefined();
  });

  it('sparsify encoder.weight [n, d] is transposed to W_enc [d, n]', async () => {
    const [h1] = await candidates('sparsify');
    const w = await loadSaeWeights(h1!, h1!.spec);
    const original = makeSae(D, 128, 'topk', 109);
    expect(w.wEnc).toEqual(original.wEnc);
    expect(w.wDec).toEqual(original.wDec);
    expect(saeTensorRefs(h1!)).toMatchObject({ wEnc: { key: 'encoder.weight', transform: 'transpose' }, wDec: { key: 'W_dec', transform: 'none' } });
  });

  it('OpenAI: pre_bias is b_dec, latent_bias is b_enc, both matrices transposed; stats_last_nonzero is not read', async () => {
    const [sae] = await candidates('openai-v5');
    const w = await loadSaeWeights(sae!, sae!.spec);
    const original = makeSae(D, 128, 'topk', 111);
    expect(w.wEnc).toEqual(original.wEnc);
    expect(w.wDec).toEqual(original.wDec);
    expect(w.bDec).toEqual(original.bDec);
    expect(w.bEnc).toEqual(original.bEnc);
    expect(Object.values(saeTensorRefs(sae!)).map((r) => r.key)).not.toContain('stats_last_nonzero');
  });

  it('gated: b_gate is both bEnc and bGate (separate arrays), plus r_mag and b_mag', async () => {
    const [sae] = await candidates('saelens-gated');
    const w = await loadSaeWeights(sae!, sae!.spec);
    const original = makeSae(D, 96, 'gated', 104);
    expect(w.bGate).toEqual(original.bGate);
    expect(w.bEnc).toEqual(original.bGate);
    expect(w.bEnc).not.toBe(w.bGate);
    expect(w.rMag).toEqual(original.rMag);
    expect(w.bMag).toEqual(original.bMag);
  });

  it('Gemma Scope lower-case names map to the same canonical weights', async () => {
    const [sae] = await candidates('gemmascope-lower');
    const w = await loadSaeWeights(sae!, sae!.spec);
    const original = makeSae(D, 128, 'jumprelu', 108);
    expect(w.wEnc).toEqual(original.wEnc);
    expect(w.threshold).toEqual(original.threshold);
  });

  it('transpose works for non-square blocks', () => {
    const rows = 70;
    const cols = 130;
    const src = Float32Array.from({ length: rows * cols }, (_, i) => i);
    const out = transpose(src, rows, cols);
    for (let r = 0; r < rows; r += 13) for (let c = 0; c < cols; c += 11) expect(out[c * rows + r]).toBe(src[r * cols + c]);
  });
});

describe('loadSaeWeights', () => {
  it('reports byte progress up to the total', async () => {
    const [sae] = await candidates('saelens-gated');
    const events: [number, number][] = [];
    await loadSaeWeights(sae!, sae!.spec, { onProgress: (done, total) => events.push([done, total]) });
    const total = events[0]![1];
    expect(events[0]![0]).toBe(0);
    expect(events.at(-1)![0]).toBe(total);
    expect(total).toBe(sae!.spec.bytes - sae!.reader.header.dataStart);
    for (let i = 1; i < events.length; i++) expect(events[i]![0]).toBeGreaterThan(events[i - 1]![0]);
  });

  it('stops when aborted', async () => {
    const [sae] = await candidates('saelens-standard');
    const controller = new AbortController();
    controller.abort();
    try {
      await loadSaeWeights(sae!, sae!.spec, { signal: controller.signal });
      expect.unreachable();
    } catch (error) {
      expect(errorCode(error)).toBe('cancelled');
    }
  });

  it('refuses an architecture the file cannot support', async () => {
    const [sae] = await candidates('saelens-standard');
    try {
      await loadSaeWeights(sae!, { ...sae!.spec, architecture: 'jumprelu' });
      expect.unreachable();
    } catch (error) {
      expect(errorCode(error)).toBe('sae/config-mismatch');
      expect((error as Error).message).toMatch(/needs threshold/);
    }
  });
});

const f32 = (shape: number[]): TensorToWrite => ({ dtype: 'F32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

/** Bytes of NaN in each float dtype, little-endian. */
const NAN_BYTES: Record<string, number[]> = { F32: [0x00, 0x00, 0xc0, 0x7f], F16: [0x00, 0x7e], BF16: [0xc0, 0x7f], F64: [0, 0, 0, 0, 0, 0, 0xf8, 0x7f] };

/** A fixture's files with value `index` of tensor `key` in `weightsPath` set to NaN, in the tensor's own dtype. */
async function withNaN(fixture: string, weightsPath: string, key: string, index: number) {
  const files = await readFixtureFiles(join(SAE_FIXTURES_DIR, fixture));
  const found = (await detectSaes(files)).candidates.find((c) => c.weightsPath === weightsPath)!;
  const entry = found.reader.entry(key);
  const nan = NAN_BYTES[entry.dtype]!;
  return Promise.all(
    files.map(async (f) => {
      if (f.path !== weightsPath) return f;
      const bytes = new Uint8Array(await f.blob.arrayBuffer());
      bytes.set(nan, entry.begin + index * nan.length);
      return { path: f.path, blob: new Blob([bytes as BlobPart]) };
    }),
  );
}

async function loadError(files: { path: string; blob: Blob }[], weightsPath: string): Promise<{ code: string | undefined; message: string }> {
  const candidate = (await detectSaes(files)).candidates.find((c) => c.weightsPath === weightsPath)!;
  try {
    await loadSaeWeights(candidate, candidate.spec);
  } catch (error) {
    return { code: errorCode(error), message: (error as Error).message };
  }
  return { code: 'loaded', message: '' };
}

describe('non-finite weights are refused when the SAE is opened', () => {
  it('one NaN in W_enc: sae/non-finite naming the file, the tensor, the count and where the first is', async () => {
    const [sae] = await candidates('malformed-nan-w-enc');
    const { code, message } = await loadError(await readFixtureFiles(join(SAE_FIXTURES_DIR, 'malformed-nan-w-enc')), sae!.weightsPath);
    expect(code).toBe('sae/non-finite');
    expect(message).toMatch(/^sae_weights\.safetensors: Tensor W_enc \[64, 96\] has 1 non-finite value \(1 NaN\) of 6144; the first is at row 5, column 17 \(feature 17\)\./);
    expect(message).toMatch(/damaged.*diverged/);
  });

  it('Inf in b_enc: names b_enc, both values and the first feature', async () => {
    const { code, message } = await loadError(await readFixtureFiles(join(SAE_FIXTURES_DIR, 'malformed-inf-b-enc')), 'sae_weights.safetensors');
    expect(code).toBe('sae/non-finite');
    expect(message).toMatch(/Tensor b_enc \[96\] has 2 non-finite values \(2 \+Inf\) of 96; the first is at index 40 \(feature 40\)\./);
  });

  // Every canonical tensor of every layout, by its name in the file, in F32, F16 and BF16.
  const cases: [fixture: string, weights: string, keys: string[]][] = [
    ['saelens-standard', 'sae_weights.safetensors', ['W_enc', 'b_enc', 'W_dec', 'b_dec']],
    ['saelens-topk', 'sae_weights.safetensors', ['W_enc', 'b_dec']],
    ['saelens-jumprelu', 'sae_weights.safetensors', ['W_dec', 'threshold']],
    ['saelens-gated', 'sae_weights.safetensors', ['W_enc', 'W_dec', 'b_dec', 'b_gate', 'b_mag', 'r_mag']],
    ['gemmascope-lower', 'params.safetensors', ['w_enc', 'w_dec', 'b_enc', 'b_dec', 'threshold']],
    ['sparsify', 'h.2/sae.safetensors', ['encoder.weight', 'encoder.bias', 'W_dec', 'b_dec']],
    ['openai-v5', 'resid_post_mlp_v5_32k/autoencoders/1.safetensors', ['pre_bias', 'encoder.weight', 'latent_bias', 'decoder.weight']],
  ];
  it.each(cases)('%s: a NaN in any of its tensors is refused, naming it', async (fixture, weights, keys) => {
    for (const key of keys) {
      const { code, message } = await loadError(await withNaN(fixture, weights, key, 3), weights);
      expect(code, key).toBe('sae/non-finite');
      expect(message, key).toMatch(new RegExp(`^${weights.replace(/\./g, '\\.')}: Tensor ${key.replace('.', '\\.')} \\[[0-9, ]+\\] has 1 non-finite value \\(1 NaN\\)`));
    }
  });

  it('positions are given in the file tensor\'s own layout, with the feature', async () => {
    // sparsify encoder.weight is [features, d_in]; OpenAI decoder.weight is [d_in, features].
    const sparsify = await loadError(await withNaN('sparsify', 'h.1/sae.safetensors', 'encoder.weight', 5 * 64 + 9), 'h.1/sae.safetensors');
    expect(sparsify.message).toMatch(/Tensor encoder\.weight \[128, 64\] .* row 5, column 9 \(feature 5\)\./);
    const openai = await loadError(await withNaN('openai-v5', 'resid_post_mlp_v5_32k/autoencoders/1.safetensors', 'decoder.weight', 2 * 128 + 100), 'resid_post_mlp_v5_32k/autoencoders/1.safetensors');
    expect(openai.message).toMatch(/Tensor decoder\.weight \[64, 128\] .* row 2, column 100 \(feature 100\)\./);
    const bDec = await loadError(await withNaN('saelens-standard', 'sae_weights.safetensors', 'b_dec', 7), 'sae_weights.safetensors');
    expect(bDec.message).toMatch(/Tensor b_dec \[64\] .* at index 7\./);
  });

  it('a log_threshold that overflows to Inf when exponentiated is refused too', async () => {
    const files = [
      {
        path: 's.safetensors',
        blob: new Blob([
          encodeSafetensors({ W_enc: f32([2, 4]), b_enc: f32([4]), W_dec: f32([4, 2]), b_dec: f32([2]), log_threshold: { dtype: 'F32', shape: [4], data: Float32Array.from([0, 0, 100, 0]) } }) as BlobPart,
        ]),
      },
    ];
    const { code, message } = await loadError(files, 's.safetensors');
    expect(code).toBe('sae/non-finite');
    expect(message).toMatch(/log_threshold \[4\] .*exp\(log_threshold\).* index 2 \(feature 2\)/);
  });
});
