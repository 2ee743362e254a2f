/**
 * Explain jobs through the interp worker's class in Node, over real HTTP against the stand-in LLM
 * server: a cache made by the Engine (onnxruntime-node, fake-indexeddb) is explained feature by
 * feature; with 30% injected faults every feature still ends explained or failed, and the job's token
 * and cost totals equal what the server said it charged; a paused job resumes without asking again
 * about a finished feature; the key reaches the server only in the Authorization header.
 */
import 'fake-indexeddb/auto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { startLlmServer, type LlmServer } from '../../../scripts/servers/llm-server.ts';
import { startStaticServer, type StaticServer } from '../../../scripts/servers/static-server.ts';
import { exportResultsZip, openCacheDb, readDelphiResultsZip, readZip, type CacheRun, type ClassificationMetrics } from '../../../src/lib/index.ts';
import { Engine } from '../../../workers/engine/engine.ts';
import { Interp } from '../../../workers/interp/interp.ts';
import { createNodeRuntime } from '../../support/node-runtime.ts';
import { FIXTURES, fixtureFiles } from '../../support/sae-fixtures.ts';

const KEY = 'sk-test-interp-4f1c';
const DB = `interp-explain-test-${Date.now()}`;
let hub: StaticServer;
let llm: LlmServer;
let interp: Interp;
let run: CacheRun;
let features: number[];

beforeAll(async () => {
  hub = await startStaticServer([{ prefix: '/', root: join(FIXTURES, 'hub'), hubLayout: true }]);
  llm = await startLlmServer({ keys: [KEY], retryAfterSeconds: 0 });
  const engine = new Engine(createNodeRuntime(), { openDb: () => openCacheDb(DB) });
  await engine.loadModel({ repo: 'autointerp-test/tiny-gpt2', hubUrl: hub.url });
  const opened = await engine.openSaeFiles(fixtureFiles('saelens-topk').map((f) => ({ path: f.path, blob: new Blob([f.bytes]) })));
  const { spec } = await engine.selectSae(opened.choices[0]!.id);
  const file = new File([readFileSync(join(FIXTURES, 'corpus/paragraphs.txt'))], 'paragraphs.txt', { type: 'text/plain' });
  await engine.prepareCorpus({ kind: 'text', file }, { ctx: 64, maxTokens: 16 * 64, seed: 22, prependBos: spec.prependBos });
  run = await engine.runCache((await engine.createCache({})).id);
  interp = new Interp({ openDb: () => openCacheDb(DB) });
  features = (await interp.qualifyingFeatures(run.id, 3)).slice(0, 24);
}, 120_000);
afterAll(async () => {
  await Promise.all([hub?.close(), llm?.close()]);
});
// Each test sets the server's faults or latency it needs; none inherits another's, even one that failed.
afterEach(() => {
  llm.setFaults(undefined);
  llm.setLatency(0);
});

const chats = (from: number) => llm.requests.slice(from).filter((r) => r.path.endsWith('/chat/completions'));

test('with 30% injected faults every feature ends explained or failed, and the totals are what the server charged', async () => {
  expect(features.length).toBeGreaterThan(10);
  llm.setFaults({ rate: 0.3, seed: 7 });
  const from = llm.requests.length;
  const job = await interp.createExplainJob({ cacheRunId: run.id, baseUrl: llm.openRouterBase, model: 'stand-in/explainer', features, concurrency: 4, recordOptions: { minExamples: 3 } });
  const done = await interp.runExplainJob(job.id, { apiKey: KEY, timeoutMs: 2000 });
  expect(done.status).toBe('done');
  const results = await interp.explanations(job.id);
  expect(results.map((r) => r.feature)).toEqual([...features].sort((a, b) => a - b));
  for (const { result } of results) expect(Boolean(result.explanation) !== Boolean(result.failure)).toBe(true);
  expect(results.filter((r) => r.result.explanation).length).toBeGreaterThan(features.length / 2);
  expect(chats(from).some((r) => r.fault)).toBe(true);
  // Exact accounting: the sums of the usage the server sent (powers of two per token, so exact in any order).
  const charged = chats(from).filter((r) => r.usage);
  expect(done.usage).toMatchObject({
    promptTokens: charged.reduce((a, r) => a + r.usage!.prompt_tokens, 0),
    completionTokens: charged.reduce((a, r) => a + r.usage!.completion_tokens, 0),
    cost: charged.reduce((a, r) => a + (r.usage!.cost ?? 0), 0),
  });
  // The key went in the Authorization header, nowhere else.
  for (const request of chats(from)) {
    expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(JSON.stringify(request.body)).not.toContain(KEY);
  }
  expect(JSON.stringify(await interp.explainJobs(run.id))).not.toContain(KEY);
  expect(JSON.stringify(results)).not.toContain(KEY);
});

test('a paused job resumes without asking again about a finished feature', async () => {
  llm.setLatency(30);
  const job = await interp.createExplainJob({ cacheRunId: run.id, baseUrl: llm.openRouterBase, model: 'stand-in/explainer', features, concurrency: 2, recordOptions: { minExamples: 3 } });
  const control = new AbortController();
  const from = llm.requests.length;
  const paused = interp.runExplainJob(job.id, { apiKey: KEY, timeoutMs: 2000 }, (progress) => progress.done >= 5 && control.abort(), control.signal);
  expect((await paused).status).toBe('paused');
  const before = await interp.explanations(job.id);
  expect(before.length).toBeGreaterThanOrEqual(5);
  expect(before.length).toBeLessThan(features.length);
  const resumedFrom = llm.requests.length;
  const done = await interp.runExplainJob(job.id, { apiKey: KEY, timeoutMs: 2000 });
  expect(done.status).toBe('done');
  // Each resumed call is about a feature without a result: as many calls as features left.
  expect(chats(resumedFrom)).toHaveLength(features.length - before.length);
  expect((await interp.explanations(job.id)).map((r) => r.feature)).toEqual([...features].sort((a, b) => a - b));
  // Counted once per finished feature (calls aborted by the pause left no result and no usage).
  expect(done.usage!.calls).toBe(features.length);
  expect(chats(from).filter((r) => r.usage).length).toBeGreaterThanOrEqual(features.length);
});

test('a refused key stops the job and says so; the job can be resumed with the right key', async () => {
  const job = await interp.createExplainJob({ cacheRunId: run.id, baseUrl: llm.openRouterBase, model: 'stand-in/explainer', features: features.slice(0, 4), concurrency: 2, recordOptions: { minExamples: 3 } });
  const stopped = await interp.runExplainJob(job.id, { apiKey: 'sk-wrong', timeoutMs: 2000 });
  expect(stopped.status).toBe('stopped');
  expect(stopped.stopped?.message).toMatch(/401|key/i);
  expect(JSON.stringify(stopped)).not.toContain('sk-wrong');
  const done = await interp.runExplainJob(job.id, { apiKey: KEY, timeoutMs: 2000 });
  expect(done.status).toBe('done');
  expect(done.stopped).toBeUndefined();
});

/**
 * 8 features explained, then scored by detection and fuzzing with 30% of the scoring calls meeting a
 * fault: made once, by whichever test asks first, so that each test below can run alone (`-t`) and none
 * depends on another having passed.
 */
let scoring: Promise<{ explainId: string; scoreId: string; from: number; done: Awaited<ReturnType<Interp['runScoreJob']>> }> | undefined;
function scoredJobs() {
  scoring ??= (async () => {
    const explain = await interp.createExplainJob({ cacheRunId: run.id, baseUrl: llm.openRouterBase, model: 'stand-in/explainer', features: features.slice(0, 8), concurrency: 4, recordOptions: { minExamples: 3 } });
    const explained = await interp.runExplainJob(explain.id, { apiKey: KEY, timeoutMs: 2000 });
    if (explained.status !== 'done') throw new Error(`the explain job ended ${explained.status}`);
    llm.setFaults({ rate: 0.3, seed: 3 });
    try {
      const from = llm.requests.length;
      const job = await interp.createScoreJob({ cacheRunId: run.id, explainJobId: explain.id, baseUrl: llm.openRouterBase, model: 'stand-in/explainer', scorers: ['detection', 'fuzzing'], settings: { logprobs: true }, concurrency: 4 });
      const done = await interp.runScoreJob(job.id, { apiKey: KEY, timeoutMs: 2000 });
      return { explainId: explain.id, scoreId: job.id, from, done };
    } finally {
      llm.setFaults(undefined);
    }
  })();
  return scoring;
}

test('score jobs: detection and fuzzing with 30% faults end every feature; pooled metrics are those of the stored per-example records; the delphi zip reads back the same', async () => {
  const { explainId, scoreId, from, done } = await scoredJobs();
  const job = { id: scoreId };
  const explain = { id: explainId };
  expect(done.status).toBe('done');
  const stored = await interp.scoreResults(job.id);
  expect(stored.map((s) => s.feature)).toEqual(features.slice(0, 8).sort((a, b) => a - b));
  const charged = chats(from).filter((r) => r.usage);
  expect(done.usage).toMatchObject({ promptTokens: charged.reduce((a, r) => a + r.usage!.prompt_tokens, 0), cost: charged.reduce((a, r) => a + (r.usage!.cost ?? 0), 0) });
  const summary = await interp.scoreSummary(job.id);
  for (const scorer of ['detection', 'fuzzing']) {
    // Balanced accuracy by hand over every stored example with a prediction (missing ones are never guessed).
    const examples = stored.flatMap((s) => (s.result as any).scores[scorer].examples as { activating: boolean; prediction: number | null }[]);
    const judged = examples.filter((e) => e.prediction !== null);
    expect(judged.length).toBeLessThan(examples.length); // the faults left some batches without a prediction
    const tp = judged.filter((e) => e.activating && e.prediction! >= 0.5).length;
    const tn = judged.filter((e) => !e.activating && e.prediction! < 0.5).length;
    const positives = judged.filter((e) => e.activating).length;
    const pooled = summary.find((s) => s.scorer === scorer)!.pooled as any;
    expect(pooled.balanced_accuracy).toBeCloseTo((tp / positives + tn / (judged.length - positives)) / 2, 12);
    expect(pooled.failed).toBe(examples.length - judged.length);
    expect(pooled.auc).not.toBeNull();
  }
  const zip = await interp.exportResults(explain.id, job.id);
  const back = await readDelphiResultsZip(zip);
  expect(back.map((r) => r.feature)).toEqual(stored.map((s) => s.feature));
  for (const result of back) {
    const mine = stored.find((s) => s.feature === result.feature)!.result as any;
    expect(result.explanation).toBe(mine.explanation);
    expect(result.scores.detection!.map((e) => e.prediction)).toEqual(mine.scores.detection.examples.map((e: any) => e.prediction));
    expect(result.scores.fuzzing!.map((e) => e.correct)).toEqual(mine.scores.fuzzing.examples.map((e: any) => e.correct));
  }
});

test('what the screens read of a score job: table columns, the feature page, the ROC curve and densities, CSV and Neuronpedia exports', async () => {
  const { explainId, scoreId } = await scoredJobs();
  const stored = await interp.scoreResults(scoreId);
  const columns = await interp.featureScores(run.id);
  expect(columns.scores.map((c) => c.scorer)).toEqual(['detection', 'fuzzing']);
  const detection = columns.scores[0]!;
  expect(detection.metric).toBe('balanced_accuracy');
  for (const { feature, result } of stored) {
    const want = ((result as any).scores.detection.metrics as ClassificationMetrics).balanced_accuracy;
    expect(detection.scored[feature]).toBe(1);
    if (want === null) expect(detection.values[feature]).toBeNaN();
    else expect(detection.values[feature]).toBeCloseTo(want, 6);
    expect(typeof columns.explanations[feature]).toBe('string');
  }
  const unscored = [...Array(run.width).keys()].find((f) => !stored.some((s) => s.feature === f))!;
  expect(detection.scored[unscored]).toBe(0);
  expect(detection.values[unscored]).toBeNaN();

  // The feature page carries the per-example judgements of both scorers.
  const feature = stored[0]!.feature;
  const page = await interp.featurePage(run.id, feature);
  const fromJob = page.scores.find((s) => s.jobId === scoreId)!;
  expect(fromJob.results.map((r) => r.scorer)).toEqual(['detection', 'fuzzing']);
  expect(fromJob.results[0]!.examples).toEqual((stored[0]!.result as any).scores.detection.examples);

  // The summary: a ROC curve from (0,0) to (1,1), each feature's density from the statistics.
  const table = await interp.featureTable(run.id);
  const summary = await interp.scoreSummary(scoreId);
  for (const s of summary) {
    expect(s.roc!.at(0)).toEqual({ fpr: 0, tpr: 0 });
    expect(s.roc!.at(-1)).toEqual({ fpr: 1, tpr: 1 });
    for (const { feature: f, density } of s.perFeature) expect(density).toBeCloseTo(table.nnz[f]! / table.nTokens, 12);
  }

  // CSV: a row per feature with each scorer's metrics as stored.
  const csv = (await (await interp.exportScoresCsv(scoreId)).text()).trim().split('\r\n');
  const header = csv[0]!.split(',');
  expect(header.slice(0, 3)).toEqual(['hook', 'feature', 'explanation']);
  expect(header).toContain('fuzzing_auc');
  expect(csv).toHaveLength(stored.length + 1);
  const row = csv.find((line) => line.split(',')[1] === String(feature))!;
  const balanced = (stored[0]!.result as any).scores.detection.metrics.balanced_accuracy;
  expect(row.split(',').at(-1)).toBe(String((stored[0]!.result as any).scores.fuzzing.metrics.failed));
  expect(row).toContain(balanced === null ? ',,' : String(balanced));

  // Neuronpedia: one entry per explained feature, its density and strongest examples.
  const np = JSON.parse(await (await interp.exportNeuronpedia(explainId, { modelId: 'gpt2-small', source: '6-res-test', topExamples: 3 })).text());
  const explained = (await interp.explanations(explainId)).filter((r) => typeof r.result.explanation === 'string');
  expect(np.map((f: any) => Number(f.index))).toEqual(explained.map((r) => r.feature));
  expect(np[0].density).toBeCloseTo(table.nnz[explained[0]!.feature]! / table.nTokens, 12);
  expect(np[0].explanations[0].text).toBe(explained[0]!.result.explanation);
  expect(np[0].activations.length).toBeLessThanOrEqual(3);
  expect(np[0].activations[0].tokens.length).toBe(np[0].activations[0].values.length);
});

test('delphi results imported into a cache: the same metrics as the run they were exported from; other scorer folders and other SAEs are refused with a reason', async () => {
  const { explainId, scoreId } = await scoredJobs();
  const zip = await interp.exportResults(explainId, scoreId);
  // Named as delphi names them (fuzz), beside a folder of another scorer that cannot be read here.
  const entries = (await readZip(zip)).map((e) => ({ path: e.path.replace('/fuzzing/', '/fuzz/'), blob: e.blob }));
  entries.push({ path: 'scores/simulation/x_latent0.txt', blob: new Blob(['{"not": "records"}']) });
  const imported = await interp.importResults(run.id, { name: 'delphi-run', files: entries });
  expect(imported.scorers).toEqual(['detection', 'fuzzing']);
  expect(imported.notes.join(' ')).toMatch(/scores\/simulation\/ was not imported/);
  expect(imported.explainJob.model).toBe('imported from delphi-run');
  const [mine, theirs] = await Promise.all([interp.scoreSummary(scoreId), interp.scoreSummary(imported.scoreJob!.id)]);
  for (const scorer of ['detection', 'fuzzing']) {
    const a = mine.find((s) => s.scorer === scorer)!;
    const b = theirs.find((s) => s.scorer === scorer)!;
    expect(b.pooled).toEqual(a.pooled);
    expect(b.perFeature.map((p) => p.metrics)).toEqual(a.perFeature.map((p) => p.metrics));
    expect(b.roc).toEqual(a.roc);
  }
  expect((await interp.explainJobs(run.id)).some((j) => j.id === imported.explainJob.id && j.status === 'done')).toBe(true);

  const beyond = await exportResultsZip([{ hook: run.settings.sae.hookName, feature: run.width + 5, explanation: 'x', scores: {} }]);
  await expect(interp.importResults(run.id, { name: 'other.zip', zip: beyond })).rejects.toThrow(/beyond this cache's SAE/);
});
