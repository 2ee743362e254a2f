import { describe, expect, test } from 'vitest';
import { chunkRowsFor, chunkToShards, featureInShard, MAX_CHUNK_TOKENS, mergeShardRecords, SHARD_FEATURES } from '../../../src/lib/storage/index.ts';
import { float16BitsToFloat32 } from '../../../src/lib/formats/index.ts';
import { concatSparse, packTopK } from '../../../src/lib/sae/index.ts';

const width = 2500; // three shards, the last one partial
const tokens = 300;
const k = 5;
const values = new Float32Array(tokens * k);
const indices = new BigInt64Array(tokens * k);
for (let t = 0; t < tokens; t++) {
  for (let j = 0; j < k; j++) {
    values[t * k + j] = j === 4 && t % 3 === 0 ? 0 : 1 + ((t * 7 + j) % 13) / 4; // some zeros are dropped
    indices[t * k + j] = BigInt((t * 997 + j * 499) % width);
  }
}
/** Tokens [from, to) of the chunk, as the engine would return them for those rows. */
const tokensOf = (from: number, to: number) => packTopK(values.subarray(from * k, to * k), indices.subarray(from * k, to * k), to - from, k);

describe('chunkToShards', () => {
  test('regroups token-major activations by feature, losslessly up to float16', () => {
    const sparse = tokensOf(0, tokens);
    const records = chunkToShards(sparse, width);
    expect(records.map((r) => r.shard)).toEqual([0, 1, 2]);
    expect(records.reduce((n, r) => n + r.tokens.length, 0)).toBe(sparse.features.length);
    for (let f = 0; f < width; f += 37) {
      const part = featureInShard(records[Math.floor(f / SHARD_FEATURES)]!, f);
      const expected: [number, number][] = [];
      for (let t = 0; t < tokens; t++) {
        for (let i = sparse.offsets[t]!; i < sparse.offsets[t + 1]!; i++) if (sparse.features[i] === f) expected.push([t, sparse.values[i]!]);
      }
      expect(Array.from(part.tokens)).toEqual(expected.map(([t]) => t));
      // The values here are multiples of 1/4 below 5: exact in float16.
      expect(Array.from(float16BitsToFloat32(part.values))).toEqual(expected.map(([, v]) => v));
    }
  });

  test('chunks never exceed what uint16 positions and counts can hold', () => {
    expect(chunkRowsFor(256) * 256).toBeLessThanOrEqual(MAX_CHUNK_TOKENS);
    expect(chunkRowsFor(1)).toBe(MAX_CHUNK_TOKENS);
    expect(() => chunkToShards(concatSparse([{ tokens: MAX_CHUNK_TOKENS + 1, offsets: new Uint32Array(MAX_CHUNK_TOKENS + 2), features: new Uint32Array(), values: new Float32Array() }]), 10)).toThrow(/at most/);
  });
});

describe('mergeShardRecords', () => {
  test('parts of a chunk, regrouped from their first token and merged in order, are the whole chunk\'s records', () => {
    const whole = chunkToShards(tokensOf(0, tokens), width);
    for (const cuts of [[1], [150], [299], [40, 41, 200], [64, 128, 192, 256]]) {
      const bounds = [0, ...cuts, tokens];
      const parts = bounds.slice(1).map((end, i) => chunkToShards(tokensOf(bounds[i]!, end), width, bounds[i]!));
      const merged = parts.reduce((stored, part) => stored.map((record, s) => mergeShardRecords(record, part[s]!)));
      expect(merged, `cut at ${cuts.join(', ')}`).toEqual(whole);
      // Exactly sized arrays: a stored record must not carry a larger buffer.
      for (const record of merged) expect(record.tokens.buffer.byteLength).toBe(record.tokens.byteLength);
    }
  });

  test('refuses parts out of order or of another shard', () => {
    const first = chunkToShards(tokensOf(0, 100), width);
    const second = chunkToShards(tokensOf(100, 200), width, 100);
    expect(() => mergeShardRecords(second[0]!, first[0]!)).toThrow(/not after/);
    expect(() => mergeShardRecords(first[0]!, first[0]!)).toThrow(/not after/); // the same part twice
    expect(() => mergeShardRecords(first[0]!, second[1]!)).toThrow(/cannot merge/);
    expect(() => mergeShardRecords(first[1]!, second[2]!)).toThrow(/cannot merge/);
  });

  test('a part is placed at its first token, and a chunk still ends at the uint16 limit', () => {
    const [record] = chunkToShards(tokensOf(0, 3), 10, 1000);
    expect(Math.min(...record!.tokens)).toBeGreaterThanOrEqual(1000);
    expect(() => chunkToShards(tokensOf(0, 3), 10, MAX_CHUNK_TOKENS - 2)).toThrow(/at most/);
  });
});
