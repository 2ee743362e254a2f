/**
 * What the interp worker offers the page: everything after the GPU, starting with feature records
 * over the caches in this browser (statistics, a feature's page). It needs no GPU, so the engine
 * worker stays free for encoding while a table is sorted or a record is drawn.
 *
 * Long calls take `onProgress` and a `signal` as their last two arguments, as the engine's do.
 */
import type {
  ActivationInterval, CacheRun, CostEstimate, Example, ExplainJobRequest, ExplainProgress, ExplainSettings, FeatureRecord, Pricing, Progress, QuantileGroup, RecordOptions,
  StoredLlmJob, StoredLlmResult, ScoreJobRequest, ScoreProgress, ScorerSummary,
  DelphiInputFile, FeatureExplanation, FeatureScoreColumns, FeatureScores, ImportedResults, ScoreResult, ClassifiedExample, SimulatedExample, RocPoint,
  ScoreSettings,
} from '../../src/lib/index.ts';

export type {
  ActivationInterval, CacheRun, CostEstimate, Example, ExplainJobRequest, ExplainProgress, ExplainSettings, FeatureRecord, Pricing, Progress, QuantileGroup, RecordOptions,
  StoredLlmJob, StoredLlmResult, ScoreJobRequest, ScoreProgress, ScorerSummary,
  DelphiInputFile, FeatureExplanation, FeatureScoreColumns, FeatureScores, ImportedResults, ScoreResult, ClassifiedExample, SimulatedExample, RocPoint,
};

/** Results to import: a zip, or the files of a dropped folder; `name` is recorded with the jobs. */
export interface ResultsInput {
  name: string;
  zip?: Blob;
  files?: DelphiInputFile[];
}

/** Where the features go on Neuronpedia. */
export interface NeuronpediaExportOptions {
  /** Neuronpedia's model id, e.g. `gpt2-small`. */
  modelId: string;
  /** Neuronpedia's source (the SAE at its layer), e.g. `6-res-jb`. */
  source: string;
  /** Strongest examples per feature (20). */
  topExamples?: number;
}

/** How the page reaches the LLM API for one run: the key stays with the page and is passed per run, never stored here. */
export interface LlmConnection {
  apiKey?: string;
  /** The model's prices, for endpoints whose answers report no cost (budget and totals). */
  pricing?: Pricing;
  /** Time limit of one attempt in ms (default 90 s; a slow local model may need more). */
  timeoutMs?: number;
  /** The model's listed context length: longer prompts are refused before they are sent. */
  contextLength?: number;
}

/**
 * The per-feature columns a features table sorts and filters (typed arrays over the whole width,
 * transferred, not copied), and the numbers that describe the cache as a whole.
 */
export interface FeatureTable {
  runId: string;
  width: number;
  /** Tokens that could activate (row starts left out when skipped): the density's denominator. */
  nTokens: number;
  nWindows: number;
  /** Features that never fire. */
  dead: number;
  exampleCtx: number;
  skipBosPosition: boolean;
  nnz: Uint32Array;
  /** Activating windows per feature (what `minExamples` is compared with). */
  windows: Uint32Array;
  max: Float32Array;
  mean: Float32Array;
  computedAt: string;
}

/** A token id with its text, as the page shows it. */
export interface TokenCount {
  token: number;
  piece: string;
  count: number;
}

/** Everything a feature page shows that comes from the cache. */
export interface FeaturePageView {
  runId: string;
  feature: number;
  record: FeatureRecord;
  /** The windows in quantile slices, a few examples each (0 the strongest). */
  quantiles: QuantileGroup[];
  /** Equal-width slices of (0, max] with their share of the activations and a few examples. */
  intervals: (ActivationInterval & { examples: Example[] })[];
  /** Histogram of the non-zero activations over [0, max] (the stored statistics' bins). */
  histogram: { counts: number[]; binWidth: number };
  topTokens: TokenCount[];
  /** Non-zeros per token. */
  density: number;
  /** The strongest examples in order, for the page's first list. */
  top: Example[];
  /** Text of every token id the examples show (absent ids: the tokenizer could not be loaded). */
  pieces: Record<number, string>;
  /** Why token text is missing, when it is. */
  piecesError?: string;
  /** What the explain runs of this cache said about the feature, oldest run first. */
  explanations: FeatureExplanation[];
  /** What the score runs of this cache found, oldest run first: each scorer's metrics and per-example judgements. */
  scores: FeatureScores[];
  options: RecordOptions;
}

export interface InterpApi {
  /** The caches in this browser (the store the engine writes). */
  listCaches(): Promise<CacheRun[]>;
  /**
   * The run's feature table, from its stored statistics, computed first (one pass over the cache, then
   * stored with it) when there are none or they are stale (the run has grown since).
   */
  featureTable(runId: string, onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<FeatureTable>;
  /** Whether the stored statistics are current, without computing anything. */
  hasCurrentStats(runId: string): Promise<boolean>;
  /** The hub that caches naming none (delphi imports) take their model's tokenizer from (default: the Hugging Face hub). */
  useHub(hubUrl: string): Promise<void>;
  /** One feature's page, on demand. */
  featurePage(runId: string, feature: number, options?: Partial<RecordOptions>): Promise<FeaturePageView>;
  /** One feature's record in the JSON shape `npm run records` writes. */
  featureRecord(runId: string, feature: number, options?: Partial<RecordOptions>): Promise<FeatureRecord>;

  /** The most activating windows any feature of the cache has (0 when none fires). */
  mostWindows(runId: string): Promise<number>;
  /** Features with at least `minExamples` activating windows, in index order (from the statistics). */
  qualifyingFeatures(runId: string, minExamples: number): Promise<number[]>;
  /** What explaining `features` would cost: prompts built for a sample of them, times the model's prices. */
  explainEstimate(runId: string, request: { features: number[]; explainer?: string; settings?: Partial<ExplainSettings>; recordOptions?: Partial<RecordOptions>; pricing?: Pricing }): Promise<CostEstimate>;
  /** What scoring an explain run's explanations with `scorers` would take: its features, tokens and (with prices) cost. */
  scoreEstimate(request: { explainJobId: string; scorers: string[]; settings?: Partial<ScoreSettings>; pricing?: Pricing }): Promise<CostEstimate>;
  /** The explain jobs of a cache (all when no id), oldest first; a job left `running` by a closed tab reads `paused`. */
  explainJobs(runId?: string): Promise<StoredLlmJob[]>;
  createExplainJob(request: ExplainJobRequest): Promise<StoredLlmJob>;
  /** Runs or resumes a job; aborting the signal pauses it after the calls in flight are aborted. */
  runExplainJob(jobId: string, connection: LlmConnection, onProgress?: (progress: ExplainProgress) => void, signal?: AbortSignal): Promise<StoredLlmJob>;
  /** The job's results so far (explanations and failures), by feature. */
  explanations(jobId: string): Promise<StoredLlmResult[]>;
  /** Deletes an explain or score run and its results. */
  deleteJob(jobId: string): Promise<void>;

  /** The score jobs of a cache (all when no id), oldest first; one left `running` by a closed tab reads `paused`. */
  scoreJobs(runId?: string): Promise<StoredLlmJob[]>;
  createScoreJob(request: ScoreJobRequest): Promise<StoredLlmJob>;
  /** Runs or resumes a score job; aborting the signal pauses it. */
  runScoreJob(jobId: string, connection: LlmConnection, onProgress?: (progress: ScoreProgress) => void, signal?: AbortSignal): Promise<StoredLlmJob>;
  /** Each scorer's metrics pooled over the job's features (F1 also weighted by how often features fire), and per feature. */
  scoreSummary(jobId: string): Promise<ScorerSummary[]>;
  /** The job's stored results: per feature, its explanation and every scorer's result with the per-example records. */
  scoreResults(jobId: string): Promise<StoredLlmResult[]>;
  /**
   * delphi's layout as a zip: the explain job's explanations and, when given, the score job's
   * classifier scores (`scores/<scorer>/<hook>_latent<f>.txt`).
   */
  exportResults(explainJobId: string, scoreJobId?: string): Promise<Blob>;
  /** The explain job's explanations in Neuronpedia's upload shape (a JSON array), with each feature's density and strongest examples. */
  exportNeuronpedia(explainJobId: string, options: NeuronpediaExportOptions): Promise<Blob>;
  /** One CSV line per feature of the score job: its explanation and each scorer's metrics. */
  exportScoresCsv(scoreJobId: string): Promise<Blob>;
  /** Every feature's newest explanation and newest score per scorer, over the cache's runs (the table's columns). */
  featureScores(runId: string): Promise<FeatureScoreColumns>;
  /**
   * Stores delphi's results (explanations/, scores/detection|fuzz/) as an explain run and a score run of
   * the cache, done. Other scorer folders are skipped, with a note.
   */
  importResults(runId: string, input: ResultsInput): Promise<ImportedResults>;
}
