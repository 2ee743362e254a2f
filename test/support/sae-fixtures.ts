/** Helpers shared by the Node and browser tests of the activation engine. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { SafetensorsReader } from '../../src/lib/formats/index.ts';
import { loadGpt2Weights, referenceForward, type Gpt2Config } from './reference-gpt2.ts';
import { referenceEncode, type SaeSpec, type SaeWeights, type SparseCode } from '../../src/lib/sae/index.ts';
import { parseHookName } from '../../src/lib/index.ts';
import { expectsFoldedValueBias } from '../../src/lib/sae/index.ts';

export const FIXTURES = resolve(import.meta.dirname, '../fixtures');
export const TINY_GPT2 = join(FIXTURES, 'hub/autointerp-test/tiny-gpt2');
export const SAE_FIXTURES = join(FIXTURES, 'sae');

/** Every file under a fixture folder, with paths relative to it (as a dropped folder gives them). */
export function fixtureFiles(folder: string): { path: string; bytes: Uint8Array<ArrayBuffer> }[] {
  const root = join(SAE_FIXTURES, folder);
  const out: { path: string; bytes: Uint8Array<ArrayBuffer> }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (!name.endsWith('.md')) out.push({ path: `${folder}/${relative(root, path)}`, bytes: new Uint8Array(readFileSync(path)) });
    }
  };
  walk(root);
  return out;
}

/** The SAE fixtures that are valid SAEs for the tiny GPT-2 (malformed ones are named malformed-*). */
export const VALID_SAE_FIXTURES = readdirSync(SAE_FIXTURES).filter((name) => !name.startsWith('malformed-') && statSync(join(SAE_FIXTURES, name)).isDirectory()).sort();

/** Deterministic token rows of the tiny model's vocabulary (BOS first, like a cache row). */
export function tokenRows(batch: number, seq: number, seed = 1): number[][] {
  let state = seed >>> 0;
  const next = () => ((state = (state * 1664525 + 1013904223) >>> 0) % 4096);
  return Array.from({ length: batch }, () => [4096, ...Array.from({ length: seq - 1 }, next)]);
}

export async function tinyGpt2Weights() {
  const config = JSON.parse(readFileSync(join(TINY_GPT2, 'config.json'), 'utf8')) as Gpt2Config;
  return loadGpt2Weights(SafetensorsReader.fromBytes(readFileSync(join(TINY_GPT2, 'model.safetensors'))), config);
}

/**
 * What the SAE should output on these rows, computed without ONNX: the float64 GPT-2 forward, then the
 * float64 reference encoder. hook_z of a SAELens SAE is read as TransformerLens gives it (b_V folded out);
 * residual hooks are centred when the SAE expects it (the encoder centres them itself, so raw values are
 * passed and centring happens once).
 */
export async function expectedCodes(spec: SaeSpec, weights: SaeWeights, rows: number[][]): Promise<{ codes: SparseCode[]; hook: Float64Array }> {
  const model = await tinyGpt2Weights();
  const parsed = parseHookName(spec.hookName!)!;
  const transformerLens = expectsFoldedValueBias(spec);
  const result = referenceForward(model, rows, { stopAfterLayer: parsed.layer, transformerLens });
  const hook = result.hooks.get(spec.hookName!)!;
  let input: Float64Array = hook;
  if (spec.hookHeadIndex !== null && spec.hookHeadIndex !== undefined) {
    const tokens = rows.length * rows[0]!.length;
    const width = hook.length / tokens;
    input = new Float64Array(tokens * spec.dIn);
    for (let t = 0; t < tokens; t++) input.set(hook.subarray(t * width + spec.hookHeadIndex * spec.dIn, t * width + (spec.hookHeadIndex + 1) * spec.dIn), t * spec.dIn);
  }
  return { codes: referenceEncode(weights, spec, input), hook };
}

/** Compares GPU/ONNX sparse output with reference codes: the same active sets, values within tol x scale. */
export interface SparseLike {
  offsets: ArrayLike<number>;
  features: ArrayLike<number>;
  values: ArrayLike<number>;
}

export function compareCodes(actual: SparseLike, expected: SparseCode[]): { mismatchedTokens: number; worstRelative: number; activeTotal: number } {
  let scale = 0;
  for (const code of expected) for (const v of code.values) scale = Math.max(scale, Math.abs(v));
  let mismatched = 0;
  let worst = 0;
  let active = 0;
  expected.forEach((code, t) => {
    const start = actual.offsets[t]!;
    const end = actual.offsets[t + 1]!;
    active += code.indices.length;
    const features = Array.from({ length: end - start }, (_, i) => actual.features[start + i]!);
    if (features.length !== code.indices.length || features.some((f, i) => f !== code.indices[i])) {
      mismatched++;
      return;
    }
    code.values.forEach((v, i) => { worst = Math.max(worst, Math.abs(actual.values[start + i]! - v) / (scale || 1)); });
  });
  return { mismatchedTokens: mismatched, worstRelative: worst, activeTotal: active };
}
