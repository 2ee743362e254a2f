/** encodingKey: what decides whether two encodings of the same SAE file may share one cache. */
import { describe, expect, it } from 'vitest';
import { detectSaes, encodingKey, type SaeSpec } from '../../../src/lib/sae/index.ts';
import { fixtureFiles } from '../../support/sae-fixtures.ts';

async function specOf(name: string): Promise<SaeSpec> {
  const { candidates } = await detectSaes(fixtureFiles(name).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
  return candidates[0]!.spec;
}

describe('encodingKey', () => {
  it('is equal for the same settings, whatever is only informational', async () => {
    const spec = await specOf('saelens-topk');
    expect(encodingKey({ ...spec, warnings: ['x'], assumed: ['k'], bytes: 1, modelName: 'other' })).toBe(encodingKey(spec));
  });

  it('changes with every setting that changes the encoder output', async () => {
    const spec = await specOf('saelens-topk');
    const changed: Partial<SaeSpec>[] = [
      { centerResidual: !spec.centerResidual }, { prependBos: !spec.prependBos }, { k: (spec.k ?? 0) + 1 },
      { hookName: 'blocks.0.hook_resid_pre' }, { hookHeadIndex: 2 }, { normalizationScale: 3 },
      { normalizeActivations: 'layer_norm' }, { applyBDecToInput: !spec.applyBDecToInput },
      { rescaleActsByDecoderNorm: !spec.rescaleActsByDecoderNorm }, { architecture: 'relu' }, { encoderPrecision: 'float16' },
    ];
    const keys = new Set([encodingKey(spec), ...changed.map((change) => encodingKey({ ...spec, ...change }))]);
    expect(keys.size).toBe(changed.length + 1);
  });

  it('keeps the keys of caches made before the precision setting existed: float32 adds nothing', async () => {
    const spec = await specOf('saelens-topk');
    expect(encodingKey(spec)).not.toContain('Precision');
    expect(JSON.parse(encodingKey({ ...spec, encoderPrecision: 'float16' }))).toMatchObject({ encoderPrecision: 'float16' });
  });
});
