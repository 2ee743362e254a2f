/**
 * The stored shape of explain jobs and their results (explain-store.ts reads and writes them): plain
 * data, since the settings and results belong to the stages above storage.
 */

export type ExplainJobStatus = 'ready' | 'running' | 'paused' | 'done' | 'stopped';

export interface StoredExplainJob {
  id: string;
  /** The cache whose features are explained. */
  cacheRunId: string;
  createdAt: string;
  /** The API's base URL (never the key) and the model id. */
  baseUrl: string;
  model: string;
  explainer: string;
  /** Explainer settings, record options, the budget and the usage so far (plain data of the stages above). */
  settings: Record<string, unknown>;
  recordOptions: Record<string, unknown>;
  budget: { maxCost?: number; maxTokens?: number };
  concurrency: number;
  /** The features to explain, in order. */
  features: number[];
  status: ExplainJobStatus;
  usage?: Record<string, number>;
  /** Why the job stopped early (a refused key, no credits, the budget). */
  stopped?: { code: string; message: string };
}

/** One feature's outcome (an explanation or a failure) as the explain stage returned it. */
export interface StoredExplanation {
  jobId: string;
  feature: number;
  result: { feature: number; explanation?: string; failure?: { kind: string; code: string; message: string } } & Record<string, unknown>;
}
