import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSaeFixtures, readFixtureFiles, SAE_FIXTURES_DIR, TINY_GPT2, type ExpectedSae, type SaeFixtureCase } from '../../../scripts/fixtures/saes.ts';
import { describeError, errorCode } from '../../../src/lib/errors.ts';
import { encodeSafetensors } from '../../../src/lib/formats/index.ts';
import { groupSaeFiles } from '../../../src/lib/sae/index.ts';
import { checkSaeAgainstModel, detectSaes, loadSaeWeights, summarizeSae, type SaeCandidate, type SaeInputFile } from '../../../src/lib/sae/index.ts';

interface Manifest {
  model: typeof TINY_GPT2;
  cases: { name: string; files: string[]; expect?: ExpectedSae[]; error?: SaeFixtureCase['error'] }[];
}

const manifest = JSON.parse(await readFile(join(SAE_FIXTURES_DIR, 'manifest.json'), 'utf8')) as Manifest;
const fixture = (name: string) => readFixtureFiles(join(SAE_FIXTURES_DIR, name));
const blobOf = (bytes: Uint8Array | string) => new Blob([bytes as BlobPart]);

async function rejectionCode(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return errorCode(error);
  }
  return 'resolved';
}

describe('SAE fixtures on disk', () => {
  it('are what the generator makes now (deterministic, up to date)', async () => {
    for (const c of buildSaeFixtures()) {
      for (const [path, content] of Object.entries(c.files)) {
        const onDisk = new Uint8Array(await readFile(join(SAE_FIXTURES_DIR, c.name, path)));
        const expected = typeof content === 'string' ? new TextEncoder().encode(content) : content;
        expect(Buffer.from(onDisk).equals(Buffer.from(expected)), `${c.name}/${path} differs: run npx tsx scripts/fixtures/saes.ts`).toBe(true);
      }
    }
  });

  it('are small', async () => {
    const files = await readFixtureFiles(SAE_FIXTURES_DIR);
    const total = files.reduce((sum, f) => sum + f.blob.size, 0);
    expect(total).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('detectSaes on every fixture', () => {
  const valid = manifest.cases.filter((c) => c.expect);
  it.each(valid.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const { candidates, skipped } = await detectSaes(await fixture(c.name));
    expect(skipped).toEqual([]);
    expect(candidates.map((x) => x.weightsPath)).toEqual(c.expect!.map((e) => e.weights));
    candidates.forEach((candidate, i) => {
      const e = c.expect![i]!;
      const { weights: _weights, ...fields } = e;
      expect(candidate.spec).toMatchObject(fields);
      expect(candidate.spec.k).toBe(e.k);
      expect(candidate.spec.hookName).toBe(e.hookName);
      expect(candidate.spec.centerResidual).toBe(e.centerResidual);
      expect(candidate.spec.assumed).toEqual([]);
      expect(() => checkSaeAgainstModel(candidate.spec, TINY_GPT2)).not.toThrow();
    });
  });

  const failing = manifest.cases.filter((c) => c.error);
  it.each(failing.map((c) => [c.name, c] as const))('%s fails with its code', async (_name, c) => {
    const files = await fixture(c.name);
    if (c.error!.stage === 'detect') {
      expect(await rejectionCode(detectSaes(files))).toBe(c.error!.code);
    } else if (c.error!.stage === 'load') {
      const { candidates } = await detectSaes(files);
      expect(candidates).toHaveLength(1);
      expect(() => checkSaeAgainstModel(candidates[0]!.spec, TINY_GPT2)).not.toThrow();
      expect(await rejectionCode(loadSaeWeights(candidates[0]!, candidates[0]!.spec))).toBe(c.error!.code);
    } else {
      const { candidates } = await detectSaes(files);
      expect(candidates).toHaveLength(1);
      let code: string | undefined;
      try {
        checkSaeAgainstModel(candidates[0]!.spec, TINY_GPT2);
      } catch (error) {
        code = errorCode(error);
      }
      expect(code).toBe(c.error!.code);
    }
  });

  it('error messages name the file and say what to do', async () => {
    const messages: Record<string, string> = {};
    for (const c of failing.filter((x) => x.error!.stage === 'detect')) {
      try {
        await detectSaes(await fixture(c.name));
      } catch (error) {
        messages[c.name] = describeError(error);
      }
    }
    expect(messages['malformed-truncated']).toMatch(/sae_weights\.safetensors is truncated.*download the file again/);
    expect(messages['malformed-unknown-layout']).toMatch(/encoder\.w, decoder\.w, bias/);
    expect(messages['malformed-unknown-layout']).toMatch(/saelens-standard \(W_enc, b_enc, W_dec, b_dec\)/);
    expect(messages['malformed-shapes']).toMatch(/W_enc \[64, 96\] says 96, but b_enc has shape \[80\]/);
    expect(messages['malformed-config-mismatch']).toMatch(/cfg\.json says the SAE has 128 features, but the weights .* have 96/);
    expect(messages['malformed-dtype-i8']).toMatch(/sae_weights\.safetensors: Tensor W_enc is I8/);
    for (const message of Object.values(messages)) expect(message).toMatch(/^\[[a-z-]+\/[a-z-]+\] /);
  });

  it('a whole folder of SAEs gives every valid one, and lists the broken ones', async () => {
    const { candidates, skipped } = await detectSaes(await readFixtureFiles(SAE_FIXTURES_DIR));
    const validWeights = valid.flatMap((c) => c.expect!.map((e) => `${c.name}/${e.weights}`));
    // Cases that fail against the model or when their weights are read are detected like valid ones.
    const modelStage = failing.filter((c) => c.error!.stage !== 'detect').map((c) => `${c.name}/sae_weights.safetensors`);
    expect(candidates.map((c) => c.id).sort()).toEqual([...validWeights, ...modelStage].sort());
    expect(Object.fromEntries(skipped.map((s) => [s.path.split('/')[0], s.code]))).toEqual(
      Object.fromEntries(failing.filter((c) => c.error!.stage === 'detect').map((c) => [c.name, c.error!.code])),
    );
  });

  it('summarizes for display', async () => {
    const { candidates } = await detectSaes(await fixture('saelens-topk'));
    const summary = summarizeSae(candidates[0]!.spec);
    expect(summary.title).toBe('SAELens TopK k=8 · 128 features · blocks.2.hook_resid_post');
    expect(Object.fromEntries(summary.rows.map((r) => [r.label, r.value]))).toMatchObject({
      Format: 'SAELens',
      Architecture: 'TopK (k = 8)',
      d_in: '64',
      Width: '128 features',
      'Hook point': 'blocks.2.hook_resid_post',
      dtype: 'F16',
      Size: '0.03 MB',
    });
  });
});

describe('choosing files', () => {
  it('pairs each weights file with the config in its folder and ignores sparsity.safetensors', () => {
    const b = blobOf('');
    const { groups } = groupSaeFiles([
      { path: 'run/config.json', blob: b },
      { path: 'run/h.1/cfg.json', blob: b },
      { path: 'run/h.1/sae.safetensors', blob: b },
      { path: 'run\\h.2\\sae.safetensors', blob: b },
      { path: 'run/h.2/cfg.json', blob: b },
      { path: 'sl/sparsity.safetensors', blob: b },
      { path: 'sl/sae_weights.safetensors', blob: b },
      { path: 'sl/cfg.json', blob: b },
      { path: 'sl/README.md', blob: b },
    ]);
    expect(groups.map((g) => [g.weights.path, g.config?.path, g.ancestorConfigs.map((c) => c.path)])).toEqual([
      ['run/h.1/sae.safetensors', 'run/h.1/cfg.json', ['run/config.json']],
      ['run/h.2/sae.safetensors', 'run/h.2/cfg.json', ['run/config.json']],
      ['sl/sae_weights.safetensors', 'sl/cfg.json', []],
    ]);
  });

  it('pairs one weights file with one config dropped from different places', async () => {
    const files = await fixture('saelens-topk');
    const moved = files.map((f) => (f.path === 'cfg.json' ? { ...f, path: 'elsewhere/cfg.json' } : f));
    const { candidates } = await detectSaes(moved);
    expect(candidates[0]!.spec.k).toBe(8);
    expect(candidates[0]!.configPaths).toEqual(['elsewhere/cfg.json']);
  });

  it('without safetensors: sae/no-weights, with a conversion recipe for pickles', async () => {
    expect(await rejectionCode(detectSaes([]))).toBe('sae/no-weights');
    let message = '';
    try {
      await detectSaes([
        { path: 'cfg.json', blob: blobOf('{}') },
        { path: 'sae_weights.pt', blob: blobOf('x') },
      ]);
    } catch (error) {
      message = (error as Error).message;
      expect(errorCode(error)).toBe('sae/no-weights');
    }
    expect(message).toMatch(/sae_weights\.pt is a pickle/);
    expect(message).toMatch(/save_file/);
  });

  it('a config that is not JSON is sae/bad-config naming the file', async () => {
    const files = await fixture('saelens-standard');
    const broken = files.map((f) => (f.path === 'cfg.json' ? { ...f, blob: blobOf('{"d_in": 64,') } : f));
    await expect(detectSaes(broken)).rejects.toMatchObject({ code: 'sae/bad-config', message: expect.stringMatching(/^cfg\.json is not valid JSON/) });
  });

  it('an unrelated JSON file is ignored with a warning', async () => {
    const files = (await fixture('saelens-standard')).filter((f) => f.path !== 'cfg.json');
    const { candidates } = await detectSaes([...files, { path: 'tokenizer.json', blob: blobOf('{"version": "1.0", "model": {}}') }]);
    expect(candidates[0]!.spec.warnings.join(' ')).toMatch(/tokenizer\.json is not a config we recognize/);
    expect(candidates[0]!.spec.missing).toEqual(['hookName', 'centerResidual']);
  });

  it('when several files fail and none works, throws the first error and mentions the others', async () => {
    const a = await fixture('malformed-shapes');
    const b = await fixture('malformed-dtype-i8');
    const files = [...a.map((f) => ({ ...f, path: `a/${f.path}` })), ...b.map((f) => ({ ...f, path: `b/${f.path}` }))];
    try {
      await detectSaes(files);
      expect.unreachable();
    } catch (error) {
      expect(errorCode(error)).toBe('sae/bad-shape');
      expect((error as Error).message).toMatch(/1 more file failed too: b\/sae_weights\.safetensors: safetensors\/unsupported-dtype/);
    }
  });
});

/** A Blob that counts the bytes handed out by slice() and by whole reads. */
class CountingBlob extends Blob {
  read = 0;
  override slice(start?: number, end?: number, contentType?: string): Blob {
    const part = super.slice(start, end, contentType);
    this.read += part.size;
    return part;
  }
  override arrayBuffer(): Promise<ArrayBuffer> {
    this.read += this.size;
    return super.arrayBuffer();
  }
  override text(): Promise<string> {
    this.read += this.size;
    return super.text();
  }
}

describe('detection reads headers only', () => {
  it('reads a few hundred bytes of a 4 MB SAE, then loadSaeWeights reads each tensor once', async () => {
    const dIn = 64;
    const width = 8192;
    const bytes = encodeSafetensors({
      W_enc: { dtype: 'F32', shape: [dIn, width], data: new Float32Array(dIn * width) },
      b_enc: { dtype: 'F32', shape: [width], data: new Float32Array(width) },
      W_dec: { dtype: 'F32', shape: [width, dIn], data: new Float32Array(dIn * width) },
      b_dec: { dtype: 'F32', shape: [dIn], data: new Float32Array(dIn) },
    });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const blob = new CountingBlob([bytes as BlobPart]);
    const { candidates } = await detectSaes([
      { path: 'sae/sae_weights.safetensors', blob },
      { path: 'sae/cfg.json', blob: blobOf(JSON.stringify({ d_in: dIn, d_sae: width, hook_point: 'blocks.0.hook_resid_pre' })) },
    ]);
    expect(candidates[0]!.spec.width).toBe(width);
    expect(blob.size).toBeGreaterThan(4_000_000);
    expect(blob.read).toBe(8 + headerLength);

    blob.read = 0;
    const candidate: SaeCandidate = candidates[0]!;
    await loadSaeWeights(candidate, candidate.spec);
    expect(blob.read).toBe(blob.size - 8 - headerLength);
  });

  it('the fixtures are detected from their headers too', async () => {
    for (const name of ['saelens-standard', 'sparsify', 'openai-v5', 'gemmascope-lower']) {
      const counted: SaeInputFile[] = (await fixture(name)).map((f) => ({ path: f.path, blob: f.path.endsWith('.safetensors') ? new CountingBlob([f.blob]) : f.blob }));
      await detectSaes(counted);
      for (const f of counted) {
        if (f.blob instanceof CountingBlob) expect(f.blob.read, `${name}/${f.path}`).toBeLessThan(1024);
      }
    }
  });
});
