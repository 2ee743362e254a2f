/**
 * `npm run bench`: the speed of every stage, as one table and one flat `bench/results.json` (each figure a
 * top-level number under the name the stage issues use, with `machine`, `adapter` and `preset`):
 *   - the activation engine in Chromium's WebGPU (bench/engine.ts): GPT-2 small's dimensions (random
 *     weights) up to an SAE's hook, the SAE encode and the sparse read-back; the cache run into
 *     IndexedDB and the store's bytes per non-zero, against delphi's layout for the same non-zeros;
 *   - the feature records in Node (the worker's code): the statistics pass and every feature's record
 *     over a synthetic cache;
 *   - explaining against the LLM stand-in: how busy a concurrency of 8 keeps it, and the prompt tokens
 *     a feature takes to explain and to score with each scorer (bench/llm-concurrency.ts, scorers.ts);
 *   - the features table of 131072 features in Chromium (bench/table.ts).
 *
 *   npm run bench -- --quick          # minutes on a 2-core machine with SwiftShader (CPU WebGPU)
 *   npm run bench                     # the full preset: layers 0, 6, 11 x SAE widths 24576, 32768,
 *                                     # 131072 x TopK and ReLU, 16 x 256 tokens a call (for a real GPU)
 *   WEBGPU_ADAPTER=gpu npm run bench  # the machine's GPU instead of SwiftShader
 *   npm run bench -- --only records   # one part (engine, records, llm, scorers, table); the others'
 *                                     # figures in bench/results.json are kept
 *   BENCH_ROWS / BENCH_SEQ / BENCH_REPEATS / BENCH_RECORD_ROWS override the preset's sizes.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { computeFeatureStats, delphiNonZerosOf, encodeDelphiSplit, forEachFeatureRecord, memoryCacheReader, splitRanges, syntheticTokens, syntheticTopK } from '../src/lib/index.ts';
import { benchEngine, ENGINE_PRESETS, GPT2_SMALL, hookOf, SAE_K } from './engine.ts';
import { benchLlmConcurrency } from './llm-concurrency.ts';
import { benchScorers } from './scorers.ts';
import { benchFeaturesTable } from './table.ts';

const root = resolve(import.meta.dirname, '..');
/** The records part's SAE: the engine's first case's width. */
const RECORDS_WIDTH = 32768;

/**
 * delphi's bytes per non-zero for the store's chunk (65280 tokens x k 32 of a 32768-wide SAE, as
 * engine.timeStorage writes): its 5 split files, each with uint16 or uint32 locations, float16 values
 * and the whole token matrix again, encoded by this project's delphi writer.
 */
function delphiBytes(): Record<string, number> {
  const ctx = 256;
  const nRows = 255;
  const nTokens = nRows * ctx;
  const tokens = syntheticTokens(nTokens, GPT2_SMALL.vocab_size - 1, 4);
  const sparse = syntheticTopK(nTokens, SAE_K, RECORDS_WIDTH, 3);
  let bytes = 0;
  for (const range of splitRanges(RECORDS_WIDTH, 5)) {
    bytes += encodeDelphiSplit({ ...range, tokens, nRows, ctx, ...delphiNonZerosOf(sparse, ctx, range) }).byteLength;
  }
  return { delphi_bytes_per_nonzero: Number((bytes / (nTokens * SAE_K)).toFixed(3)) };
}

/**
 * The feature-records stage in Node: src/lib/latents/records is plain TypeScript, the same code the
 * interp worker runs in the browser, so V8 here gives the browser's figure without one. A 1M-token
 * cache (3907 rows x 256) of a 32768-wide TopK(32) SAE, synthetic activations held in memory (about
 * 1 GB with the reader's copy grouped by feature), rows starting with BOS. Building the synthetic data
 * is not timed. `BENCH_RECORD_ROWS` sets the rows.
 */
async function recordsBench(defaultRows: number): Promise<Record<string, number | string>> {
  const rows = Number(process.env.BENCH_RECORD_ROWS ?? defaultRows);
  const ctx = 256;
  const nTokens = rows * ctx;
  let started = performance.now();
  const tokens = syntheticTokens(nTokens, GPT2_SMALL.vocab_size - 1, 4);
  for (let r = 0; r < rows; r++) tokens[r * ctx] = GPT2_SMALL.bos_token_id;
  const reader = memoryCacheReader({ tokens, ctx, width: RECORDS_WIDTH, activations: syntheticTopK(nTokens, SAE_K, RECORDS_WIDTH, 3), hook: hookOf(6), prependBos: true });
  console.log(`synthetic cache: ${nTokens} tokens, ${reader.nonZeros} non-zeros, built in ${((performance.now() - started) / 1000).toFixed(1)} s (not timed)`);
  // Best of two: the first pass also warms the JIT.
  let statsSeconds = Infinity;
  for (let pass = 0; pass < 2; pass++) {
    started = performance.now();
    await computeFeatureStats(reader);
    statsSeconds = Math.min(statsSeconds, (performance.now() - started) / 1000);
  }
  console.log(`feature statistics: ${statsSeconds.toFixed(2)} s`);
  started = performance.now();
  let built = 0;
  await forEachFeatureRecord(reader, { minExamples: 0 }, () => void built++);
  const recordsSeconds = (performance.now() - started) / 1000;
  console.log(`records of all ${built} features: ${recordsSeconds.toFixed(1)} s`);
  const figures = {
    stats_nonzeros_per_s: Math.round(reader.nonZeros / statsSeconds),
    records_all_features_s: round(recordsSeconds),
    records_workload: `Node ${process.versions.node} (the worker's code): ${rows} rows x ${ctx} tokens of a ${RECORDS_WIDTH}-wide TopK(${SAE_K}) SAE, ${reader.nonZeros} non-zeros, ${built} records`,
    records_tokens: nTokens,
    ...delphiBytes(),
  };
  return figures;
}

const { values: args } = parseArgs({ options: { only: { type: 'string' }, quick: { type: 'boolean' } } });
const PARTS = ['engine', 'records', 'llm', 'scorers', 'table'];
if (args.only !== undefined && !PARTS.includes(args.only)) {
  console.error(`--only: "${args.only}" is not one of ${PARTS.join(', ')}.`);
  process.exit(2);
}
const presetName = args.quick ? 'quick' : 'full';
const base = ENGINE_PRESETS[presetName];
const preset = {
  ...base,
  rows: Number(process.env.BENCH_ROWS ?? base.rows),
  seq: Number(process.env.BENCH_SEQ ?? base.seq),
  repeats: Number(process.env.BENCH_REPEATS ?? base.repeats),
};
const resultsFile = join(root, 'bench/results.json');
const previous = existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>) : {};
// Only flat figures carry over (files from before kept objects: they are dropped).
const figures: Record<string, number | string> = Object.fromEntries(Object.entries(previous).filter(([, value]) => typeof value === 'number' || typeof value === 'string')) as Record<string, number | string>;
const part = (name: string) => args.only === undefined || args.only === name;
const started = Date.now();
if (part('engine')) {
  const { figures: engine, adapter } = await benchEngine(root, preset);
  Object.assign(figures, engine, { adapter });
}
if (part('records')) Object.assign(figures, await recordsBench(3907));
if (part('llm')) Object.assign(figures, await benchLlmConcurrency());
if (part('scorers')) Object.assign(figures, await benchScorers());
if (part('table')) {
  if (!existsSync(join(root, 'dist/index.html')) || process.env.BENCH_BUILD !== '0') execFileSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: root, stdio: 'inherit' });
  Object.assign(figures, await benchFeaturesTable(root, join(root, 'dist')));
}
if (typeof figures.bytes_per_nonzero === 'number' && typeof figures.delphi_bytes_per_nonzero === 'number') {
  figures.bytes_per_nonzero_over_delphi = Number((figures.bytes_per_nonzero / figures.delphi_bytes_per_nonzero).toFixed(3));
}
const cpu = cpus();
Object.assign(figures, {
  machine: `${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${platform()} ${release()}, Node ${process.versions.node}`,
  preset: args.only === undefined ? presetName : `${presetName} (--only ${args.only})`,
  measured_at: new Date().toISOString(),
});
if (figures.adapter === undefined) figures.adapter = 'not measured (the engine part did not run)';
writeFileSync(resultsFile, `${JSON.stringify(Object.fromEntries(Object.entries(figures).sort(([a], [b]) => a.localeCompare(b))), null, 2)}\n`);
console.table(Object.fromEntries(Object.entries(figures).sort(([a], [b]) => a.localeCompare(b))));
console.log(`wrote bench/results.json in ${((Date.now() - started) / 60000).toFixed(1)} min`);

function round(value: number, digits = 1): number {
  return Number(value.toFixed(digits));
}
