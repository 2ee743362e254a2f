/** An SAE against the model loaded: the name its config gives, and the sizes. */
import { describe, expect, test } from 'vitest';
import { canonicalModelName, checkSaeAgainstModel, errorCode, modelNameWarning } from '../../../src/lib/index.ts';

const GPT2_SMALL = { dModel: 768, dMlp: 3072, nHeads: 12, dHead: 64, nLayers: 12 };

describe('model names', () => {
  test.each([
    ['gpt2', 'Xenova/gpt2'],
    ['gpt2-small', 'openai-community/gpt2'],
    ['gpt2', 'onnx-community/gpt2-ONNX'],
    ['tiny-gpt2', 'autointerp-test/tiny-gpt2'],
  ])('%s is the model of %s', (name, repo) => {
    expect(canonicalModelName(name)).toBe(canonicalModelName(repo));
    expect(modelNameWarning(name, repo)).toBeUndefined();
  });

  test('another model of the same size is a warning naming both; no name, no warning', () => {
    expect(modelNameWarning('gpt2-medium', 'Xenova/gpt2')).toMatch(/trained on gpt2-medium, and the model loaded is Xenova\/gpt2/);
    expect(modelNameWarning('pythia-70m-deduped', 'Xenova/gpt2')).toBeDefined();
    expect(modelNameWarning(undefined, 'Xenova/gpt2')).toBeUndefined();
  });
});

test('an SAE of GPT-2 medium (d_in 1024) on GPT-2 small is refused, saying what it was trained on', () => {
  let error: unknown;
  try {
    checkSaeAgainstModel({ dIn: 1024, hookName: 'blocks.6.hook_resid_pre', hookHeadIndex: null, modelName: 'gpt2-medium' }, GPT2_SMALL);
  } catch (caught) {
    error = caught;
  }
  expect(errorCode(error)).toBe('sae/mismatch');
  expect((error as Error).message).toMatch(/reads vectors of 1024 numbers, but blocks\.6\.hook_resid_pre has 768 .* \(Its config says it was trained on gpt2-medium\.\)$/);
});

test('a refusal names the config\'s model only when it is another one than the model loaded', () => {
  const spec = { dIn: 1024, hookName: 'blocks.6.hook_resid_pre', hookHeadIndex: null, modelName: 'gpt2' };
  const messageWith = (repo?: string) => {
    try {
      checkSaeAgainstModel(spec, GPT2_SMALL, repo);
    } catch (error) {
      return (error as Error).message;
    }
    return undefined;
  };
  expect(messageWith('openai-community/gpt2')).not.toMatch(/Its config says/);
  expect(messageWith('EleutherAI/pythia-70m')).toMatch(/Its config says it was trained on gpt2\.\)$/);
  expect(messageWith()).toMatch(/Its config says it was trained on gpt2\.\)$/);
});
