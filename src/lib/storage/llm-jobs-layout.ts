/**
 * The stored shape of LLM jobs (explaining or scoring the features of one cache) and their per-feature
 * results (llm-jobs-store.ts reads and writes them): plain data, since the settings and results belong
 * to the stages above storage. The API key is never part of either.
 */

export type LlmJobStatus = 'ready' | 'running' | 'paused' | 'done' | 'stopped';

export type LlmStage = 'explain' | 'score';

export interface StoredLlmJob {
  id: string;
  stage: LlmStage;
  /** The cache whose features the job is about. */
  cacheRunId: string;
  createdAt: string;
  /** The API's base URL (never the key) and the model id. */
  baseUrl: string;
  model: string;
  /** What does the work: the explainer's id (explain) or the scorers' ids joined with commas (score). */
  method: string;
  /** For a score job: the explain job whose explanations are scored. */
  sourceJobId?: string;
  /** Stage settings, record options, the budget and the usage so far (plain data of the stages above). */
  settings: Record<string, unknown>;
  recordOptions: Record<string, unknown>;
  budget: { maxCost?: number; maxTokens?: number };
  concurrency: number;
  /** The features to do, in order. */
  features: number[];
  status: LlmJobStatus;
  usage?: Record<string, number>;
  /** Runs so far (the job runner's ledger). */
  runs?: number;
  /** Per scorer, how results got their values over all runs. */
  modes?: Record<string, Record<string, number>>;
  /** Why the job stopped early (a refused key, no credits, the budget). */
  stopped?: { code: string; message: string };
}

/** One feature's outcome in a job (an explanation, scores, or a failure) as its stage returned it. */
export interface StoredLlmResult {
  jobId: string;
  feature: number;
  result: { feature: number; failure?: { kind: string; code: string; message: string } } & Record<string, unknown>;
}
