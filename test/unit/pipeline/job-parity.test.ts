/**
 * One runner, two places: the app's jobs (IndexedDB, fake-indexeddb here) and `npm run score` (a folder)
 * score the same records and explanations against the same stand-in and end with the same per-example
 * records and the same metrics, for a classifier and for simulation.
 */
import 'fake-indexeddb/auto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { main as scoreMain } from '../../../scripts/score-cli.ts';
import { startLlmServer } from '../../../scripts/servers/llm-server.ts';
import { openRouterClient } from '../../../src/lib/clients/index.ts';
import { featureRecord, idbCacheReader, parseScoreFile, parseSimulationScoreFile, resultFileName, simulationScoreRecords, tokenizerFromJson, type FeatureRecord } from '../../../src/lib/index.ts';
import { createExplainJob, createScoreJob, metricsJson, runExplainJob, runScoreJob, scoreSummary, type StoredScores } from '../../../src/lib/pipeline/index.ts';
import { getLlmJob, listLlmResults } from '../../../src/lib/storage/index.ts';
import { idbRun, randomCache } from '../latents/records/caches.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const TOKENIZER_DIR = join(ROOT, 'test/fixtures/hub/autointerp-test/tiny-gpt2');
const tokenizer = tokenizerFromJson(JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer.json'), 'utf8')), JSON.parse(readFileSync(join(TOKENIZER_DIR, 'tokenizer_config.json'), 'utf8')));
const KEY = 'sk-or-v1-parity-test-5d1e';
const MODEL = 'stand-in/explainer';
const FEATURES = [0, 1, 2, 3, 4, 5];
const RECORD_OPTIONS = { exampleCtx: 8, minExamples: 1, nTrain: 6, nTest: 6, nQuantiles: 3, nNonActivating: 6 };
const scratch = mkdtempSync(join(tmpdir(), 'job-parity-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

test('the app and the command score the same records and explanations into the same records and metrics', async () => {
  const server = await startLlmServer({ keys: [KEY] });
  try {
    const { db, run } = await idbRun(randomCache(11, 32, 16, 8, 0.08, 4000), 4);
    const reader = await idbCacheReader(db, run.id);
    const client = openRouterClient({ baseUrl: server.openRouterBase, apiKey: KEY });
    // The app: an explain job, then a score job of its explanations.
    const explain = await createExplainJob(db, { cacheRunId: run.id, baseUrl: server.openRouterBase, model: MODEL, features: FEATURES, recordOptions: RECORD_OPTIONS }, reader);
    expect((await runExplainJob(db, explain.id, { reader, client, tokenizer })).job.status).toBe('done');
    const score = await createScoreJob(db, { cacheRunId: run.id, explainJobId: explain.id, baseUrl: server.openRouterBase, model: MODEL, scorers: ['detection', 'simulation'] });
    expect((await runScoreJob(db, score.id, { reader, client, tokenizer })).status).toBe('done');
    const app = new Map((await listLlmResults(db, score.id)).map((s) => [s.feature, s.result as unknown as StoredScores]));
    expect(app.size).toBe(FEATURES.length);

    // The command: the same records and explanations, as `npm run records` and `npm run explain` write them.
    const records = join(scratch, 'records');
    const explained = join(scratch, 'explained');
    const byFeature = new Map<number, FeatureRecord>();
    for (const feature of FEATURES) {
      const record = await featureRecord(reader, feature, RECORD_OPTIONS);
      byFeature.set(feature, record);
      mkdirSync(join(records, record.hook), { recursive: true });
      writeFileSync(join(records, record.hook, `latent${feature}.json`), JSON.stringify(record));
    }
    const hook = byFeature.get(0)!.hook;
    mkdirSync(join(explained, 'explanations'), { recursive: true });
    for (const stored of await listLlmResults(db, explain.id)) writeFileSync(join(explained, 'explanations', resultFileName(hook, stored.feature)), JSON.stringify(stored.result.explanation));
    const out = join(scratch, 'out');
    const lines: string[] = [];
    const code = await scoreMain(['--records', records, '--explanations', explained, '--scorers', 'detection,simulation', '--base-url', server.openRouterBase, '--model', MODEL, '--out', out, '--tokenizer', TOKENIZER_DIR], { log: (l) => lines.push(l), info: (l) => lines.push(l), env: { OPENROUTER_API_KEY: KEY } });
    expect(code, lines.join('\n')).toBe(0);

    for (const feature of FEATURES) {
      const scores = app.get(feature)!.scores;
      const detection = scores.detection!;
      const simulation = scores.simulation!;
      expect(detection.kind === 'classifier' && simulation.kind === 'simulation').toBe(true);
      if (detection.kind !== 'classifier' || simulation.kind !== 'simulation') continue;
      const file = (scorer: string) => join(out, 'scores', scorer, resultFileName(hook, feature));
      const keys = ['str_tokens', 'activations', 'distance', 'activating', 'prediction', 'probability', 'correct'] as const;
      expect(parseScoreFile(readFileSync(file('detection'), 'utf8'), 'detection')).toEqual(detection.examples.map((e) => Object.fromEntries(keys.map((k) => [k, e[k]]))));
      expect(parseSimulationScoreFile(readFileSync(file('simulation'), 'utf8'), 'simulation')).toEqual(simulationScoreRecords(simulation.examples));
      expect(detection.examples.some((e) => e.prediction !== null)).toBe(true);
    }
    // The metrics: the app's summary (weighted by the records' n_activations, as the command weighs them) is metrics.json.
    const summary = await scoreSummary(db, score.id, { firing: (feature) => byFeature.get(feature)!.n_activations });
    expect(JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(metricsJson(summary))));
    // And the usage: the same calls, charged the same.
    const appUsage = (await getLlmJob(db, score.id)).usage!;
    const cliUsage = (JSON.parse(readFileSync(join(out, 'score-run.json'), 'utf8')) as { usage: Record<string, number> }).usage;
    expect(cliUsage).toMatchObject({ calls: appUsage.calls, prompt_tokens: appUsage.promptTokens, completion_tokens: appUsage.completionTokens, cost: appUsage.cost });
  } finally {
    await server.close();
  }
});
