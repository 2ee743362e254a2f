/**
 * The engine worker's implementation: adapts the core (src/lib) to a thread. It holds what is loaded
 * (model, tokenizer, SAE encoder, prepared corpus) and hands each call to the core. The platform comes
 * in as an EngineRuntime, so the class runs in Node tests on onnxruntime-node as well as in the worker
 * on WebGPU.
 */
import {
  AppError, exclusively, heldLocks, LoadOnce, applySaeSettings, cosineNeighbours, decoderDirection, logitEffects, tokenEmbedding, batchRowsFor, buildEncoderModel, buildHookModel, cachedHubFiles, cacheSettings, checkCorpusNumbers, checkResumable,
  checkRowLength, checkSaeAgainstModel, chunkRowsFor, chunkToShards, clearHubFiles, createRun, deleteRun, delphiDatasetFields, delphiFiles,
  describeSource, detectSaes, encoderBlockColumns, estimateInputScale, exportDelphiZip, findSameCache, findSameSettings, fingerprintOf, formatBytes, getRun,
  HOOK_OUTPUT, HUGGING_FACE_HUB, importDelphiHook, inspectGpt2, listColumns, listRuns, loadGpt2, loadSaeWeights, loadTokenizer, modelDims,
  modelNameWarning, monotonic, openCacheDb, packRows, pastKeyValuesType, previewRows, readDelphiFolder, readDelphiZip, readDocuments, readFeature, readRunTokens, runCache, runDigest,
  runExport, SaeEncoder, compareSparse, summarizeSae, buildEncoderProductModel, ENCODER_PRODUCT_IO, Prng, syntheticTokens, syntheticTopK, throwIfAborted, tokenFeeds, writeChunk,
  type CacheDatabase, type CacheProgress, type CacheRun, type CacheSettings, type CausalLm, type ColumnListing, type CorpusSource, type EngineRuntime,
  type FloatTensor, type Gpt2Config, type InferenceSession, type ModelDims, type ModelFileChoice, type PackedCorpus, type Progress, type SaeCandidate,
  type SaeSpec, type SparseActivations, type SparseAgreement, type TextTokenizer, type TokenEffect, type TokenEmbedding, type WebGpuStatus,
} from '../../src/lib/index.ts';
import type {
  CacheRunOptions, ListedCache, CorpusColumnsSource, CorpusOptions, CorpusSummary, EngineApi, FeatureDirections, LoadedModel, ModelSource, NewCache, ReadySae,
  SaeFilesResult, SaeInputFile, SelectSaeOptions, StorageTiming, TimingRequest, TimingResult,
} from './api.ts';

interface ModelState {
  source: Required<ModelSource>;
  config: Gpt2Config;
  info: LoadedModel;
  onnx: Uint8Array;
  /** Weights stored beside the graph, passed to every session made from it. */
  externalData: { path: string; data: Uint8Array }[];
  dims: ModelDims;
}

const fullSource = (source: ModelSource): Required<ModelSource> => ({ repo: source.repo.trim(), hubUrl: source.hubUrl ?? HUGGING_FACE_HUB, revision: source.revision?.trim() || 'main' });

interface EncoderState {
  encoder: SaeEncoder;
  ready: ReadySae;
  candidate: SaeCandidate;
  /** W_dec and the model's token embedding, read on the first feature page that asks (hundreds of MB for real SAEs). */
  directions?: Promise<{ wDec: Float32Array; embedding: TokenEmbedding }>;
}

export interface EngineOptions {
  /** The cache database (default: IndexedDB's `autointerp-cache`). */
  openDb?: () => Promise<CacheDatabase>;
}

/** Whether an SAE fits the loaded model, said before anything runs: an error when it cannot read it, a warning when it names another model. */
function agreement(spec: SaeSpec, model: ModelState): { modelError?: string; modelWarning?: string } {
  try {
    checkSaeAgainstModel(spec, model.dims, model.source.repo);
  } catch (error) {
    return { modelError: (error as Error).message };
  }
  const warning = modelNameWarning(spec.modelName, model.source.repo);
  return warning ? { modelWarning: warning } : {};
}

/** The dataset fields of delphi's config.json for a corpus source. */
function datasetSource(source: CorpusSource): NonNullable<CacheSettings['dataset']['source']> {
  const fields = delphiDatasetFields(source);
  return { repo: fields.dataset_repo, split: fields.dataset_split, name: fields.dataset_name, column: fields.dataset_column };
}

/** The text a float16 encoder is measured on (everyday prose, numbers and code, as corpora mix them). */
const PRECISION_PROBE = 'On Tuesday the committee met at 9:30 to review the budget of $4.2 million. '
  + 'Most members agreed that the new bridge should open before winter, although two asked for another survey of the river bank. '
  + 'def mean(values):\n    return sum(values) / len(values)\n'
  + 'She laughed, closed the book and walked out into the rain.';
/** Tokens of it encoded both ways. */
const PRECISION_PROBE_TOKENS = 64;

const newCacheId = () => `cache-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

export class Engine implements EngineApi {
  private model: ModelState | undefined;
  private causalLm: CausalLm | undefined;
  /** The loaded model's tokenizer (forgotten with the model). */
  private readonly tokenizer = new LoadOnce<'model', TextTokenizer>();
  private hookSessions = new Map<string, InferenceSession>();
  private candidates: SaeCandidate[] = [];
  private saeFiles = new Map<string, Blob>();
  private readonly db = new LoadOnce<'db', CacheDatabase>();
  /** Caches this engine is writing (or reading whole) now, under their lock. */
  private readonly ownWrites = new Set<string>();
  private corpus: { packed: PackedCorpus; summary: CorpusSummary; options: CorpusOptions; source: CorpusSource } | undefined;
  private encoder: EncoderState | undefined;

  constructor(
    private readonly runtime: EngineRuntime,
    private readonly options: EngineOptions = {},
  ) {}

  webgpu(): Promise<WebGpuStatus> {
    return this.runtime.detectGpu();
  }

  async loadModel(source: ModelSource, onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<LoadedModel> {
    const gpu = await this.runtime.detectGpu();
    if (!gpu.available) throw new AppError('webgpu/unavailable', `${gpu.reason} ${gpu.advice}`);
    await this.unloadModel();
    const full = fullSource(source);
    const loaded = await loadGpt2(full, { shaderF16: gpu.features.includes('shader-f16'), ...(signal ? { signal } : {}), ...(onProgress ? { onProgress } : {}) });
    const { config, choice, onnx, externalData } = loaded;
    const info: LoadedModel = {
      repo: full.repo, revision: full.revision, ...config, onnxFile: choice.graph.path, dtype: choice.dtype,
      onnxBytes: onnx.byteLength + externalData.reduce((sum, file) => sum + file.data.byteLength, 0), ...(choice.note ? { note: choice.note } : {}),
    };
    this.model = { source: full, config, info, onnx, externalData, dims: modelDims(config) };
    return info;
  }

  async inspectModel(source: ModelSource, signal?: AbortSignal): Promise<ModelFileChoice> {
    const gpu = await this.runtime.detectGpu();
    return inspectGpt2(fullSource(source), { shaderF16: gpu.available && gpu.features.includes('shader-f16'), ...(signal ? { signal } : {}) });
  }

  async modelStorage(): Promise<{ files: number; bytes: number }> {
    const files = await cachedHubFiles();
    return { files: files.length, bytes: files.reduce((sum, file) => sum + file.bytes, 0) };
  }

  async clearModelStorage(): Promise<void> {
    await clearHubFiles();
  }

  async logits(rows: number[][]): Promise<FloatTensor> {
    const model = this.requireModel();
    this.causalLm ??= await this.runtime.loadCausalLm(model.source);
    return this.causalLm.logits(rows);
  }

  gpuDevice(): Promise<string | undefined> {
    return this.runtime.gpuDevice();
  }

  async hookActivations(hookName: string, rows: number[][]): Promise<FloatTensor> {
    const model = this.requireModel();
    checkRowLength(rows[0]?.length ?? 0, model.config);
    let session = this.hookSessions.get(hookName);
    if (!session) {
      session = await this.runtime.backend.createSession(buildHookModel(model.onnx, hookName).bytes, `the model up to ${hookName}`, { externalData: model.externalData });
      this.hookSessions.set(hookName, session);
    }
    const output = (await session.run(tokenFeeds(session.inputNames, rows, model.dims)))[HOOK_OUTPUT]!;
    return { dims: [...output.dims], data: output.data as Float32Array };
  }

  async openSaeFiles(files: SaeInputFile[]): Promise<SaeFilesResult> {
    const detection = await detectSaes(files);
    this.candidates = detection.candidates;
    this.saeFiles = new Map(files.map((f) => [f.path, f.blob]));
    const model = this.model;
    return {
      choices: detection.candidates.map((c) => ({ id: c.id, label: c.label, spec: c.spec, summary: summarizeSae(c.spec), ...(model ? agreement(c.spec, model) : {}) })),
      skipped: detection.skipped.map((s) => ({ path: s.path, message: s.message })),
    };
  }

  /** The SAE in use (its encoder on the GPU), if any. */
  async currentSae(): Promise<ReadySae | undefined> {
    return this.encoder?.ready;
  }

  async selectSae(id: string, options: SelectSaeOptions = {}): Promise<ReadySae> {
    const model = this.requireModel();
    const candidate = this.candidates.find((c) => c.id === id);
    if (!candidate) throw new AppError('sae/bad-config', `No SAE "${id}" among the opened files; open the files again.`);
    // The same checks as for the files' own settings (k from 1 to the width, a hook point we can read).
    const spec = applySaeSettings(candidate.spec, options.overrides ?? {});
    if (spec.missing.length > 0) throw new AppError('sae/bad-config', `Set these before encoding: ${spec.missing.join(', ')}.`);
    checkSaeAgainstModel(spec, model.dims, model.source.repo);
    if (spec.encoderPrecision === 'float16') {
      const gpu = await this.runtime.detectGpu();
      if (!gpu.available || !gpu.features.includes('shader-f16')) {
        throw new AppError('sae/bad-config', 'Encoding in float16 needs a GPU with 16-bit float shaders (shader-f16), which this one lacks: encode in float32.');
      }
    }
    const weights = await loadSaeWeights(candidate, spec);
    const maxTensorBytes = options.maxTensorBytes ?? (await this.maxTensorBytes());
    const build = (precise: SaeSpec) => {
      const built = buildEncoderModel(model.onnx, precise, weights, { maxTensorBytes, externalData: model.externalData });
      return { hook: built.hook, session: this.runtime.backend.createSession(built.bytes, `the SAE encoder at ${spec.hookName}`, { externalData: model.externalData }) };
    };
    // Detach before releasing: a cache run that queues its next batch meanwhile sees the change and stops.
    const previous = this.encoder;
    this.encoder = undefined;
    await previous?.encoder.release();
    const built = build(spec);
    const encoder = new SaeEncoder(await built.session, spec, model.dims, options.initialCap);
    const blob = this.saeFiles.get(candidate.weightsPath);
    const fingerprint = blob ? await fingerprintOf(blob) : candidate.id;
    const warning = modelNameWarning(spec.modelName, model.source.repo);
    const ready: ReadySae = {
      spec, label: candidate.label, fingerprint, warnings: warning ? [warning] : [], hookTensor: built.hook.tensor,
      encoderBlocks: Math.ceil(spec.width / encoderBlockColumns(spec.dIn, maxTensorBytes, spec.encoderPrecision)),
    };
    if (spec.encoderPrecision) {
      try {
        ready.precisionCheck = await this.precisionCheck(encoder, (float32) => build(float32).session);
      } catch (error) {
        await encoder.release();
        throw error;
      }
    }
    this.encoder = { encoder, ready, candidate };
    return ready;
  }

  /**
   * What float16 costs, measured: the probe text's tokens through this encoder and through a float32
   * one built for the purpose (and released), compared feature by feature.
   */
  private async precisionCheck(encoder: SaeEncoder, float32Session: (spec: SaeSpec) => Promise<InferenceSession>): Promise<SparseAgreement> {
    const model = this.requireModel();
    const { spec } = encoder;
    const ids = (await this.loadTokenizer()).encode(PRECISION_PROBE).slice(0, PRECISION_PROBE_TOKENS);
    const rows = [spec.prependBos ? [model.config.bosTokenId, ...ids] : ids];
    const { encoderPrecision: _, ...exact } = spec;
    const reference = new SaeEncoder(await float32Session(exact), exact, model.dims, encoder.cap);
    try {
      return compareSparse(await encoder.encode(rows), await reference.encode(rows));
    } finally {
      await reference.release();
    }
  }

  async featureDirections(fingerprint: string, feature: number, k = 10): Promise<FeatureDirections> {
    const state = this.encoder;
    const model = this.model;
    if (!state || !model || state.ready.fingerprint !== fingerprint) {
      throw new AppError('sae/not-ready', 'Logit effects and similar features are computed from the SAE the cache was made with: load its model and use that SAE in Setup to see them.');
    }
    if (!state.directions) {
      state.directions = (async () => ({ wDec: (await loadSaeWeights(state.candidate, state.ready.spec)).wDec, embedding: tokenEmbedding(model.onnx, model.externalData) }))();
      state.directions.catch(() => (state.directions = undefined));
    }
    const { wDec, embedding } = await state.directions;
    const { dIn, width } = state.ready.spec;
    const effects = logitEffects(decoderDirection(wDec, dIn, feature), embedding, k);
    const tokenizer = await this.loadTokenizer();
    const withPiece = (effect: TokenEffect) => ({ ...effect, piece: tokenizer.decode([effect.token]) });
    return {
      top: effects.top.map(withPiece),
      bottom: effects.bottom.map(withPiece),
      similar: cosineNeighbours({ data: wDec, width, dim: dIn, layout: 'feature-major' }, feature, k),
    };
  }

  async encoderCap(): Promise<number | undefined> {
    return this.encoder?.encoder.cap;
  }

  async encode(rows: number[][]): Promise<SparseActivations> {
    checkRowLength(rows[0]?.length ?? 0, this.requireModel().config);
    const state = this.encoder;
    if (!state) throw new AppError('sae/not-ready', 'No SAE is ready: open and select one first.');
    return state.encoder.encode(rows);
  }

  async tokenize(text: string): Promise<{ ids: number[]; pieces: string[] }> {
    const tokenizer = await this.loadTokenizer();
    const ids = tokenizer.encode(text);
    return { ids, pieces: ids.map((id) => tokenizer.decode([id])) };
  }

  async estimateScale(id: string, rows: number[][], overrides: Partial<SaeSpec> = {}): Promise<number> {
    const candidate = this.candidates.find((c) => c.id === id);
    const spec = candidate && { ...candidate.spec, ...overrides };
    if (!spec?.hookName) throw new AppError('sae/bad-config', 'Set the SAE\'s hook point before estimating its input scale.');
    const activations = (await this.hookActivations(spec.hookName, rows)).data;
    return estimateInputScale(activations, rows[0]!.length, spec);
  }

  async corpusColumns(source: CorpusColumnsSource): Promise<ColumnListing> {
    return listColumns(source);
  }

  async prepareCorpus(source: CorpusSource, options: CorpusOptions, onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<CorpusSummary> {
    const model = this.requireModel();
    checkRowLength(options.ctx, model.config, 'Rows');
    const numbers = checkCorpusNumbers(options);
    if (!numbers.ok) throw new AppError('corpus/bad-options', Object.values(numbers.errors).join(' '));
    const tokenizer = await this.loadTokenizer();
    this.corpus = undefined;
    const report = monotonic(onProgress);
    const packed = await packRows(readDocuments(source, signal ? { signal } : {}), { encode: (text) => tokenizer.encode(text), eosTokenId: model.config.eosTokenId, bosTokenId: model.config.bosTokenId }, {
      ctx: options.ctx,
      maxTokens: options.maxTokens,
      seed: options.seed,
      prependBos: options.prependBos,
      ...(signal ? { signal } : {}),
      onProgress: (stats) => report({ stage: 'tokenize', done: stats.tokens, total: options.maxTokens, text: `Tokenizing: ${stats.documents.toLocaleString()} documents, ${stats.tokens.toLocaleString()} tokens in rows` }),
    });
    if (packed.nRows === 0) {
      throw new AppError('cache/bad-input', `The corpus gave ${packed.stats.streamTokens} tokens, fewer than one row of ${options.ctx}: use more text or shorter rows.`);
    }
    const summary: CorpusSummary = {
      description: describeSource(source),
      rows: packed.nRows,
      ctx: packed.ctx,
      tokens: packed.stats.tokens,
      documents: packed.stats.documents,
      droppedTokens: packed.stats.droppedTokens,
      budgetReached: packed.stats.budgetReached,
      seed: options.seed,
      preview: previewRows(packed.tokens, packed.ctx, (ids) => tokenizer.decode(ids), 3).map((row) => row.text),
    };
    this.corpus = { packed, summary, options, source };
    return summary;
  }

  async createCache(request: NewCache): Promise<CacheRun> {
    const { settings, tokens } = this.newCacheOf(request);
    return createRun(await this.cacheDb(), newCacheId(), settings, tokens, this.requireModel().config.vocabSize, request.chunkRows);
  }

  async sameCache(request: NewCache): Promise<CacheRun | undefined> {
    const { settings, tokens, ctx } = this.newCacheOf(request);
    return findSameSettings(await this.cacheDb(), settings, tokens, ctx);
  }

  /** What a new cache would be made of: its settings and token rows, checked against the model and SAE. */
  private newCacheOf(request: NewCache): { settings: CacheSettings; tokens: Uint32Array; ctx: number } {
    const model = this.requireModel();
    const sae = this.encoder?.ready;
    if (!sae) throw new AppError('sae/not-ready', 'Select an SAE before creating a cache.');
    const corpus = this.corpus;
    if (!request.tokens && !corpus) throw new AppError('cache/bad-input', 'Prepare a corpus (tokenize it) before creating a cache.');
    if (!request.tokens && corpus && corpus.options.prependBos !== sae.spec.prependBos) {
      throw new AppError('cache/mismatch', `The corpus was packed ${corpus.options.prependBos ? 'with' : 'without'} a BOS token per row but the SAE expects ${sae.spec.prependBos ? 'one' : 'none'}: tokenize it again.`);
    }
    const ctx = request.ctx ?? (request.tokens ? undefined : corpus!.packed.ctx);
    if (ctx === undefined) throw new AppError('cache/bad-input', 'Token rows given without their length: set ctx (tokens per row).');
    checkRowLength(ctx, model.config);
    const settings = cacheSettings(model.source, sae, {
      description: request.description ?? corpus?.summary.description ?? 'token rows',
      seed: request.seed ?? corpus?.options.seed ?? 0,
      ctx,
      maxTokens: request.maxTokens ?? corpus?.options.maxTokens ?? 0,
      prependBos: sae.spec.prependBos,
      ...(!request.tokens && corpus ? { source: datasetSource(corpus.source) } : {}),
    });
    return { settings, tokens: request.tokens ?? corpus!.packed.tokens, ctx };
  }

  async runCache(runId: string, options: CacheRunOptions = {}, onProgress?: (progress: CacheProgress) => void, signal?: AbortSignal): Promise<CacheRun> {
    return this.writing(runId, () => this.runCacheLocked(runId, options, onProgress, signal));
  }

  private async runCacheLocked(runId: string, options: CacheRunOptions, onProgress?: (progress: CacheProgress) => void, signal?: AbortSignal): Promise<CacheRun> {
    const model = this.requireModel();
    const db = await this.cacheDb();
    const run = await getRun(db, runId);
    if (run.status === 'done') return run; // finished (perhaps by another tab meanwhile): nothing to write
    const state = this.encoder;
    checkResumable(run, model.source, state?.ready);
    return runCache(db, runId, {
      // A model or SAE switched while the run goes on must not end up in this cache.
      encode: async (rows) => {
        if (this.encoder !== state || this.model !== model) {
          throw new AppError('cache/mismatch', 'The model or the SAE changed while the cache was running; it stopped with what was stored so far. Select the SAE it was made with and resume.');
        }
        return state!.encoder.encode(rows);
      },
      batchRows: options.batchRows ?? batchRowsFor(run.ctx, run.width, await this.maxTensorBytes()),
      shouldPause: () => signal?.aborted ?? false,
      ...(onProgress ? { onProgress: monotonic(onProgress) } : {}),
    });
  }

  async listCaches(): Promise<ListedCache[]> {
    const held = await heldLocks();
    return (await listRuns(await this.cacheDb())).map((run) => (held.has(cacheLock(run.id)) && !this.ownWrites.has(run.id) ? { ...run, writtenElsewhere: true } : run));
  }

  async deleteCache(runId: string): Promise<void> {
    const db = await this.cacheDb();
    await this.writing(runId, () => deleteRun(db, runId));
  }

  /**
   * `work` as the one writer of cache `runId` across tabs (Web Locks): refused at once, saying so, while
   * another tab writes it; the lock goes with this worker if its tab closes.
   */
  private async writing<T>(runId: string, work: () => Promise<T>): Promise<T> {
    const busy = () => new AppError('cache/busy', 'Another tab is writing this cache now: pause or finish it there (or close that tab), then try again here.');
    return exclusively(cacheLock(runId), busy, async () => {
      this.ownWrites.add(runId);
      try {
        return await work();
      } finally {
        this.ownWrites.delete(runId);
      }
    });
  }

  async cacheFeature(runId: string, feature: number): Promise<{ tokens: Uint32Array; values: Float32Array }> {
    const db = await this.cacheDb();
    return readFeature(db, await getRun(db, runId), feature);
  }

  async exportCache(runId: string, nSplits = 5, onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<Blob> {
    const db = await this.cacheDb();
    // Held for the export: no tab writes the cache while it is read.
    return this.writing(runId, async () => {
      const run = await getRun(db, runId);
      const report = monotonic(onProgress);
      return exportDelphiZip(runExport(db, run, await readRunTokens(db, run), nSplits), {
        ...(signal ? { signal } : {}),
        onProgress: (event) => report({ stage: 'export', done: event.split, total: event.splits, text: `Exporting: ${event.split} of ${event.splits} splits, ${formatBytes(event.bytes)}` }),
      });
    });
  }

  async exportCacheFiles(runId: string, nSplits: number, onFile: (path: string, bytes: Uint8Array) => Promise<void>, signal?: AbortSignal): Promise<void> {
    const db = await this.cacheDb();
    await this.writing(runId, async () => {
      const run = await getRun(db, runId);
      for await (const file of delphiFiles(runExport(db, run, await readRunTokens(db, run), nSplits), signal)) await onFile(file.path, file.bytes);
    });
  }

  async importDelphi(files: { path: string; blob: Blob }[], onProgress?: (progress: Progress) => void, signal?: AbortSignal): Promise<CacheRun[]> {
    const zip = files.length === 1 && files[0]!.path.toLowerCase().endsWith('.zip');
    const read = signal ? { signal } : {};
    const hooks = zip ? await readDelphiZip(files[0]!.blob, read).catch((error: unknown) => {
      // Name the file: the reader only knows it has bytes.
      throw error instanceof AppError && error.code.startsWith('zip/') ? new AppError(error.code, `${files[0]!.path}: ${error.message}`) : error;
    }) : await readDelphiFolder(files, read);
    const db = await this.cacheDb();
    const report = monotonic(onProgress);
    const imported: CacheRun[] = [];
    for (const [index, hook] of hooks.entries()) {
      throwIfAborted(signal, 'The import');
      report({ stage: 'import', done: index, total: hooks.length, text: `Importing ${hook.hook || hook.dir} (${index + 1} of ${hooks.length})` });
      const existing = await findSameCache(db, hook);
      if (existing) {
        imported.push(existing);
        continue;
      }
      const vocab = hook.tokens.reduce((max, t) => Math.max(max, t), 0) + 1;
      imported.push(await importDelphiHook(db, newCacheId(), hook, vocab));
    }
    report({ stage: 'import', done: hooks.length, total: hooks.length, text: `Imported ${hooks.length} cache${hooks.length === 1 ? '' : 's'}` });
    return imported;
  }

  async cacheDigest(runId: string): Promise<string> {
    const db = await this.cacheDb();
    return runDigest(db, await getRun(db, runId));
  }

  async time(request: TimingRequest): Promise<TimingResult> {
    const model = this.requireModel();
    let once: () => Promise<unknown>;
    let release = async () => {};
    if (request.kind === 'engine') {
      once = () => this.encode(request.rows);
    } else if (request.kind === 'cut') {
      once = () => this.hookActivations(request.hookName ?? this.encoder?.ready.spec.hookName ?? 'blocks.0.hook_resid_pre', request.rows);
    } else if (request.kind === 'product') {
      const state = this.encoder;
      if (!state) throw new AppError('sae/not-ready', 'No SAE is ready: open and select one first.');
      const { spec } = state.ready;
      const bytes = buildEncoderProductModel(spec, await loadSaeWeights(state.candidate, spec), { maxTensorBytes: await this.maxTensorBytes() });
      const session = await this.runtime.backend.createSession(bytes, 'the SAE encoder product');
      const dims = [request.rows.length, request.rows[0]?.length ?? 0, spec.dIn];
      const x = { type: 'float32' as const, data: new Prng(1).normals(dims[0]! * dims[1]! * dims[2]!, 1), dims };
      once = () => session.run({ [ENCODER_PRODUCT_IO.input]: x });
      release = () => session.release();
    } else {
      const session = await this.runtime.backend.createSession(model.onnx, 'the full model', { externalData: model.externalData });
      const pastType = pastKeyValuesType(model.onnx); // the whole export takes its own type (the built graphs take float32)
      // The outputs come back to the CPU, as they would for a user of logits.
      once = () => session.run(tokenFeeds(session.inputNames, request.rows, model.dims, pastType));
      release = () => session.release();
    }
    if (!request.warm) await once(); // warm-up: shader compilation and first allocations stay out of the timing
    const repeats: number[] = [];
    for (let i = 0; i < request.repeats; i++) {
      const start = performance.now();
      await once();
      repeats.push((performance.now() - start) / 1000);
    }
    await release();
    const perRepeat = request.rows.length * (request.rows[0]?.length ?? 0);
    const median = [...repeats].sort((a, b) => a - b)[Math.floor(repeats.length / 2)] ?? Number.NaN;
    return { tokens: perRepeat * repeats.length, seconds: repeats.reduce((a, b) => a + b, 0), tokensPerSecond: perRepeat / median, repeats };
  }

  async timeStorage(width: number, k: number): Promise<StorageTiming> {
    const db = await this.cacheDb();
    const ctx = 256;
    const tokens = chunkRowsFor(ctx) * ctx;
    const id = `bench-${newCacheId()}`;
    const run = await createRun(db, id, {
      model: { repo: 'bench', revision: 'main', hubUrl: '' },
      sae: { label: 'bench', fingerprint: 'bench', width, hookName: 'bench', architecture: 'topk', k },
      dataset: { description: 'synthetic', seed: 0, ctx, maxTokens: tokens, prependBos: false },
    }, syntheticTokens(tokens, 50257), 50257);
    const records = chunkToShards(syntheticTopK(tokens, k, width), width);
    const start = performance.now();
    const done = await writeChunk(db, id, 0, records);
    const seconds = (performance.now() - start) / 1000;
    await deleteRun(db, id);
    const written = done.bytes - run.bytes;
    return { seconds, bytes: done.bytes, nnz: done.nnz, mbPerSecond: written / 1e6 / seconds, bytesPerNonzero: done.bytes / done.nnz };
  }

  private loadTokenizer(): Promise<TextTokenizer> {
    const model = this.requireModel();
    return this.tokenizer.get('model', () => loadTokenizer(model.source));
  }

  private cacheDb(): Promise<CacheDatabase> {
    return this.db.get('db', () => (this.options.openDb ?? (() => openCacheDb()))());
  }

  private requireModel(): ModelState {
    if (!this.model) throw new AppError('model/not-loaded', 'No model is loaded: load one first.');
    return this.model;
  }

  private async maxTensorBytes(): Promise<number> {
    const gpu = await this.runtime.detectGpu();
    // onnxruntime asks for the adapter's limits; stay under both with a margin for alignment.
    return gpu.available ? Math.floor(Math.min(gpu.limits.maxBufferSize, gpu.limits.maxStorageBufferBindingSize) * 0.9) : 128 * 2 ** 20;
  }

  private async unloadModel(): Promise<void> {
    // Detached first, as in selectSae, so a running cache stops cleanly instead of using released sessions.
    const encoder = this.encoder;
    this.encoder = undefined;
    this.model = undefined;
    this.tokenizer.forget();
    for (const session of this.hookSessions.values()) await session.release();
    this.hookSessions.clear();
    await encoder?.encoder.release();
    await this.causalLm?.dispose();
    this.causalLm = undefined;
  }
}

/** The Web Lock a cache's writer holds. */
const cacheLock = (runId: string): string => `autointerp-cache:${runId}`;
