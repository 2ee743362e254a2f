/**
 * The interp worker's implementation: feature records over the caches in IndexedDB. It holds the open
 * database, a reader per cache (the token matrix read once) and a tokenizer per model, and hands each
 * call to the core; the class runs in Node tests on fake-indexeddb as well as in the worker.
 */
import {
  AppError, LoadOnce, computeFeatureStats, featureResults, featureScoreColumns, importResults, IMPORTABLE_SCORERS, neuronpediaJson, readDelphiResults, readResultsZip, resultScorers, scoreCsvRows, scoresCsv, toNeuronpedia, createExplainJob, createScoreJob, estimateScoreCost, exportResultsZip, runScoreJob, scoreSummary, createLlmClient, deleteLlmJob, estimateExplainCost, getLlmJob, getLlmResult, listLlmJobs, listLlmResults, runExplainJob, featurePage, featureTopTokens, getFeatureStats, getRun, HUGGING_FACE_HUB, idbCacheReader, listRuns, loadTokenizer,
  openCacheDb, putFeatureStats, recordOptions, featureRecord,
  type CacheDatabase, type CacheReader, type CacheRun, type Example, type FeatureRecord, type Progress, type RecordOptions, type RepoRef,
  type StoredFeatureStats, type TextTokenizer, type CostEstimate, type ExplainJobRequest, type ExplainProgress, type ExplainSettings, type Pricing, type ScoreSettings,
  type StoredLlmJob, type StoredLlmResult, type FeatureResults, type ScoreJobRequest, type ScoreProgress, type ScorerSummary, type StoredScores,
  type DelphiInputFile, type FeatureScoreColumns, type ImportedResults,
} from '../../src/lib/index.ts';
import type { FeaturePageView, FeatureTable, InterpApi, LlmConnection, NeuronpediaExportOptions, ResultsInput } from './api.ts';

export interface InterpOptions {
  /** The cache database (default: IndexedDB's `autointerp-cache`, the engine's). */
  openDb?: () => Promise<CacheDatabase>;
  /** How a model's tokenizer is loaded (default: from its hub repo, through the browser's file cache). */
  loadTokenizer?: (model: RepoRef) => Promise<TextTokenizer>;
  /** The fetch LLM calls use (tests count requests). */
  fetch?: typeof fetch;
}

/** Statistics describe the run as it is now: a run that grew since (resumed) needs new ones. */
const isCurrent = (stats: StoredFeatureStats | undefined, run: CacheRun): stats is StoredFeatureStats => !!stats && stats.nonZeros === run.nnz && stats.width === run.width;

export class Interp implements InterpApi {
  private readonly db = new LoadOnce<'db', CacheDatabase>();
  /** Readers by run and its size (a run that grew since needs a new one). */
  private readonly readers = new LoadOnce<string, CacheReader>();
  private readonly tokenizers = new LoadOnce<string, TextTokenizer>();
  private hubUrl = HUGGING_FACE_HUB;
  /** Explain jobs running in this worker (a stored `running` job not among them was interrupted). */
  private readonly activeJobs = new Set<string>();
  /** One statistics pass per run at a time: a second caller waits for the first. */
  private readonly computing = new Map<string, Promise<StoredFeatureStats>>();

  constructor(private readonly options: InterpOptions = {}) {}

  /** The hub that caches naming none (delphi imports) take their model's tokenizer from. */
  async useHub(hubUrl: string): Promise<void> {
    this.hubUrl = hubUrl;
  }

  async listCaches(): Promise<CacheRun[]> {
    return listRuns(await this.openDb());
  }

  async hasCurrentStats(runId: string): Promise<boolean> {
    const db = await this.openDb();
    return isCurrent(await getFeatureStats(db, runId), await getRun(db, runId));
  }

  async featureTable(runId: string, onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<FeatureTable> {
    const stats = await this.stats(runId, onProgress, signal);
    return {
      runId,
      width: stats.width,
      nTokens: stats.nTokens,
      nWindows: stats.nWindows,
      dead: stats.dead,
      exampleCtx: stats.options.exampleCtx,
      skipBosPosition: stats.options.skipBosPosition,
      nnz: stats.nnz,
      windows: stats.windows,
      max: stats.max,
      mean: stats.mean,
      computedAt: stats.computedAt,
    };
  }

  async featureRecord(runId: string, feature: number, options: Partial<RecordOptions> = {}): Promise<FeatureRecord> {
    return featureRecord(await this.reader(runId), feature, options);
  }

  async featurePage(runId: string, feature: number, given: Partial<RecordOptions> = {}): Promise<FeaturePageView> {
    const reader = await this.reader(runId);
    const options = recordOptions(given, reader);
    const [page, stats] = await Promise.all([featurePage(reader, feature, options), this.stats(runId)]);
    const bins = stats.options.bins;
    const counts = Array.from(stats.histogram.subarray(feature * bins, feature * bins + bins));
    const topTokens = featureTopTokens(stats, feature);
    const shown: Example[] = [...page.top, ...page.record.train, ...page.record.test, ...page.record.non_activating, ...page.quantiles.flatMap((q) => q.examples), ...page.intervals.flatMap((i) => i.examples)];
    const ids = new Set<number>(topTokens.map((t) => t.token));
    for (const example of shown) for (const id of example.tokens) ids.add(id);
    const { pieces, error } = await this.pieces(await getRun(await this.openDb(), runId), ids);
    return {
      runId,
      feature,
      record: page.record,
      quantiles: page.quantiles,
      intervals: page.intervals,
      histogram: { counts, binWidth: stats.max[feature]! / bins },
      topTokens: topTokens.map((t) => ({ ...t, piece: pieces[t.token] ?? `#${t.token}` })),
      density: stats.nTokens ? stats.nnz[feature]! / stats.nTokens : 0,
      top: page.top,
      pieces,
      ...(error ? { piecesError: error } : {}),
      ...(await featureResults(await this.openDb(), runId, feature)),
      options,
    };
  }

  async mostWindows(runId: string): Promise<number> {
    const stats = await this.stats(runId);
    let most = 0;
    for (let f = 0; f < stats.width; f++) if (stats.nnz[f]! > 0 && stats.windows[f]! > most) most = stats.windows[f]!;
    return most;
  }

  async qualifyingFeatures(runId: string, minExamples: number): Promise<number[]> {
    const stats = await this.stats(runId);
    const out: number[] = [];
    for (let f = 0; f < stats.width; f++) if (stats.nnz[f]! > 0 && stats.windows[f]! >= minExamples) out.push(f);
    return out;
  }

  async explainEstimate(runId: string, request: { features: number[]; explainer?: string; settings?: Partial<ExplainSettings>; recordOptions?: Partial<RecordOptions>; pricing?: Pricing }): Promise<CostEstimate> {
    const reader = await this.reader(runId);
    // Prompts of up to 16 features spread over the selection stand for all of them.
    const step = Math.max(1, Math.floor(request.features.length / 16));
    const sample = request.features.filter((_, i) => i % step === 0).slice(0, 16);
    const records = await Promise.all(sample.map((feature) => featureRecord(reader, feature, request.recordOptions ?? {})));
    return estimateExplainCost(records, {
      tokenizer: await this.tokenizerOf(await getRun(await this.openDb(), runId)),
      features: request.features.length,
      ...(request.explainer ? { explainer: request.explainer } : {}),
      ...(request.settings ? { settings: request.settings } : {}),
      ...(request.pricing ? { pricing: request.pricing } : {}),
    });
  }

  async scoreEstimate(request: { explainJobId: string; scorers: string[]; settings?: Partial<ScoreSettings>; pricing?: Pricing }): Promise<CostEstimate> {
    const db = await this.openDb();
    const source = await getLlmJob(db, request.explainJobId);
    const reader = await this.reader(source.cacheRunId);
    const explained = (await listLlmResults(db, source.id)).flatMap((s) => (typeof s.result.explanation === 'string' ? [{ feature: s.feature, explanation: s.result.explanation }] : []));
    // Prompts of up to 16 features spread over the run stand for all of them, scorer by scorer.
    const step = Math.max(1, Math.floor(explained.length / 16));
    const sample = await Promise.all(explained.filter((_, i) => i % step === 0).slice(0, 16).map(async ({ feature, explanation }) => ({ record: await featureRecord(reader, feature, source.recordOptions as Partial<RecordOptions>), explanation })));
    const tokenizer = await this.tokenizerOf(await getRun(db, source.cacheRunId));
    const each = request.scorers.map((scorer) => estimateScoreCost(sample, { tokenizer, scorer, features: explained.length, ...(request.settings ? { settings: request.settings } : {}), ...(request.pricing ? { pricing: request.pricing } : {}) }));
    const sum = (key: 'promptTokens' | 'completionTokens') => each.reduce((n, e) => n + e[key], 0);
    return { features: explained.length, promptTokens: sum('promptTokens'), completionTokens: sum('completionTokens'), ...(request.pricing ? { cost: each.reduce((n, e) => n + (e.cost ?? 0), 0) } : {}) };
  }

  async explainJobs(runId?: string): Promise<StoredLlmJob[]> {
    return this.jobs('explain', runId);
  }

  async scoreJobs(runId?: string): Promise<StoredLlmJob[]> {
    return this.jobs('score', runId);
  }

  private async jobs(stage: 'explain' | 'score', runId?: string): Promise<StoredLlmJob[]> {
    const jobs = await listLlmJobs(await this.openDb(), { ...(runId === undefined ? {} : { cacheRunId: runId }), stage });
    return jobs.map((job) => (job.status === 'running' && !this.activeJobs.has(job.id) ? { ...job, status: 'paused' } : job));
  }

  async createScoreJob(request: ScoreJobRequest): Promise<StoredLlmJob> {
    return createScoreJob(await this.openDb(), request);
  }

  async runScoreJob(jobId: string, connection: LlmConnection, onProgress?: (progress: ScoreProgress) => void, signal?: AbortSignal): Promise<StoredLlmJob> {
    return this.running(jobId, async (db, job, run) =>
      runScoreJob(db, jobId, {
        reader: await this.reader(job.cacheRunId),
        client: this.client(job.baseUrl, connection),
        tokenizer: await this.tokenizerOf(run),
        ...(connection.pricing ? { pricing: connection.pricing } : {}),
        ...(connection.contextLength ? { contextLength: connection.contextLength } : {}),
        ...(signal ? { signal } : {}),
        ...(onProgress ? { onProgress } : {}),
      }),
    );
  }

  async scoreSummary(jobId: string): Promise<ScorerSummary[]> {
    const db = await this.openDb();
    const job = await getLlmJob(db, jobId);
    const stats = await this.stats(job.cacheRunId);
    return scoreSummary(db, jobId, { firing: (feature) => stats.nnz[feature] ?? 0, density: (feature) => (stats.nTokens ? (stats.nnz[feature] ?? 0) / stats.nTokens : 0) });
  }

  async featureScores(runId: string): Promise<FeatureScoreColumns> {
    const run = await getRun(await this.openDb(), runId);
    return featureScoreColumns(await this.openDb(), runId, run.width);
  }

  async importResults(runId: string, input: ResultsInput): Promise<ImportedResults> {
    const db = await this.openDb();
    const run = await getRun(db, runId);
    const files: DelphiInputFile[] = input.zip ? await readResultsZip(input.zip) : [...(input.files ?? [])];
    const folders = resultScorers(files);
    const scorers = folders.filter((folder) => IMPORTABLE_SCORERS[folder]);
    const results = await readDelphiResults(files, { scorers });
    return importResults(db, run, results, { source: input.name, skippedScorers: folders.filter((folder) => !IMPORTABLE_SCORERS[folder]) });
  }

  async exportScoresCsv(scoreJobId: string): Promise<Blob> {
    const db = await this.openDb();
    const job = await getLlmJob(db, scoreJobId);
    const hook = (await getRun(db, job.cacheRunId)).settings.sae.hookName;
    return new Blob([scoresCsv(await scoreCsvRows(db, scoreJobId, hook))], { type: 'text/csv' });
  }

  async exportNeuronpedia(explainJobId: string, options: NeuronpediaExportOptions): Promise<Blob> {
    const db = await this.openDb();
    const job = await getLlmJob(db, explainJobId);
    const run = await getRun(db, job.cacheRunId);
    const [reader, stats] = await Promise.all([this.reader(run.id), this.stats(run.id)]);
    const tokenizer = await this.tokenizerOf(run).catch(() => undefined);
    const text = (ids: readonly number[]) => ids.map((id) => (tokenizer ? tokenizer.decode([id]) : `#${id}`));
    const features = [];
    for (const { feature, result } of await listLlmResults(db, explainJobId)) {
      if (typeof result.explanation !== 'string') continue;
      const page = await featurePage(reader, feature, recordOptions(job.recordOptions as Partial<RecordOptions>, reader), { top: options.topExamples ?? 20 });
      features.push(toNeuronpedia({ hook: run.settings.sae.hookName, feature, explanation: result.explanation }, {
        modelId: options.modelId,
        source: options.source,
        density: stats.nTokens ? stats.nnz[feature]! / stats.nTokens : 0,
        explainerModel: job.model,
        method: job.method,
        topExamples: page.top.map((example) => ({ tokens: text(example.tokens), values: Array.from(example.activations) })),
      }));
    }
    return new Blob([neuronpediaJson(features)], { type: 'application/json' });
  }

  async scoreResults(jobId: string): Promise<StoredLlmResult[]> {
    return listLlmResults(await this.openDb(), jobId);
  }

  async exportResults(explainJobId: string, scoreJobId?: string): Promise<Blob> {
    const db = await this.openDb();
    const job = await getLlmJob(db, explainJobId);
    const hook = (await getRun(db, job.cacheRunId)).settings.sae.hookName;
    const byFeature = new Map<number, FeatureResults>();
    for (const { feature, result } of await listLlmResults(db, explainJobId)) {
      if (typeof result.explanation === 'string') byFeature.set(feature, { hook, feature, explanation: result.explanation, scores: {} });
    }
    for (const { feature, result } of scoreJobId ? await listLlmResults(db, scoreJobId) : []) {
      const entry = byFeature.get(feature) ?? { hook, feature, scores: {} };
      for (const [scorer, score] of Object.entries((result as unknown as StoredScores).scores ?? {})) {
        // delphi's classifier records; simulation records have another shape and stay in the app.
        if (score.kind === 'classifier') entry.scores[scorer] = score.examples.map((e) => ({ str_tokens: e.str_tokens, activations: e.activations, distance: e.distance, activating: e.activating, prediction: e.prediction, probability: e.probability, correct: e.correct }));
      }
      byFeature.set(feature, entry);
    }
    return exportResultsZip([...byFeature.values()]);
  }

  async createExplainJob(request: ExplainJobRequest): Promise<StoredLlmJob> {
    return createExplainJob(await this.openDb(), request, await this.reader(request.cacheRunId));
  }

  /** `work` on job `jobId`, marked active meanwhile (one run of a job at a time). */
  private async running(jobId: string, work: (db: CacheDatabase, job: StoredLlmJob, run: CacheRun) => Promise<StoredLlmJob>): Promise<StoredLlmJob> {
    if (this.activeJobs.has(jobId)) throw new AppError('pipeline/bad-options', 'This run is already running.');
    this.activeJobs.add(jobId);
    try {
      const db = await this.openDb();
      const job = await getLlmJob(db, jobId);
      return await work(db, job, await getRun(db, job.cacheRunId));
    } finally {
      this.activeJobs.delete(jobId);
    }
  }

  private client(baseUrl: string, connection: LlmConnection) {
    return createLlmClient({ baseUrl, ...(connection.apiKey ? { apiKey: connection.apiKey } : {}), ...(connection.timeoutMs ? { timeoutMs: connection.timeoutMs } : {}), ...(this.options.fetch ? { fetch: this.options.fetch } : {}) });
  }

  async runExplainJob(jobId: string, connection: LlmConnection, onProgress?: (progress: ExplainProgress) => void, signal?: AbortSignal): Promise<StoredLlmJob> {
    return this.running(jobId, async (db, job, run) => {
      const result = await runExplainJob(db, jobId, {
        reader: await this.reader(job.cacheRunId),
        client: this.client(job.baseUrl, connection),
        tokenizer: await this.tokenizerOf(run),
        ...(connection.pricing ? { pricing: connection.pricing } : {}),
        ...(connection.contextLength ? { contextLength: connection.contextLength } : {}),
        ...(signal ? { signal } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
      return result.job;
    });
  }

  async explanations(jobId: string): Promise<StoredLlmResult[]> {
    return listLlmResults(await this.openDb(), jobId);
  }

  async deleteJob(jobId: string): Promise<void> {
    if (this.activeJobs.has(jobId)) throw new AppError('pipeline/bad-options', 'Pause this run before deleting it.');
    await deleteLlmJob(await this.openDb(), jobId);
  }

  /** The run's current statistics: stored ones, or computed (one pass) and stored. */
  private async stats(runId: string, onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<StoredFeatureStats> {
    const db = await this.openDb();
    const run = await getRun(db, runId);
    const stored = await getFeatureStats(db, runId);
    if (isCurrent(stored, run)) return stored;
    let pending = this.computing.get(runId);
    if (!pending) {
      pending = (async () => {
        const computed = await computeFeatureStats(await this.reader(runId), {}, { ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
        return putFeatureStats(db, runId, computed);
      })();
      this.computing.set(runId, pending);
      void pending.finally(() => this.computing.delete(runId)).catch(() => undefined);
    }
    return pending;
  }

  private async reader(runId: string): Promise<CacheReader> {
    const run = await getRun(await this.openDb(), runId);
    if (run.status === 'running') throw new AppError('cache/bad-input', 'This cache is still being written: pause it or let it finish, then open its features.');
    const db = await this.openDb();
    return this.readers.get(`${runId}|${run.nnz}`, () => idbCacheReader(db, run));
  }

  /** The cache's model's tokenizer, loaded once per model. */
  private tokenizerOf(run: CacheRun): Promise<TextTokenizer> {
    const model: RepoRef = { repo: run.settings.model.repo, revision: run.settings.model.revision || 'main', hubUrl: run.settings.model.hubUrl || this.hubUrl };
    const key = `${model.hubUrl}|${model.repo}|${model.revision}`;
    return this.tokenizers.get(key, () => (this.options.loadTokenizer ?? loadTokenizer)(model));
  }

  /** Text of each token id; ids alone (and why) when the tokenizer cannot be loaded. */
  private async pieces(run: CacheRun, ids: Set<number>): Promise<{ pieces: Record<number, string>; error?: string }> {
    try {
      const tokenizer = await this.tokenizerOf(run);
      const pieces: Record<number, string> = {};
      for (const id of ids) pieces[id] = tokenizer.decode([id]);
      return { pieces };
    } catch (error) {
      return { pieces: {}, error: `Token text is not shown: the tokenizer of ${run.settings.model.repo} could not be loaded (${(error as Error).message}).` };
    }
  }

  private openDb(): Promise<CacheDatabase> {
    return this.db.get('db', () => (this.options.openDb ?? openCacheDb)());
  }
}
