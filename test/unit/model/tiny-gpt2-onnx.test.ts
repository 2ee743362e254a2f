/**
 * Runs the tiny GPT-2 fixture's onnx/model.onnx with onnxruntime-node and checks its logits and
 * its intermediate tensors (made graph outputs with the ONNX codec) against the float64 reference
 * forward on the safetensors weights. This proves the graph, its tensor names (where each
 * TransformerLens hook point lives) and the codec's edits.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoModelForCausalLM, env, Tensor } from '@huggingface/transformers';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsReader } from '../../../src/lib/formats/index.ts';
import { decodeModel, encodeModel, makeValueInfo, TensorDataType } from '../../../src/lib/formats/index.ts';
import { hookPointName, loadGpt2Weights, referenceForward, type Gpt2Config, type HookName, type ReferenceResult } from '../../support/reference-gpt2.ts';
import { REPO_ROOT, TINY_GPT2_DIR, TINY_GPT2_REPO } from '../../../scripts/fixtures/tiny-gpt2.ts';

const dir = join(REPO_ROOT, TINY_GPT2_DIR);
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf-8')) as Gpt2Config & { vocab_size: number };

/** Where each TransformerLens hook point of layer L lives in the torch-style graph. */
function graphTensor(layer: number, hook: HookName): string {
  const block = `/transformer/h.${layer}`;
  switch (hook) {
    case 'hook_resid_pre': return layer === 0 ? '/transformer/Add_output_0' : `/transformer/h.${layer - 1}/Add_1_output_0`;
    case 'hook_resid_mid': return `${block}/Add_output_0`;
    case 'hook_resid_post': return `${block}/Add_1_output_0`;
    case 'hook_attn_out': return `${block}/attn/c_proj/Add_output_0`;
    case 'hook_mlp_out': return `${block}/mlp/c_proj/Add_output_0`;
    case 'mlp.hook_post': return `${block}/mlp/act/Mul_3_output_0`;
    case 'attn.hook_z': return `${block}/attn/Transpose_3_output_0`;
  }
}

const HOOKS: HookName[] = ['hook_resid_pre', 'hook_resid_mid', 'hook_resid_post', 'hook_attn_out', 'hook_mlp_out', 'mlp.hook_post', 'attn.hook_z'];

// Two rows; the second is right-padded (attention_mask 0 at the end, padding id 4096).
const SEQ = 9;
const INPUT_IDS = [
  [464, 3290, 286, 262, 995, 11, 290, 262, 4096],
  [40, 716, 257, 3797, 13, 4096, 4096, 4096, 4096],
];
const MASK = [
  [1, 1, 1, 1, 1, 1, 1, 1, 1],
  [1, 1, 1, 1, 1, 0, 0, 0, 0],
];

let reference: ReferenceResult;
let outputs: ort.InferenceSession.OnnxValueMapType;

/** Largest |a - b| over non-padded positions, divided by the largest |b| there. */
function relativeError(actual: Float32Array, expected: Float64Array, width: number): { error: number; scale: number } {
  let error = 0;
  let scale = 0;
  for (let b = 0; b < INPUT_IDS.length; b++) {
    for (let t = 0; t < SEQ; t++) {
      if (!MASK[b]![t]) continue;
      const offset = (b * SEQ + t) * width;
      for (let i = 0; i < width; i++) {
        error = Math.max(error, Math.abs(actual[offset + i]! - expected[offset + i]!));
        scale = Math.max(scale, Math.abs(expected[offset + i]!));
      }
    }
  }
  return { error: error / scale, scale };
}

beforeAll(async () => {
  const weights = await loadGpt2Weights(SafetensorsReader.fromBytes(new Uint8Array(readFileSync(join(dir, 'model.safetensors')))), config);
  reference = referenceForward(weights, INPUT_IDS, { attentionMask: MASK });

  const model = decodeModel(new Uint8Array(readFileSync(join(dir, 'onnx/model.onnx'))));
  for (let layer = 0; layer < config.n_layer; layer++) {
    for (const hook of HOOKS) {
      const name = graphTensor(layer, hook);
      if (!model.graph.outputs.some((o) => o.name === name)) model.graph.outputs.push(makeValueInfo(name, TensorDataType.FLOAT));
    }
  }
  const session = await ort.InferenceSession.create(encodeModel(model));
  const tensor = (rows: number[][]) => new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, SEQ]);
  const positions = INPUT_IDS.map(() => Array.from({ length: SEQ }, (_, t) => t));
  outputs = await session.run({ input_ids: tensor(INPUT_IDS), attention_mask: tensor(MASK), position_ids: tensor(positions) });
  await session.release();
});

describe('tiny GPT-2 ONNX graph vs the float64 reference', () => {
  it('gives the reference logits at non-padded positions', () => {
    const logits = outputs.logits!;
    expect(logits.dims).toEqual([2, SEQ, config.vocab_size]);
    const { error, scale } = relativeError(logits.data as Float32Array, reference.logits!, config.vocab_size);
    expect(scale).toBeGreaterThan(1); // non-trivial activations
    expect(error).toBeLessThan(1e-4);
  });

  for (const hook of HOOKS) {
    it(`has ${hook} at the expected tensor names`, () => {
      for (let layer = 0; layer < config.n_layer; layer++) {
        const name = graphTensor(layer, hook);
        const actual = outputs[name]!;
        const expected = reference.hooks.get(hookPointName(layer, hook))!;
        const width = expected.length / (INPUT_IDS.length * SEQ);
        expect(actual.dims.reduce((a, b) => a * b, 1)).toBe(expected.length);
        expect(actual.dims.slice(0, 2)).toEqual([2, SEQ]);
        if (hook === 'attn.hook_z') expect(actual.dims).toEqual([2, SEQ, config.n_head, config.n_embd / config.n_head]);
        const { error } = relativeError(actual.data as Float32Array, expected, width);
        expect(error, `${hookPointName(layer, hook)} = ${name}`).toBeLessThan(1e-4);
      }
    });
  }

  it('has resid_post(L) == resid_pre(L + 1) as one tensor', () => {
    for (let layer = 0; layer + 1 < config.n_layer; layer++) {
      expect(graphTensor(layer + 1, 'hook_resid_pre')).toBe(graphTensor(layer, 'hook_resid_post'));
    }
  });
});

describe('tiny GPT-2 folder in transformers.js', () => {
  it('loads as AutoModelForCausalLM (fp32, onnx/model.onnx) and gives the reference logits', async () => {
    env.allowRemoteModels = false;
    env.allowLocalModels = true;
    env.localModelPath = `${join(REPO_ROOT, 'test/fixtures/hub')}/`;
    const model = await AutoModelForCausalLM.from_pretrained(TINY_GPT2_REPO, { dtype: 'fp32' });
    try {
      const tensor = (rows: number[][]) => new Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, SEQ]);
      const output = (await model({ input_ids: tensor(INPUT_IDS), attention_mask: tensor(MASK) })) as { logits: { dims: number[]; data: Float32Array } };
      expect(output.logits.dims).toEqual([2, SEQ, config.vocab_size]);
      expect(relativeError(output.logits.data, reference.logits!, config.vocab_size).error).toBeLessThan(1e-4);
    } finally {
      await model.dispose();
    }
  });
});
