/**
 * Results made elsewhere (delphi on a GPU server, or this app's own export) taken in as jobs of a cache
 * in this browser: an explain job holding the explanations and, when there are classifier scores, a
 * score job holding them, so that the feature pages, the table and the results view show them as they
 * show runs made here. Nothing is asked of an LLM; the jobs are stored done, marked as imported.
 */
import { AppError } from '../errors.ts';
import type { FeatureResults } from '../latents/index.ts';
import { classificationMetrics } from '../metrics/index.ts';
import { DEFAULT_SCORE_SETTINGS, type ClassifiedExample, type ScoreResult } from '../scorers/index.ts';
import { putLlmJob, putLlmResult, type CacheDatabase, type CacheRun, type StoredLlmJob } from '../storage/index.ts';
import type { StoredScores } from './score-job.ts';

/** delphi's scorer folders whose files are per-example classifier records, and the scorer each is here. */
export const IMPORTABLE_SCORERS: Readonly<Record<string, string>> = Object.freeze({ detection: 'detection', fuzz: 'fuzzing', fuzzing: 'fuzzing' });

export interface ImportOptions {
  /** What was imported (a file or folder name), recorded with the jobs. */
  source: string;
  /** Scorer folders that were found but not read (shown to the user). */
  skippedScorers?: readonly string[];
}

export interface ImportedResults {
  explainJob: StoredLlmJob;
  scoreJob?: StoredLlmJob;
  explanations: number;
  /** The scorers imported, by this app's ids. */
  scorers: string[];
  /** What the user should know: folders skipped, another hook's name. */
  notes: string[];
}

const newId = (stage: string): string => `${stage}-import-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * Stores `results` as jobs of `run`. The files must be of one hook (or include the cache's hook, which is
 * then the one taken) and name features the SAE has. Errors: results/mismatch.
 */
export async function importResults(db: CacheDatabase, run: CacheRun, results: readonly FeatureResults[], options: ImportOptions): Promise<ImportedResults> {
  const notes: string[] = [];
  const cacheHook = run.settings.sae.hookName;
  const hooks = [...new Set(results.map((r) => r.hook))];
  let hook = hooks[0];
  if (hooks.length > 1) {
    if (!hooks.includes(cacheHook)) throw new AppError('results/mismatch', `The files hold results of ${hooks.length} hooks (${hooks.join(', ')}) and none is this cache's (${cacheHook}): import them into a cache of one of those hooks.`);
    hook = cacheHook;
    notes.push(`Only ${cacheHook} was imported; the files also hold ${hooks.filter((h) => h !== cacheHook).join(', ')}.`);
  } else if (hook !== undefined && hook !== cacheHook) {
    notes.push(`The files name the hook ${hook}; this cache's is ${cacheHook}. Features were matched by index.`);
  }
  const mine = results.filter((r) => r.hook === hook);
  const beyond = mine.filter((r) => r.feature >= run.width);
  if (beyond.length) throw new AppError('results/mismatch', `Feature ${beyond[0]!.feature} is beyond this cache's SAE, which has ${run.width.toLocaleString('en-US')} features: these results are of another SAE.`);
  for (const folder of options.skippedScorers ?? []) notes.push(`scores/${folder}/ was not imported: only detection and fuzzing records (per-example verdicts) can be.`);

  const createdAt = new Date().toISOString();
  const base = { cacheRunId: run.id, createdAt, baseUrl: '', model: `imported from ${options.source}`, settings: {}, recordOptions: {}, budget: {}, concurrency: 1, status: 'done' as const };
  const explained = mine.filter((r) => typeof r.explanation === 'string');
  const explainJob = await putLlmJob(db, { ...base, id: newId('explain'), stage: 'explain', method: 'imported', features: explained.map((r) => r.feature) });
  for (const r of explained) await putLlmResult(db, explainJob.id, { feature: r.feature, explanation: r.explanation });

  const scorers = new Set<string>();
  const scored: StoredScores[] = [];
  for (const r of mine) {
    const scores: Record<string, ScoreResult> = {};
    for (const [folder, records] of Object.entries(r.scores)) {
      const scorer = IMPORTABLE_SCORERS[folder];
      if (!scorer || scores[scorer]) continue;
      scorers.add(scorer);
      scores[scorer] = importedScore(r, hook!, scorer, records, options.source);
    }
    if (Object.keys(scores).length) scored.push({ feature: r.feature, explanation: r.explanation ?? '', scores });
  }
  if (scored.length === 0) return { explainJob, explanations: explained.length, scorers: [], notes };
  const ids = [...scorers].sort();
  const scoreJob = await putLlmJob(db, { ...base, id: newId('score'), stage: 'score', method: ids.join(','), sourceJobId: explainJob.id, features: scored.map((s) => s.feature) });
  for (const s of scored) await putLlmResult(db, scoreJob.id, { ...s });
  return { explainJob, scoreJob, explanations: explained.length, scorers: ids, notes };
}

/** One scorer's records of a feature as a result of this app's classifier scorers. */
function importedScore(r: FeatureResults, hook: string, scorer: string, records: FeatureResults['scores'][string], source: string): ScoreResult {
  const examples: ClassifiedExample[] = records.map((e) => ({ str_tokens: e.str_tokens, activations: e.activations, distance: e.distance, activating: e.activating, prediction: e.prediction, probability: e.probability, correct: e.correct }));
  const withProbabilities = examples.some((e) => e.probability !== null);
  return {
    feature: r.feature,
    hook,
    scorer,
    model: `imported from ${source}`,
    explanation: r.explanation ?? '',
    settings: { ...DEFAULT_SCORE_SETTINGS, logprobs: withProbabilities },
    seed: 0,
    raw: [],
    failures: [],
    usage: { promptTokens: 0, completionTokens: 0 },
    calls: 0,
    attempts: 0,
    kind: 'classifier',
    mode: withProbabilities ? 'logprobs' : 'text',
    examples,
    metrics: classificationMetrics(examples),
  };
}
