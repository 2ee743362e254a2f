import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { errorCode } from '../../../src/lib/errors.ts';
import { encodeSafetensors, float16BitsToFloat32, float32ToFloat16Bits, SafetensorsReader, type TensorToWrite } from '../../../src/lib/formats/index.ts';
import { readZip } from '../../../src/lib/formats/index.ts';
import { Prng } from '../../../src/lib/util/index.ts';
import {
  decodeDelphiSplit,
  delphiConfig,
  delphiFiles,
  encodeDelphiConfig,
  encodeDelphiSplit,
  exportDelphiZip,
  parseDelphiConfig,
  parseSplitFileName,
  readDelphiFolder,
  readDelphiZip,
  splitFileName,
  splitRanges,
  type DelphiExportProgress,
  type DelphiHookExport,
  type DelphiInputFile,
  type DelphiNonZeros,
  type DelphiSplitRange,
} from '../../../src/lib/latents/index.ts';
import { hasTool } from '../../support/tools.ts';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/delphi');
const work = mkdtempSync(join(tmpdir(), 'delphi-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const names = (ranges: DelphiSplitRange[]) => ranges.map((r) => `${r.start}_${r.end}`);

async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
    return 'ok';
  } catch (error) {
    return errorCode(error) ?? String(error);
  }
}

/** Uniform in (0, 1) from the project's one seeded generator. */
function rng(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.uniform();
}

interface Sparse extends DelphiNonZeros {
  nRows: number;
  ctx: number;
  width: number;
  tokens: Int32Array;
}

/**
 * Random sparse activations, in token order but with features shuffled within a token (as TopK gives
 * them), several per row, always including the first and last feature of every range.
 */
function randomCache(seed: number, nRows: number, ctx: number, width: number, nSplits: number, perToken = 3): Sparse {
  const random = rng(seed);
  const ranges = splitRanges(width, nSplits);
  const edges = ranges.flatMap((r) => [r.start, r.end]);
  const rows: number[] = [];
  const positions: number[] = [];
  const features: number[] = [];
  const values: number[] = [];
  for (let row = 0; row < nRows; row++) {
    for (let pos = 0; pos < ctx; pos++) {
      if (random() < 0.3) continue;
      const chosen = new Set<number>();
      while (chosen.size < Math.min(perToken, width)) chosen.add(random() < 0.3 ? edges[Math.floor(random() * edges.length)]! : Math.floor(random() * width));
      for (const feature of chosen) {
        rows.push(row);
        positions.push(pos);
        features.push(feature);
        // Exact in float16: multiples of 1/16 below 64, sometimes negative.
        values.push((Math.floor(random() * 1024) - 64) / 16);
      }
    }
  }
  const tokens = new Int32Array(nRows * ctx);
  for (let i = 0; i < tokens.length; i++) tokens[i] = Math.floor(random() * 50257);
  return { rows: Uint32Array.from(rows), positions: Uint32Array.from(positions), features: Uint32Array.from(features), values: Float32Array.from(values), nRows, ctx, width, tokens };
}

/** The cache's non-zeros in [start, end], sorted by (row, position, feature), as tuples. */
function expectedTuples(cache: DelphiNonZeros, range: DelphiSplitRange): [number, number, number, number][] {
  const out: [number, number, number, number][] = [];
  for (let i = 0; i < cache.rows.length; i++) {
    const f = cache.features[i]!;
    if (f >= range.start && f <= range.end) out.push([cache.rows[i]!, cache.positions[i]!, f, cache.values[i]!]);
  }
  return out.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
}

const tuples = (data: DelphiNonZeros): [number, number, number, number][] => Array.from(data.rows, (row, i) => [row, data.positions[i]!, data.features[i]!, data.values[i]!]);

function subset(cache: DelphiNonZeros, range: DelphiSplitRange): DelphiNonZeros {
  const keep: number[] = [];
  for (let i = 0; i < cache.features.length; i++) if (cache.features[i]! >= range.start && cache.features[i]! <= range.end) keep.push(i);
  return {
    rows: Uint32Array.from(keep, (i) => cache.rows[i]!),
    positions: Uint32Array.from(keep, (i) => cache.positions[i]!),
    features: Uint32Array.from(keep, (i) => cache.features[i]!),
    values: Float32Array.from(keep, (i) => cache.values[i]!),
  };
}

function hookExport(hook: string, cache: Sparse, nSplits: number): DelphiHookExport {
  return {
    hook,
    config: delphiConfig({ modelName: 'openai-community/gpt2', ctx: cache.ctx, nTokens: cache.nRows * cache.ctx, nSplits }),
    width: cache.width,
    tokens: cache.tokens,
    nRows: cache.nRows,
    ctx: cache.ctx,
    nonZeros: (range) => subset(cache, range),
  };
}

function fixtureFiles(): DelphiInputFile[] {
  const root = join(FIXTURE, 'tiny');
  const out: DelphiInputFile[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push({ path: `cache/${relative(root, path).split('\\').join('/')}`, blob: new Blob([readFileSync(path)]) });
    }
  };
  walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : 1));
}

// ---------------------------------------------------------------------------------------------------

describe('splitRanges', () => {
  test("width 32768 in 5 splits gives the file names of real delphi caches (float32 linspace, truncated)", () => {
    expect(names(splitRanges(32768, 5))).toEqual(['0_6552', '6553_13106', '13107_19659', '19660_26213', '26214_32767']);
  });

  test('small widths and widths that do not divide', () => {
    expect(names(splitRanges(40, 3))).toEqual(['0_12', '13_25', '26_39']);
    expect(names(splitRanges(10, 3))).toEqual(['0_2', '3_5', '6_9']);
    expect(names(splitRanges(7, 7))).toEqual(['0_0', '1_1', '2_2', '3_3', '4_4', '5_5', '6_6']);
    expect(names(splitRanges(1, 1))).toEqual(['0_0']);
    expect(names(splitRanges(24576, 5))).toEqual(['0_4914', '4915_9829', '9830_14744', '14745_19659', '19660_24575']);
    expect(names(splitRanges(16384, 1))).toEqual(['0_16383']);
    expect(names(splitRanges(131072, 8))).toEqual(['0_16383', '16384_32767', '32768_49151', '49152_65535', '65536_81919', '81920_98303', '98304_114687', '114688_131071']);
  });

  test('always tiles [0, width) and agrees with exact division away from float32 ties', () => {
    for (let width = 1; width <= 1500; width += 7) {
      for (let n = 1; n <= Math.min(width, 12); n++) {
        const ranges = splitRanges(width, n);
        expect(ranges.length).toBe(n);
        expect(ranges[0]!.start).toBe(0);
        expect(ranges[n - 1]!.end).toBe(width - 1);
        for (let i = 0; i < n; i++) {
          expect(ranges[i]!.end).toBeGreaterThanOrEqual(ranges[i]!.start);
          if (i > 0) expect(ranges[i]!.start).toBe(ranges[i - 1]!.end + 1);
          const exact = (width * i) / n;
          if (Math.abs(exact - Math.round(exact)) > 1e-3) expect(ranges[i]!.start).toBe(Math.floor(exact));
        }
      }
    }
  });

  test('file names round-trip; bad arguments are refused', async () => {
    expect(splitFileName({ start: 13, end: 25 })).toBe('13_25.safetensors');
    expect(parseSplitFileName('13_25.safetensors')).toEqual({ start: 13, end: 25 });
    for (const bad of ['13-25.safetensors', '0_-1.safetensors', '13_25.safetensors.bak', 'a_b.safetensors', 'layers.6.safetensors']) expect(parseSplitFileName(bad)).toBeNull();
    expect(await codeOf(() => splitRanges(3, 5))).toBe('delphi/bad-input');
    expect(await codeOf(() => splitRanges(0, 1))).toBe('delphi/bad-input');
    expect(await codeOf(() => splitRanges(10.5, 2))).toBe('delphi/bad-input');
  });
});

describe('config.json', () => {
  test("is byte for byte what Python's json.dump(indent=4) writes (the fixture's)", () => {
    const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as { config: Record<string, unknown> };
    const written = readFileSync(join(FIXTURE, 'tiny/layers.2/config.json'));
    const config = parseDelphiConfig(written).config;
    expect(config).toEqual(expected.config);
    expect(new TextDecoder().decode(encodeDelphiConfig(config))).toBe(written.toString('utf8'));
    expect(Object.keys(delphiConfig({ modelName: 'm', ctx: 256, nTokens: 10_000_000 }))).toEqual(Object.keys(expected.config));
  });

  test('escapes non-ASCII as Python does, reads legacy keys, names what is missing', async () => {
    const config = delphiConfig({ modelName: 'gpt2', ctx: 64, nTokens: 6400, datasetRepo: 'données ✓' });
    expect(new TextDecoder().decode(encodeDelphiConfig(config))).toContain('"dataset_repo": "donn\\u00e9es \\u2713"');
    expect(parseDelphiConfig(encodeDelphiConfig(config)).config).toEqual(config);
    const legacy = parseDelphiConfig('{"dataset_repo":"r","dataset_split":"s","dataset_name":"","dataset_row":"raw_content","batch_size":8,"ctx_len":64,"n_tokens":100,"n_splits":2}');
    expect(legacy.config.cache_ctx_len).toBe(64);
    expect(legacy.config.dataset_column).toBe('raw_content');
    expect(legacy.warnings).toEqual(['config.json has no "model_name".']);
    expect(await codeOf(() => parseDelphiConfig('{"batch_size":8}'))).toBe('delphi/bad-config');
    expect(await codeOf(() => parseDelphiConfig('[1]'))).toBe('delphi/bad-config');
    expect(await codeOf(() => parseDelphiConfig('{"batch_size":"8","cache_ctx_len":1,"n_tokens":1,"n_splits":1}'))).toBe('delphi/bad-config');
    expect(await codeOf(() => parseDelphiConfig('not json'))).toBe('delphi/bad-config');
  });
});

describe('encodeDelphiSplit / decodeDelphiSplit', () => {
  test('round trip of random sparse data, unsorted input, features at the range edges: U16', async () => {
    const cache = randomCache(1, 12, 16, 1000, 5);
    for (const range of splitRanges(cache.width, 5)) {
      const part = subset(cache, range);
      const bytes = encodeDelphiSplit({ ...part, ...range, tokens: cache.tokens, nRows: cache.nRows, ctx: cache.ctx });
      const reader = SafetensorsReader.fromBytes(bytes);
      expect(reader.entry('locations').dtype).toBe('U16');
      expect(reader.entry('activations').dtype).toBe('F16');
      expect(reader.entry('tokens')).toMatchObject({ dtype: 'I64', shape: [12, 16] });
      const split = await decodeDelphiSplit(bytes, `hook/${splitFileName(range)}`);
      expect(split).toMatchObject({ ...range, nRows: 12, ctx: 16, locationsDtype: 'U16' });
      expect(tuples(split)).toEqual(expectedTuples(cache, range));
      expect(tuples(split).some(([, , f]) => f === range.start)).toBe(true);
      expect(tuples(split).some(([, , f]) => f === range.end)).toBe(true);
      expect(split.tokens).toEqual(cache.tokens);
      // Locations are stored relative to the split's start.
      const raw = new Uint16Array((await reader.raw('locations')).slice().buffer);
      expect(Math.max(...Array.from(raw.filter((_, i) => i % 3 === 2)))).toBe(range.end - range.start);
    }
  });

  test('U32 when a row or a feature offset reaches 2^16, as delphi; also when a position does (delphi would wrap it)', async () => {
    const cases: { what: string; cache: Sparse; nSplits: number }[] = [
      { what: 'rows', cache: randomCache(2, 70_000, 1, 50, 1, 1), nSplits: 1 },
      { what: 'feature offset', cache: randomCache(3, 4, 8, 200_000, 2, 4), nSplits: 2 },
      { what: 'position', cache: randomCache(4, 1, 70_000, 20, 1, 1), nSplits: 1 },
    ];
    for (const { cache, nSplits } of cases) {
      const range = splitRanges(cache.width, nSplits)[0]!;
      const part = subset(cache, range);
      const bytes = encodeDelphiSplit({ ...part, ...range, tokens: cache.tokens, nRows: cache.nRows, ctx: cache.ctx });
      const split = await decodeDelphiSplit(new Blob([bytes]), splitFileName(range));
      let big = 0;
      for (let i = 0; i < split.rows.length; i++) big = Math.max(big, split.rows[i]!, split.positions[i]!, split.features[i]! - range.start);
      expect(big).toBeGreaterThanOrEqual(65536);
      expect(split.locationsDtype).toBe('U32');
      expect(tuples(split)).toEqual(expectedTuples(cache, range));
    }
    // Just below the limit stays U16.
    const range = { start: 100, end: 100 + 65535 };
    const bytes = encodeDelphiSplit({ ...range, rows: Uint32Array.of(0, 65535), positions: Uint32Array.of(0, 0), features: Uint32Array.of(100, 100 + 65535), values: Float32Array.of(1, 2), tokens: new Int32Array(65536), nRows: 65536, ctx: 1 });
    expect(SafetensorsReader.fromBytes(bytes).entry('locations').dtype).toBe('U16');
  });

  test('an empty split is an empty U16 [0, 3] tensor', async () => {
    const bytes = encodeDelphiSplit({ start: 0, end: 9, rows: new Uint32Array(), positions: new Uint32Array(), features: new Uint32Array(), values: new Float32Array(), tokens: Uint32Array.of(1, 2, 3, 4), nRows: 2, ctx: 2 });
    expect(SafetensorsReader.fromBytes(bytes).entry('locations')).toMatchObject({ dtype: 'U16', shape: [0, 3] });
    const split = await decodeDelphiSplit(bytes, '0_9.safetensors');
    expect(split.rows.length).toBe(0);
    expect(Array.from(split.tokens!)).toEqual([1, 2, 3, 4]);
  });

  test('values are rounded to float16 as torch .half() does', async () => {
    const values = Float32Array.of(0.1, 1 / 3, 70000, 1e-8, -2.5);
    const bytes = encodeDelphiSplit({ start: 0, end: 4, rows: new Uint32Array(5), positions: new Uint32Array(5), features: Uint32Array.of(0, 1, 2, 3, 4), values, tokens: new Int32Array(1), nRows: 1, ctx: 1 });
    const split = await decodeDelphiSplit(bytes, '0_4.safetensors');
    expect(Array.from(split.values)).toEqual(Array.from(float16BitsToFloat32(Uint16Array.from(values, float32ToFloat16Bits))));
    expect(split.values[2]).toBe(Infinity);
  });

  test('float32 -> float16 on bit patterns agrees with float32ToFloat16Bits everywhere (ties, subnormals, overflow)', async () => {
    const patterns: number[] = [0, 0x80000000, 0x7f800000, 0xff800000, 0x477fefff, 0x477ff000, 0x477fffff, 0x33000000, 0x33000001, 0x387fc000, 0x38800000, 0x3f801000, 0x3f803000];
    for (let x = 0; x < 2 ** 32; x += 20_011) patterns.push(x);
    const bits = Uint32Array.from(patterns.filter((x) => (x & 0x7f800000) !== 0x7f800000 || (x & 0x7fffff) === 0)); // no NaNs
    const values = new Float32Array(bits.buffer);
    const n = values.length;
    const bytes = encodeDelphiSplit({ start: 0, end: n - 1, rows: new Uint32Array(n), positions: new Uint32Array(n), features: Uint32Array.from({ length: n }, (_, i) => i), values, tokens: new Int32Array(1), nRows: 1, ctx: 1 });
    const reader = SafetensorsReader.fromBytes(bytes);
    const halves = new Uint16Array((await reader.raw('activations')).slice().buffer);
    const reference = Uint16Array.from(values, float32ToFloat16Bits);
    const firstDifference = halves.findIndex((h, i) => h !== reference[i]);
    expect(firstDifference === -1 ? 'all equal' : `bits 0x${bits[firstDifference]!.toString(16)}: ${halves[firstDifference]} vs ${reference[firstDifference]}`).toBe('all equal');
    // float16 bits given directly are written unchanged.
    const direct = encodeDelphiSplit({ start: 0, end: n - 1, rows: new Uint32Array(n), positions: new Uint32Array(n), features: Uint32Array.from({ length: n }, (_, i) => i), values: halves, tokens: new Int32Array(1), nRows: 1, ctx: 1 });
    expect(Buffer.compare(direct, bytes)).toBe(0);
    const nan = encodeDelphiSplit({ start: 0, end: 0, rows: new Uint32Array(1), positions: new Uint32Array(1), features: new Uint32Array(1), values: Float32Array.of(NaN), tokens: new Int32Array(1), nRows: 1, ctx: 1 });
    expect((await decodeDelphiSplit(nan, '0_0.safetensors')).values[0]).toBeNaN();
  });

  test('refuses bad input with delphi/bad-input', async () => {
    const base = { start: 10, end: 19, rows: Uint32Array.of(0, 1), positions: Uint32Array.of(0, 1), features: Uint32Array.of(10, 19), values: Float32Array.of(1, 2), tokens: new Int32Array(4), nRows: 2, ctx: 2 };
    expect(await codeOf(() => encodeDelphiSplit(base))).toBe('ok');
    expect(await codeOf(() => encodeDelphiSplit({ ...base, features: Uint32Array.of(10, 20) }))).toBe('delphi/bad-input');
    expect(await codeOf(() => encodeDelphiSplit({ ...base, features: Uint32Array.of(9, 10) }))).toBe('delphi/bad-input');
    expect(await codeOf(() => encodeDelphiSplit({ ...base, rows: Uint32Array.of(0, 2) }))).toBe('delphi/bad-input');
    expect(await codeOf(() => encodeDelphiSplit({ ...base, positions: Uint32Array.of(0, 2) }))).toBe('delphi/bad-input');
    expect(await codeOf(() => encodeDelphiSplit({ ...base, tokens: new Int32Array(3) }))).toBe('delphi/bad-input');
    expect(await codeOf(() => encodeDelphiSplit({ ...base, tokens: Int32Array.of(0, -1, 0, 0) }))).toBe('delphi/bad-input');
    expect(await codeOf(() => encodeDelphiSplit({ ...base, values: Float32Array.of(1) }))).toBe('delphi/bad-input');
    expect(await codeOf(() => encodeDelphiSplit({ ...base, rows: Uint32Array.of(1, 1), positions: Uint32Array.of(1, 1), features: Uint32Array.of(12, 12) }))).toBe('delphi/bad-input');
  });

  test('import accepts other int dtypes and unsorted locations, and names what is wrong', async () => {
    const tokens: TensorToWrite = { dtype: 'I32', shape: [2, 3], data: Int32Array.of(5, 6, 7, 8, 9, 10) };
    const file = (locations: TensorToWrite, activations: TensorToWrite = { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2, 3) }, extra: Record<string, TensorToWrite> = { tokens }) =>
      encodeSafetensors({ locations, activations, ...extra });
    // I64 locations (delphi's unsplit `save`), F32 activations, I32 tokens, stored out of order.
    const unsorted = file({ dtype: 'I64', shape: [3, 3], data: BigInt64Array.of(1n, 2n, 0n, 0n, 1n, 4n, 0n, 1n, 3n) });
    const split = await decodeDelphiSplit(unsorted, '100_104.safetensors');
    expect(tuples(split)).toEqual([
      [0, 1, 103, 3],
      [0, 1, 104, 2],
      [1, 2, 100, 1],
    ]);
    expect(Array.from(split.tokens!)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(split.locationsDtype).toBe('I64');
    const u8 = file({ dtype: 'U8', shape: [3, 3], data: Uint8Array.of(0, 0, 0, 0, 1, 1, 1, 2, 4) });
    expect(tuples(await decodeDelphiSplit(u8, '0_4.safetensors')).map((t) => t[2])).toEqual([0, 1, 4]);

    const cases: [string, Uint8Array, string][] = [
      ['offset beyond the range', file({ dtype: 'U16', shape: [3, 3], data: Uint16Array.of(0, 0, 0, 0, 1, 1, 1, 2, 5) }), 'delphi/out-of-range'],
      ['row beyond the tokens', file({ dtype: 'U16', shape: [3, 3], data: Uint16Array.of(0, 0, 0, 0, 1, 1, 2, 0, 0) }), 'delphi/out-of-range'],
      ['position beyond ctx', file({ dtype: 'U16', shape: [3, 3], data: Uint16Array.of(0, 0, 0, 0, 3, 1, 1, 0, 0) }), 'delphi/out-of-range'],
      ['negative location', file({ dtype: 'I32', shape: [3, 3], data: Int32Array.of(0, 0, 0, 0, -1, 1, 1, 0, 0) }), 'delphi/out-of-range'],
      ['duplicate location', file({ dtype: 'U16', shape: [3, 3], data: Uint16Array.of(1, 0, 0, 0, 1, 1, 1, 0, 0) }), 'delphi/bad-split'],
      ['float locations', file({ dtype: 'F32', shape: [3, 3], data: new Float32Array(9) }), 'delphi/bad-dtype'],
      ['int activations', file({ dtype: 'U16', shape: [3, 3], data: new Uint16Array(9) }, { dtype: 'I32', shape: [3], data: new Int32Array(3) }), 'delphi/bad-dtype'],
      ['float tokens', file({ dtype: 'U16', shape: [3, 3], data: new Uint16Array(9) }, undefined, { tokens: { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) } }), 'delphi/bad-dtype'],
      ['locations [N, 2]', file({ dtype: 'U16', shape: [3, 2], data: new Uint16Array(6) }, { dtype: 'F32', shape: [3], data: new Float32Array(3) }), 'delphi/bad-split'],
      ['N differs', file({ dtype: 'U16', shape: [2, 3], data: new Uint16Array(6) }), 'delphi/bad-split'],
      ['no tokens', file({ dtype: 'U16', shape: [3, 3], data: Uint16Array.of(0, 0, 0, 0, 1, 1, 1, 2, 4) }, undefined, {}), 'delphi/missing-tokens'],
      ['no activations', encodeSafetensors({ locations: { dtype: 'U16', shape: [0, 3], data: new Uint16Array() }, tokens }), 'delphi/bad-split'],
      ['not safetensors', new Uint8Array(20), 'delphi/bad-split'],
    ];
    for (const [what, bytes, code] of cases) expect([what, await codeOf(decodeDelphiSplit(bytes, 'dir/0_4.safetensors'))]).toEqual([what, code]);
    expect(await codeOf(decodeDelphiSplit(u8, 'dir/0-4.safetensors'))).toBe('delphi/bad-split');
    expect(await codeOf(decodeDelphiSplit(u8, 'dir/4_0.safetensors'))).toBe('delphi/bad-split');
    // Without tokens, the folder's shape makes it readable.
    const noTokens = file({ dtype: 'U16', shape: [3, 3], data: Uint16Array.of(0, 0, 0, 0, 1, 1, 1, 2, 4) }, undefined, {});
    expect((await decodeDelphiSplit(noTokens, '0_4.safetensors', { nRows: 2, ctx: 3 })).tokens).toBeNull();
  });
});

describe('a delphi cache written by an independent Python script (test/fixtures/delphi)', () => {
  interface Expected {
    width: number;
    nRows: number;
    ctx: number;
    config: Record<string, unknown>;
    tokens: number[][];
    hooks: Record<string, { splits: { file: string; start: number; end: number; count: number; locationsDtype: string }[]; activations: { row: number; position: number; feature: number; bits: number; value: number }[] }>;
  }
  const expected = JSON.parse(readFileSync(join(FIXTURE, 'expected.json'), 'utf8')) as Expected;

  test('readDelphiFolder finds both hooks and every split decodes to expected.json', async () => {
    const junk = new Blob(['not part of the cache']);
    const files = [
      ...fixtureFiles(),
      { path: 'cache/README.txt', blob: junk },
      { path: 'cache/layers.2/._0_12.safetensors', blob: junk },
      { path: '__MACOSX/cache/layers.2/._0_12.safetensors', blob: junk },
    ];
    const hooks = await readDelphiFolder(files);
    expect(hooks.map((h) => h.hook)).toEqual(Object.keys(expected.hooks));
    for (const hook of hooks) {
      const want = expected.hooks[hook.hook]!;
      expect(hook).toMatchObject({ dir: `cache/${hook.hook}`, width: expected.width, nRows: expected.nRows, ctx: expected.ctx, config: expected.config, warnings: [] });
      expect(Array.from(hook.tokens)).toEqual(expected.tokens.flat());
      expect(hook.splits.map((s) => ({ file: s.path.split('/').pop(), start: s.start, end: s.end, count: s.count, locationsDtype: s.locationsDtype }))).toEqual(want.splits);
      expect(hook.nonZeros).toBe(want.activations.length);
      const got: { row: number; position: number; feature: number; value: number }[] = [];
      for (const file of hook.splits) {
        const split = await decodeDelphiSplit(file.blob, file.path, { tokens: false, nRows: hook.nRows, ctx: hook.ctx });
        expect(split.tokens).toBeNull();
        for (const [row, position, feature, value] of tuples(split)) got.push({ row, position, feature, value });
      }
      // Split by split, then merged into delphi's global (row, position, feature) order.
      got.sort((x, y) => x.row - y.row || x.position - y.position || x.feature - y.feature);
      expect(got).toEqual(want.activations.map(({ row, position, feature, value }) => ({ row, position, feature, value })));
      // Every half value is exactly what Python's struct 'e' decoded.
      expect(want.activations.map((a) => a.value)).toEqual(Array.from(float16BitsToFloat32(Uint16Array.from(want.activations, (a) => a.bits))));
    }
    // Both hooks hold the same token matrix: one copy, one hash.
    expect(hooks[0]!.tokensHash).toBe(hooks[1]!.tokensHash);
    expect(hooks[0]!.tokens).toBe(hooks[1]!.tokens);
  });

  test.skipIf(!hasTool('python3'))('the committed files are what make_fixture.py writes', () => {
    const out = join(work, 'fixture');
    mkdirSync(out, { recursive: true });
    execFileSync('python3', [join(FIXTURE, 'make_fixture.py'), '--out', out]);
    const list = (root: string): string[] =>
      readdirSync(root, { withFileTypes: true, recursive: true })
        .filter((e) => e.isFile())
        .map((e) => relative(root, join(e.parentPath, e.name)))
        .sort();
    const made = list(out);
    expect(made).toEqual(list(FIXTURE).filter((p) => made.includes(p) || p.startsWith('tiny')));
    for (const path of made) expect([path, readFileSync(join(out, path))]).toEqual([path, readFileSync(join(FIXTURE, path))]);
  });

  test('a split decoded on its own carries the token matrix', async () => {
    const split = await decodeDelphiSplit(new Blob([readFileSync(join(FIXTURE, 'tiny/layers.2/13_25.safetensors'))]), 'layers.2/13_25.safetensors');
    expect(Array.from(split.tokens!)).toEqual(expected.tokens.flat());
    expect(split.locationsDtype).toBe('U16');
  });

  test('clear errors for broken folders', async () => {
    const files = fixtureFiles().filter((f) => f.path.startsWith('cache/layers.2/'));
    const without = (name: string) => files.filter((f) => !f.path.endsWith(name));
    const renamed = (from: string, to: string) => files.map((f) => (f.path.endsWith(from) ? { ...f, path: f.path.replace(from, to) } : f));
    const replaced = (name: string, blob: Blob) => files.map((f) => (f.path.endsWith(name) ? { ...f, blob } : f));
    const bytesOf = (name: string): Uint8Array<ArrayBuffer> => new Uint8Array(readFileSync(join(FIXTURE, 'tiny/layers.2', name)));

    expect(await codeOf(readDelphiFolder(files))).toBe('ok');
    expect(await codeOf(readDelphiFolder(without('config.json')))).toBe('delphi/missing-config');
    expect(await codeOf(readDelphiFolder([]))).toBe('delphi/missing-config');
    expect(await codeOf(readDelphiFolder(files.filter((f) => f.path.endsWith('config.json'))))).toBe('delphi/bad-split');
    expect(await codeOf(readDelphiFolder([...files, { path: 'cache/layers.2/0_12 (copy).safetensors', blob: files[0]!.blob }]))).toBe('delphi/bad-split');
    expect(await codeOf(readDelphiFolder(without('13_25.safetensors')))).toBe('delphi/ranges');
    expect(await codeOf(readDelphiFolder(without('0_12.safetensors')))).toBe('delphi/ranges');
    expect(await codeOf(readDelphiFolder(renamed('13_25.safetensors', '12_25.safetensors')))).toBe('delphi/ranges');
    expect(await codeOf(readDelphiFolder([...files, { path: 'cache/layers.2/5_7.safetensors', blob: files[0]!.blob }]))).toBe('delphi/ranges');
    // The last split alone is a gap at the start.
    const config = files.find((f) => f.path.endsWith('config.json'))!;
    expect(await codeOf(readDelphiFolder([config, files.find((f) => f.path.endsWith('26_39.safetensors'))!]))).toBe('delphi/ranges');

    // One token changed in one split.
    const changed = bytesOf('13_25.safetensors');
    const reader = SafetensorsReader.fromBytes(changed);
    changed[reader.entry('tokens').begin + 8 * 9] ^= 1;
    const error = await readDelphiFolder(replaced('13_25.safetensors', new Blob([changed]))).catch((e: unknown) => e as Error);
    expect(errorCode(error)).toBe('delphi/mismatch');
    expect((error as Error).message).toMatch(/row 1, position 1/);

    // A config whose context does not match the token matrix.
    const wrongCtx = new Blob([new TextDecoder().decode(bytesOf('config.json')).replace('"cache_ctx_len": 8', '"cache_ctx_len": 16')]);
    expect(await codeOf(readDelphiFolder(replaced('config.json', wrongCtx)))).toBe('delphi/mismatch');

    // A token matrix of another shape.
    const other = encodeSafetensors({
      locations: { dtype: 'U16', shape: [0, 3], data: new Uint16Array() },
      activations: { dtype: 'F16', shape: [0], data: new Uint16Array() },
      tokens: { dtype: 'I64', shape: [2, 8], data: new BigInt64Array(16) },
    });
    expect(await codeOf(readDelphiFolder(replaced('26_39.safetensors', new Blob([other as Uint8Array<ArrayBuffer>]))))).toBe('delphi/mismatch');

    // Wrong dtypes found from the header alone.
    const floatLocations = encodeSafetensors({
      locations: { dtype: 'F32', shape: [0, 3], data: new Float32Array() },
      activations: { dtype: 'F16', shape: [0], data: new Uint16Array() },
      tokens: { dtype: 'I64', shape: [4, 8], data: new BigInt64Array(32) },
    });
    expect(await codeOf(readDelphiFolder(replaced('26_39.safetensors', new Blob([floatLocations as Uint8Array<ArrayBuffer>]))))).toBe('delphi/bad-dtype');

    // Locations out of range are found when the split is decoded.
    const outOfRange = encodeSafetensors({
      tokens: { dtype: 'I64', shape: [4, 8], data: BigInt64Array.from(expected.tokens.flat(), BigInt) },
      locations: { dtype: 'U16', shape: [1, 3], data: Uint16Array.of(0, 0, 14) },
      activations: { dtype: 'F16', shape: [1], data: Uint16Array.of(0x3c00) },
    });
    const hooks = await readDelphiFolder(replaced('26_39.safetensors', new Blob([outOfRange as Uint8Array<ArrayBuffer>])));
    const last = hooks[0]!.splits[2]!;
    expect(await codeOf(decodeDelphiSplit(last.blob, last.path, { tokens: false, nRows: 4, ctx: 8 }))).toBe('delphi/out-of-range');

    // Splits saved without tokens: fine as long as one has them; an error when none has.
    const stripTokens = (name: string) => {
      const r = SafetensorsReader.fromBytes(bytesOf(name));
      const copy = (t: string) => ({ dtype: r.entry(t).dtype, shape: r.entry(t).shape, data: bytesOf(name).slice(r.entry(t).begin, r.entry(t).end) });
      return new Blob([encodeSafetensors({ locations: copy('locations'), activations: copy('activations') }) as Uint8Array<ArrayBuffer>]);
    };
    let stripped = replaced('0_12.safetensors', stripTokens('0_12.safetensors'));
    stripped = stripped.map((f) => (f.path.endsWith('26_39.safetensors') ? { ...f, blob: stripTokens('26_39.safetensors') } : f));
    const partial = await readDelphiFolder(stripped);
    expect(partial[0]!.splits.map((s) => s.hasTokens)).toEqual([false, true, false]);
    expect(Array.from(partial[0]!.tokens)).toEqual(expected.tokens.flat());
    stripped = stripped.map((f) => (f.path.endsWith('13_25.safetensors') ? { ...f, blob: stripTokens('13_25.safetensors') } : f));
    expect(await codeOf(readDelphiFolder(stripped))).toBe('delphi/missing-tokens');

    // n_splits that disagrees with the files is only a warning.
    const fourSplits = new Blob([new TextDecoder().decode(bytesOf('config.json')).replace('"n_splits": 3', '"n_splits": 4')]);
    expect((await readDelphiFolder(replaced('config.json', fourSplits)))[0]!.warnings).toEqual([expect.stringMatching(/n_splits 4/)]);

    // Files dropped without their folder, with Windows separators elsewhere.
    const flat = files.map((f) => ({ ...f, path: f.path.split('/').pop()! }));
    const flatHooks = await readDelphiFolder(flat);
    expect(flatHooks[0]!.hook).toBe('');
    expect(flatHooks[0]!.warnings).toEqual([expect.stringMatching(/hook point is unknown/)]);
    const windows = await readDelphiFolder(files.map((f) => ({ ...f, path: f.path.split('/').join('\\') })));
    expect(windows[0]!.hook).toBe('layers.2');
  });
});

describe('exportDelphiZip', () => {
  test('round trip through a zip: several hooks, progress, every split back as it went in', async () => {
    const a = randomCache(5, 20, 32, 3000, 5);
    const b = randomCache(6, 20, 32, 512, 3);
    b.tokens.set(a.tokens); // same corpus, another SAE
    const events: DelphiExportProgress[] = [];
    const zip = await exportDelphiZip([hookExport('blocks.6.hook_resid_post', a, 5), hookExport('blocks.8.hook_mlp_out', b, 3)], { onProgress: (e) => events.push(e), date: new Date(2024, 0, 1) });
    expect((await readZip(zip)).map((e) => e.path)).toEqual([
      'blocks.6.hook_resid_post/config.json',
      ...splitRanges(3000, 5).map((r) => `blocks.6.hook_resid_post/${splitFileName(r)}`),
      'blocks.8.hook_mlp_out/config.json',
      ...splitRanges(512, 3).map((r) => `blocks.8.hook_mlp_out/${splitFileName(r)}`),
    ]);
    // Progress never goes backwards and ends at every split written.
    for (let i = 1; i < events.length; i++) expect(events[i]!.bytes).toBeGreaterThanOrEqual(events[i - 1]!.bytes);
    expect(events.filter((e) => e.hook === 'blocks.6.hook_resid_post').pop()).toMatchObject({ split: 5, splits: 5 });
    expect(events.at(-1)).toMatchObject({ hook: 'blocks.8.hook_mlp_out', split: 3, splits: 3 });

    const hooks = await readDelphiZip(zip);
    expect(hooks.map((h) => h.hook)).toEqual(['blocks.6.hook_resid_post', 'blocks.8.hook_mlp_out']);
    expect(hooks[0]!.tokens).toBe(hooks[1]!.tokens);
    for (const [hook, cache, n] of [[hooks[0]!, a, 5], [hooks[1]!, b, 3]] as const) {
      expect(hook).toMatchObject({ width: cache.width, nRows: cache.nRows, ctx: cache.ctx, nonZeros: cache.rows.length, warnings: [] });
      expect(hook.config.n_splits).toBe(n);
      expect(hook.tokens).toEqual(cache.tokens);
      for (const file of hook.splits) {
        const split = await decodeDelphiSplit(file.blob, file.path, { tokens: false, nRows: hook.nRows, ctx: hook.ctx });
        expect(tuples(split)).toEqual(expectedTuples(cache, file));
      }
    }
  });

  test.skipIf(!hasTool('python3'))("Python's struct reader (in make_fixture.py) reads the exported files as we meant them", async () => {
    const cache = randomCache(7, 6, 16, 300, 4);
    const out = join(work, 'export');
    for await (const file of delphiFiles(hookExport('layers.3', cache, 4))) {
      mkdirSync(dirname(join(out, file.path)), { recursive: true });
      writeFileSync(join(out, file.path), file.bytes);
    }
    const dump = JSON.parse(execFileSync('python3', [join(FIXTURE, 'make_fixture.py'), '--dump', out], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as Record<
      string,
      { config: Record<string, unknown>; splits: { file: string; start: number; end: number; dtypes: Record<string, string>; tokensShape: number[]; tokens: number[]; activations: [number, number, number, number][] }[] }
    >;
    expect(Object.keys(dump)).toEqual(['layers.3']);
    const hook = dump['layers.3']!;
    expect(hook.config).toEqual(delphiConfig({ modelName: 'openai-community/gpt2', ctx: 16, nTokens: 96, nSplits: 4 }));
    expect(hook.splits.map((s) => s.file)).toEqual(splitRanges(300, 4).map(splitFileName));
    for (const split of hook.splits) {
      expect(split.dtypes).toEqual({ tokens: 'I64', locations: 'U16', activations: 'F16' });
      expect(split.tokensShape).toEqual([6, 16]);
      expect(split.tokens).toEqual(Array.from(cache.tokens));
      expect(split.activations).toEqual(expectedTuples(cache, split));
    }
  });

  test('refuses a bad hook name, a context that disagrees with the config, and duplicate hooks', async () => {
    const cache = randomCache(8, 2, 4, 10, 2);
    const good = hookExport('layers.1', cache, 2);
    expect(await codeOf(exportDelphiZip({ ...good, hook: 'a/b' }))).toBe('delphi/bad-input');
    expect(await codeOf(exportDelphiZip({ ...good, hook: '..' }))).toBe('delphi/bad-input');
    expect(await codeOf(exportDelphiZip({ ...good, config: { ...good.config, cache_ctx_len: 5 } }))).toBe('delphi/bad-input');
    expect(await codeOf(exportDelphiZip([good, good]))).toBe('delphi/bad-input');
    expect(await codeOf(exportDelphiZip({ ...good, nonZeros: (range) => ({ ...subset(cache, range), features: new Uint32Array(subset(cache, range).features.length).fill(range.end + 1) }) }))).toBe('delphi/bad-input');
    const controller = new AbortController();
    controller.abort();
    expect(await codeOf(exportDelphiZip(good, { signal: controller.signal }))).toBe('cancelled');
  });
});
