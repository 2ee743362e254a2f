/**
 * What the engine worker offers the page: the GPU work (model, SAE, encoding) and the cache it feeds.
 * The page holds a comlink proxy of this interface; tests and `npm run cache` drive the same one.
 *
 * Long calls take `onProgress` (one Progress shape, text ready to show) and a `signal` (an
 * AbortSignal, carried across the worker boundary by workers/comlink-handlers.ts) as their last two
 * arguments. Errors arrive as AppErrors with their `code`.
 */
import type {
  CacheProgress, CacheRun, ColumnListing, CorpusSource, FloatTensor, ModelDtype, ModelFileChoice, Progress, RepoRef, SaeInputFile, SaeSettingsPatch, SaeSpec, SaeSummary, SparseActivations, SparseAgreement, WebGpuStatus,
} from '../../src/lib/index.ts';

export type { CacheProgress, CacheRun, ColumnListing, ModelFileChoice, CorpusSource, FloatTensor, Progress, SaeInputFile, SaeSpec, SaeSummary, SparseActivations, WebGpuStatus };

export type CorpusColumnsSource = { kind: 'jsonl' | 'parquet'; file: Blob } | Omit<Extract<CorpusSource, { kind: 'hub' }>, 'column'>;

/** A hub repo: "Xenova/gpt2" on the real hub by default, or a stand-in (`hubUrl`) laid out like it. */
export type ModelSource = RepoRef;

export interface LoadedModel {
  repo: string;
  revision: string;
  /** The ONNX file the engine cut (onnx/model.onnx or onnx/decoder_model.onnx, float16 variants where only they exist). */
  onnxFile: string;
  dtype: ModelDtype;
  /** What the user should know about the file chosen (float16's cost in fidelity). */
  note?: string;
  modelType: string;
  nLayer: number;
  dModel: number;
  nHead: number;
  dMlp: number;
  vocabSize: number;
  /** Positions the model has (GPT-2: 1024): the longest row it can encode. */
  nPositions: number;
  /** The id put in front of rows for SAEs trained with a BOS token (GPT-2: <|endoftext|>). */
  bosTokenId: number;
  /** The id that separates documents in packed rows. */
  eosTokenId: number;
  /** Size of the ONNX graph and the weights stored beside it, in bytes. */
  onnxBytes: number;
}

/** One SAE found among dropped files, as the UI shows it. */
export interface SaeChoice {
  id: string;
  label: string;
  spec: SaeSpec;
  summary: SaeSummary;
  /** With a model loaded: why the SAE cannot read it (d_in, layer), before anything runs. */
  modelError?: string;
  /** With a model loaded: the SAE's config names another model (the sizes match). */
  modelWarning?: string;
}

export interface SaeFilesResult {
  choices: SaeChoice[];
  /** Files that could not be used and why. */
  skipped: { path: string; message: string }[];
}

export interface SelectSaeOptions {
  /** Settings the user set or corrected (hook point, k, normalization, centring, …). */
  overrides?: SaeSettingsPatch;
  /** Largest weight tensor in bytes; defaults to the adapter's buffer limits (tests lower it to force splitting). */
  maxTensorBytes?: number;
  /** First cap on active features per token for ReLU-like SAEs (it grows as needed; tests set it low). */
  initialCap?: number;
}

export interface ReadySae {
  spec: SaeSpec;
  label: string;
  /** Identifies the weights file (SHA-256 of its size, first and last MiB). */
  fingerprint: string;
  /** How many column blocks W_enc was split into to fit the GPU's buffer limit. */
  encoderBlocks: number;
  /** The graph tensor the hook point was read from. */
  hookTensor: string;
  /** What the user should know (e.g. the SAE was trained on another model of the same size). */
  warnings: string[];
  /**
   * For a float16 encoder: how its output on a probe text compares with the float32 encoder's (the
   * reference: within 1e-4 of the float64 one), measured when it was built.
   */
  precisionCheck?: SparseAgreement;
}

/** What a feature writes, from the selected SAE's decoder and the model's unembedding (feature pages). */
export interface FeatureDirections {
  /** Tokens whose logits the decoder direction raises most, strongest first. */
  top: { token: number; piece: string; value: number }[];
  /** Tokens whose logits it lowers most, most negative first. */
  bottom: { token: number; piece: string; value: number }[];
  /** Features with the most similar decoder directions (cosine), most similar first. */
  similar: { feature: number; similarity: number }[];
}

export interface TimingRequest {
  /**
   * full: the whole model with logits read back; cut: the model up to the hook; engine: cut + SAE +
   * sparse read-back; product: the selected SAE's encoder matrix product alone, on random activations
   * (the least any encoder pays).
   */
  kind: 'full' | 'cut' | 'engine' | 'product';
  hookName?: string;
  rows: number[][];
  /** Timed runs after one untimed warm-up run. */
  repeats: number;
  /** Skip the warm-up (the caller ran this kind already: the benchmark alternates kinds run by run). */
  warm?: boolean;
}

export interface TimingResult {
  tokens: number;
  seconds: number;
  /** Tokens per second of the median repeat (a slow outlier does not move it). */
  tokensPerSecond: number;
  /** Seconds of each repeat, in order. */
  repeats: number[];
}

export interface StorageTiming {
  seconds: number;
  bytes: number;
  nnz: number;
  mbPerSecond: number;
  bytesPerNonzero: number;
}

export interface CorpusOptions {
  /** Tokens per row (delphi's cache_ctx_len). */
  ctx: number;
  /** Token budget, rounded down to whole rows. */
  maxTokens: number;
  /** Row shuffle seed (delphi's 22). */
  seed: number;
  /** Put BOS at position 0 of every row (the selected SAE's prepend_bos). */
  prependBos: boolean;
}

export interface CorpusSummary {
  description: string;
  rows: number;
  ctx: number;
  tokens: number;
  documents: number;
  droppedTokens: number;
  budgetReached: boolean;
  seed: number;
  /** The first rows as text, as the model will read them. */
  preview: string[];
}

/** A stored cache as the list shows it: `writtenElsewhere` while another tab (or worker) writes it. */
export type ListedCache = CacheRun & { writtenElsewhere?: boolean };

export interface CacheRunOptions {
  /** Rows per encode call; default: as many as keep the SAE's pre-activations near 64 MiB. */
  batchRows?: number;
}

export interface NewCache {
  /** Token matrix, row-major [nRows * ctx]; omit to use the corpus prepared with prepareCorpus. */
  tokens?: Uint32Array;
  ctx?: number;
  /** Where the rows came from, shown with the cache (default: the prepared corpus's description). */
  description?: string;
  seed?: number;
  maxTokens?: number;
  /** Rows per stored chunk (the unit of progress and resume); default: as many as fit in 65535 tokens. */
  chunkRows?: number;
}

export interface EngineApi {
  /** The WebGPU adapter as the worker sees it. */
  webgpu(): Promise<WebGpuStatus>;
  /** The ONNX file a load would take from the repo, and its size, without downloading it (see hub/model-files.ts). */
  inspectModel(source: ModelSource, signal?: AbortSignal): Promise<ModelFileChoice>;
  /** Downloads config.json and the chosen ONNX file with its weights (kept by the browser) and checks the model is a GPT-2. */
  loadModel(source: ModelSource, onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<LoadedModel>;
  /** Downloaded model files kept by the browser: how many and how large. */
  modelStorage(): Promise<{ files: number; bytes: number }>;
  /** Deletes them (the next load downloads again). */
  clearModelStorage(): Promise<void>;
  /** Full forward (transformers.js on WebGPU) on right-padded rows: logits [batch, seq, vocab]. */
  logits(rows: number[][]): Promise<FloatTensor>;
  /** The GPU device onnxruntime's WebGPU backend runs on (undefined before any session exists). */
  gpuDevice(): Promise<string | undefined>;
  /** The model cut at a hook point: that hook's activations [batch, seq, width]. */
  hookActivations(hookName: string, rows: number[][]): Promise<FloatTensor>;
  /** Reads the dropped files' headers and configs: the SAEs found, with what is known and missing. */
  openSaeFiles(files: SaeInputFile[]): Promise<SaeFilesResult>;
  /** Loads the chosen SAE's weights and builds model-to-hook + encoder on the GPU. */
  selectSae(id: string, options?: SelectSaeOptions): Promise<ReadySae>;
  /** The SAE in use (its encoder on the GPU), if any: what a refused selectSae left. */
  currentSae(): Promise<ReadySae | undefined>;
  /** The current TopK cap of a ReLU-like SAE (k for a TopK SAE). */
  encoderCap(): Promise<number | undefined>;
  /**
   * Logit effects and decoder-cosine neighbours of `feature` of the selected SAE, which must be the one
   * with `fingerprint` (the cache's): AppError `sae/not-ready` otherwise.
   */
  featureDirections(fingerprint: string, feature: number, k?: number): Promise<FeatureDirections>;
  /** Token ids and their text pieces, with the loaded model's tokenizer (from the same hub repo). */
  tokenize(text: string): Promise<{ ids: number[]; pieces: string[] }>;
  /**
   * The `expected_average_only_in` input scale, sqrt(d_in) / mean ||x||, measured on these rows at the
   * SAE's hook point (for SAEs whose files do not give it).
   */
  estimateScale(id: string, rows: number[][], overrides?: Partial<SaeSpec>): Promise<number>;
  /** Encodes equal-length token rows: every non-zero activation, exactly (CSR over batch*seq tokens). */
  encode(rows: number[][]): Promise<SparseActivations>;
  /** The columns a jsonl/parquet file or hub dataset offers, with a suggestion for the text column. */
  corpusColumns(source: CorpusColumnsSource): Promise<ColumnListing>;
  /** Reads, tokenizes and packs a corpus into rows (kept in the worker for the next createCache). */
  prepareCorpus(source: CorpusSource, options: CorpusOptions, onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<CorpusSummary>;
  /** Stores a new cache's token matrix and settings (model and SAE as loaded now); nothing is encoded yet. */
  createCache(request: NewCache): Promise<CacheRun>;
  /**
   * Encodes the cache's missing chunks with the loaded model and SAE (which must be the ones it was made
   * with). Aborting `signal` pauses: the run stops after the batch in hand and stays resumable.
   */
  runCache(runId: string, options?: CacheRunOptions, onProgress?: (progress: CacheProgress) => void, signal?: AbortSignal): Promise<CacheRun>;
  /** The caches stored in this browser, each marked when another tab is writing it now. */
  listCaches(): Promise<ListedCache[]>;
  /** A stored cache (done or resumable) that `request` would make again: same settings, same token rows. */
  sameCache(request: NewCache): Promise<CacheRun | undefined>;
  deleteCache(runId: string): Promise<void>;
  /** One feature's stored activations: global token index (row * ctx + position) and value. */
  cacheFeature(runId: string, feature: number): Promise<{ tokens: Uint32Array; values: Float32Array }>;
  /** The cache in delphi's layout, as a zip (`<hook>/config.json`, `<hook>/<start>_<end>.safetensors`). */
  exportCache(runId: string, nSplits?: number, onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<Blob>;
  /** The same files one at a time (for writing to a folder or streaming out of a headless browser). */
  exportCacheFiles(runId: string, nSplits: number, onFile: (path: string, bytes: Uint8Array) => Promise<void>, signal?: AbortSignal): Promise<void>;
  /**
   * Imports delphi caches from a dropped folder's files or a zip. Returns a cache per hook: the new one,
   * or the one already in this browser with the same contents (nothing is added twice).
   */
  importDelphi(files: { path: string; blob: Blob }[], onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<CacheRun[]>;
  /** SHA-256 over everything stored for a cache (equal digests: byte-identical caches). */
  cacheDigest(runId: string): Promise<string>;
  /** Times a kind of forward in the worker (for `npm run bench`). */
  time(request: TimingRequest): Promise<TimingResult>;
  /**
   * Writes one full-size chunk of synthetic TopK activations (65280 tokens x k over `width`) through the
   * real store into a scratch cache, then deletes it: IndexedDB write speed and bytes per non-zero.
   */
  timeStorage(width: number, k: number): Promise<StorageTiming>;
}
