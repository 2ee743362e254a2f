/** The engine worker's implementation: thin glue from the API to the core in src/lib. */
import { AutoTokenizer, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import { AppError } from '../src/lib/errors.ts';
import { downloadHubFile, type HubFile } from '../src/lib/runtime/hub.ts';
import { HUGGING_FACE_HUB, loadCausalLm, ort, runLogits, useHub, webgpuBackendDevice } from '../src/lib/runtime/onnx-runtime.ts';
import { OrtSession } from '../src/lib/runtime/ort-session.ts';
import { detectWebGpu } from '../src/lib/runtime/webgpu.ts';
import { buildEncoderModel, buildHookModel, HOOK_OUTPUT } from '../src/lib/sae/encoder-model.ts';
import { encoderBlockColumns, SAE_K_INPUT, SAE_OUTPUTS } from '../src/lib/sae/encode-graph.ts';
import { checkSaeAgainstModel, detectSaes, encodingKey, estimateNormalizationScale, loadSaeWeights, summarizeSae, type ModelDims, type SaeCandidate, type SaeSpec } from '../src/lib/sae/index.ts';
import { packTopK } from '../src/lib/sae/sparse.ts';
import { batchRowsFor, runCache, type CacheProgress } from '../src/lib/latents/cache-runner.ts';
import { chunkRowsFor, chunkToShards } from '../src/lib/latents/cache-layout.ts';
import { importDelphiHook, runExport } from '../src/lib/latents/cache-interchange.ts';
import { describeSource, listColumns, packRows, previewRows, readDocuments, type PackedCorpus } from '../src/lib/corpus/index.ts';
import { delphiFiles, exportDelphiZip, readDelphiFolder, readDelphiZip } from '../src/lib/latents/delphi-format.ts';
import { createRun, deleteRun, getRun, listRuns, openCacheDb, readFeature, readRunTokens, runDigest, writeChunk, type CacheDatabase, type CacheRun } from '../src/lib/storage/cache-store.ts';
import type {
  CacheRunOptions, ColumnListing, CorpusColumnsSource, CorpusOptions, CorpusSource, CorpusSummary, EngineApi, NewCache, PackStats, TimingRequest, TimingResult, LoadedModel, LogitsResult, ModelLoadEvent, ModelSource, ReadySae, SaeFilesResult, SaeInputFile, SelectSaeOptions, SparseActivations, WebGpuStatus,
} from './engine-api.ts';

interface ModelState {
  source: Required<ModelSource>;
  info: LoadedModel;
  onnx: Uint8Array;
  dims: ModelDims;
}

interface EncoderState {
  session: OrtSession;
  ready: ReadySae;
  /** TopK cap for ReLU-like SAEs; grows when a token has more active features, never shrinks. */
  cap: number;
}

/** Starting cap on active features per token for ReLU-like SAEs (GPT-2 SAEs have L0 around 20-100). */
const INITIAL_CAP = 64;

export class Engine implements EngineApi {
  private model: ModelState | undefined;
  private logitsModel: PreTrainedModel | undefined;
  private tokenizer: PreTrainedTokenizer | undefined;
  private hookSessions = new Map<string, OrtSession>();
  private candidates: SaeCandidate[] = [];
  private saeFiles = new Map<string, Blob>();
  private db: Promise<CacheDatabase> | undefined;
  private pauseRequested = false;
  private corpus: { packed: PackedCorpus; summary: CorpusSummary; options: CorpusOptions } | undefined;
  private encoder: EncoderState | undefined;

  webgpu(): Promise<WebGpuStatus> {
    return detectWebGpu();
  }

  async loadModel(source: ModelSource, onEvent?: (event: ModelLoadEvent) => void): Promise<LoadedModel> {
    const gpu = await detectWebGpu();
    if (!gpu.available) throw new AppError('webgpu/unavailable', `${gpu.reason} ${gpu.advice}`);
    await this.unloadModel();
    const full: Required<ModelSource> = { repo: source.repo.trim(), hubUrl: source.hubUrl ?? HUGGING_FACE_HUB, revision: source.revision ?? 'main' };
    useHub(full.hubUrl);
    const file = (path: string): HubFile => ({ ...full, path });
    const fetchWithEvents = async (path: string) => {
      const bytes = await downloadHubFile(file(path), (loaded, total) => onEvent?.({ kind: 'file', file: path, loaded, total }));
      onEvent?.({ kind: 'file-done', file: path });
      return bytes;
    };
    const config = JSON.parse(new TextDecoder().decode(await fetchWithEvents('config.json'))) as Record<string, unknown>;
    if (config.model_type !== 'gpt2') {
      throw new AppError('model/load-failed', `"${full.repo}" is a ${String(config.model_type)} model; the engine runs GPT-2 (model_type gpt2) exports.`);
    }
    const onnx = await fetchWithEvents('onnx/model.onnx');
    const dModel = Number(config.n_embd);
    const nHead = Number(config.n_head);
    const dims: ModelDims = { dModel, nHeads: nHead, dHead: dModel / nHead, dMlp: Number(config.n_inner ?? 4 * dModel) || 4 * dModel, nLayers: Number(config.n_layer) };
    const info: LoadedModel = {
      repo: full.repo, modelType: 'gpt2', nLayer: dims.nLayers, dModel, nHead, dMlp: dims.dMlp, vocabSize: Number(config.vocab_size), bosTokenId: Number(config.bos_token_id ?? Number(config.vocab_size) - 1), eosTokenId: Number(config.eos_token_id ?? Number(config.vocab_size) - 1), onnxBytes: onnx.byteLength,
    };
    this.model = { source: full, info, onnx, dims };
    onEvent?.({ kind: 'ready' });
    return info;
  }

  async logits(rows: number[][]): Promise<LogitsResult> {
    const model = this.requireModel();
    this.logitsModel ??= await loadCausalLm(model.source.repo, model.source.revision);
    return runLogits(this.logitsModel, rows);
  }

  gpuDevice(): Promise<string | undefined> {
    return webgpuBackendDevice();
  }

  async hookActivations(hookName: string, rows: number[][]): Promise<LogitsResult> {
    const model = this.requireModel();
    let session = this.hookSessions.get(hookName);
    if (!session) {
      session = await OrtSession.create(buildHookModel(model.onnx, hookName).bytes, `the model up to ${hookName}`);
      this.hookSessions.set(hookName, session);
    }
    const output = (await session.run(rows, model.dims))[HOOK_OUTPUT]!;
    return { dims: [...output.dims], data: new Float32Array(output.data as Float32Array) };
  }

  async openSaeFiles(files: SaeInputFile[]): Promise<SaeFilesResult> {
    const detection = await detectSaes(files);
    this.candidates = detection.candidates;
    this.saeFiles = new Map(files.map((f) => [f.path, f.blob]));
    return {
      choices: detection.candidates.map((c) => ({ id: c.id, label: c.label, spec: c.spec, summary: summarizeSae(c.spec) })),
      skipped: detection.skipped.map((s) => ({ path: s.path, message: s.message })),
    };
  }

  async selectSae(id: string, options: SelectSaeOptions = {}): Promise<ReadySae> {
    const model = this.requireModel();
    const candidate = this.candidates.find((c) => c.id === id);
    if (!candidate) throw new AppError('sae/bad-config', `No SAE "${id}" among the opened files; open the files again.`);
    const spec = { ...candidate.spec, ...options.overrides };
    spec.missing = spec.missing.filter((field) => options.overrides?.[field as keyof typeof spec] === undefined);
    if (spec.missing.length > 0) {
      throw new AppError('sae/bad-config', `Set these before encoding: ${spec.missing.join(', ')}.`);
    }
    checkSaeAgainstModel(spec, model.dims);
    const weights = await loadSaeWeights(candidate, spec);
    const maxTensorBytes = options.maxTensorBytes ?? (await this.maxTensorBytes());
    const built = buildEncoderModel(model.onnx, spec, weights, { maxTensorBytes });
    // Detach before releasing: a cache run that queues its next batch meanwhile sees the change and stops.
    const previous = this.encoder;
    this.encoder = undefined;
    await previous?.session.release();
    const session = await OrtSession.create(built.bytes, `the SAE encoder at ${spec.hookName}`);
    const blob = this.saeFiles.get(candidate.weightsPath);
    const fingerprint = blob ? await fingerprintOf(blob) : candidate.id;
    const ready: ReadySae = { spec, label: candidate.label, fingerprint, encoderBlocks: Math.ceil(spec.width / encoderBlockColumns(spec.dIn, maxTensorBytes)), hookTensor: built.hook.tensor };
    this.encoder = { session, ready, cap: spec.architecture === 'topk' ? spec.k! : Math.min(options.initialCap ?? INITIAL_CAP, spec.width) };
    return ready;
  }

  /** The current cap on active features per token (grows when a batch overflows it). */
  async encoderCap(): Promise<number | undefined> {
    return this.encoder?.cap;
  }

  async encode(rows: number[][]): Promise<SparseActivations> {
    const model = this.requireModel();
    const encoder = this.encoder;
    if (!encoder) throw new AppError('sae/bad-config', 'No SAE is ready: open and select one first.');
    const { spec } = encoder.ready;
    const tokens = rows.length * (rows[0]?.length ?? 0);
    for (;;) {
      const k = encoder.cap;
      const outputs = await encoder.session.run(rows, model.dims, { [SAE_K_INPUT]: new ort.Tensor('int64', BigInt64Array.from([BigInt(k)]), [1]) });
      const values = outputs[SAE_OUTPUTS.values]!.data as Float32Array;
      const indices = outputs[SAE_OUTPUTS.indices]!.data as BigInt64Array;
      const counts = outputs[SAE_OUTPUTS.activeCount]?.data as Float32Array | undefined;
      const most = counts ? counts.reduce((m, c) => Math.max(m, c), 0) : 0;
      if (spec.architecture !== 'topk' && most > k) {
        // Some token has more active features than the cap returned: grow the cap and run the batch again.
        encoder.cap = Math.min(spec.width, 2 ** Math.ceil(Math.log2(most)));
        continue;
      }
      return packTopK(values, indices, tokens, k);
    }
  }

  async corpusColumns(source: CorpusColumnsSource): Promise<ColumnListing> {
    return listColumns(source);
  }

  async prepareCorpus(source: CorpusSource, options: CorpusOptions, onProgress?: (stats: PackStats) => void): Promise<CorpusSummary> {
    const model = this.requireModel();
    const tokenizer = await this.loadTokenizer();
    this.corpus = undefined;
    const packed = await packRows(readDocuments(source), {
      encode: (text) => tokenizer.encode(text, { add_special_tokens: false }),
      eosTokenId: model.info.eosTokenId,
      bosTokenId: model.info.bosTokenId,
    }, { ctx: options.ctx, maxTokens: options.maxTokens, seed: options.seed, prependBos: options.prependBos, ...(onProgress ? { onProgress } : {}) });
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
    this.corpus = { packed, summary, options };
    return summary;
  }

  private async loadTokenizer(): Promise<PreTrainedTokenizer> {
    const model = this.requireModel();
    useHub(model.source.hubUrl);
    this.tokenizer ??= await AutoTokenizer.from_pretrained(model.source.repo, { revision: model.source.revision });
    return this.tokenizer;
  }

  async tokenize(text: string): Promise<{ ids: number[]; pieces: string[] }> {
    const tokenizer = await this.loadTokenizer();
    const ids = tokenizer.encode(text, { add_special_tokens: false });
    return { ids, pieces: ids.map((id) => tokenizer.decode([id])) };
  }

  async estimateScale(id: string, rows: number[][], overrides: Partial<SaeSpec> = {}): Promise<number> {
    const candidate = this.candidates.find((c) => c.id === id);
    const spec = candidate && { ...candidate.spec, ...overrides };
    if (!spec?.hookName) throw new AppError('sae/bad-config', 'Set the SAE\'s hook point before estimating its input scale.');
    const activations = (await this.hookActivations(spec.hookName, rows)).data;
    if (spec.centerResidual) {
      for (let t = 0; t < activations.length / spec.dIn; t++) {
        const token = activations.subarray(t * spec.dIn, (t + 1) * spec.dIn);
        const mean = token.reduce((a, b) => a + b, 0) / spec.dIn;
        for (let i = 0; i < spec.dIn; i++) token[i]! -= mean;
      }
    }
    // BOS positions are huge and unlike the rest of the text: leave them out, as training did.
    const seq = rows[0]!.length;
    const kept = spec.prependBos && seq > 1 ? activations.filter((_, i) => Math.floor(i / spec.dIn) % seq !== 0) : activations;
    return estimateNormalizationScale(kept, spec.dIn);
  }

  async timeStorage(width: number, k: number) {
    const db = await this.cacheDb();
    const ctx = 256;
    const rows = chunkRowsFor(ctx);
    const tokens = rows * ctx;
    const matrix = Uint32Array.from({ length: tokens }, (_, i) => (i * 2654435761) % 50257);
    const id = `bench-${newCacheId()}`;
    const run = await createRun(db, id, {
      model: { repo: 'bench', revision: 'main', hubUrl: '' },
      sae: { label: 'bench', fingerprint: 'bench', width, hookName: 'bench', architecture: 'topk', k },
      dataset: { description: 'synthetic', seed: 0, ctx, maxTokens: tokens, prependBos: false },
    }, matrix, 50257);
    // Distinct pseudo-random features per token, values spread like real activations.
    const offsets = Uint32Array.from({ length: tokens + 1 }, (_, t) => t * k);
    const features = new Uint32Array(tokens * k);
    const values = new Float32Array(tokens * k);
    for (let t = 0; t < tokens; t++) {
      const picked = new Set<number>();
      let x = t * 7919 + 1;
      while (picked.size < k) picked.add((x = (Math.imul(x, 1103515245) + 12345) >>> 0) % width);
      [...picked].sort((a, b) => a - b).forEach((f, j) => { features[t * k + j] = f; values[t * k + j] = 0.5 + ((f * 31 + t) % 97) / 10; });
    }
    const records = chunkToShards({ tokens, offsets, features, values }, width);
    const start = performance.now();
    const done = await writeChunk(db, id, 0, records);
    const seconds = (performance.now() - start) / 1000;
    await deleteRun(db, id);
    const written = done.bytes - run.bytes;
    return { seconds, bytes: done.bytes, nnz: done.nnz, mbPerSecond: written / 1e6 / seconds, bytesPerNonzero: done.bytes / done.nnz };
  }

  async time(request: TimingRequest): Promise<TimingResult> {
    const model = this.requireModel();
    let once: () => Promise<unknown>;
    let release = async () => {};
    if (request.kind === 'engine') {
      once = () => this.encode(request.rows);
    } else if (request.kind === 'cut') {
      once = () => this.hookActivations(request.hookName ?? this.encoder?.ready.spec.hookName ?? 'blocks.0.hook_resid_pre', request.rows);
    } else {
      const session = await OrtSession.create(model.onnx, 'the full model');
      once = async () => {
        const outputs = await session.run(request.rows, model.dims);
        for (const output of Object.values(outputs)) await output.getData(); // read back, as a user of logits would
      };
      release = () => session.release();
    }
    await once(); // warm-up: shader compilation and first allocations stay out of the timing
    const start = performance.now();
    for (let i = 0; i < request.repeats; i++) await once();
    const seconds = (performance.now() - start) / 1000;
    await release();
    const tokens = request.repeats * request.rows.length * (request.rows[0]?.length ?? 0);
    return { tokens, seconds, tokensPerSecond: tokens / seconds };
  }

  async createCache(request: NewCache): Promise<CacheRun> {
    const model = this.requireModel();
    const sae = this.encoder?.ready;
    if (!sae) throw new AppError('sae/bad-config', 'Select an SAE before creating a cache.');
    const corpus = this.corpus;
    if (!request.tokens && !corpus) throw new AppError('cache/bad-input', 'Prepare a corpus (tokenize it) before creating a cache.');
    if (!request.tokens && corpus && corpus.options.prependBos !== sae.spec.prependBos) {
      throw new AppError('cache/mismatch', `The corpus was packed ${corpus.options.prependBos ? 'with' : 'without'} a BOS token per row but the SAE expects ${sae.spec.prependBos ? 'one' : 'none'}: tokenize it again.`);
    }
    const ctx = request.ctx ?? corpus!.packed.ctx;
    return createRun(await this.cacheDb(), newCacheId(), {
      model: { repo: model.source.repo, revision: model.source.revision, hubUrl: model.source.hubUrl },
      sae: { label: sae.label, fingerprint: sae.fingerprint, width: sae.spec.width, hookName: sae.spec.hookName!, architecture: sae.spec.architecture, ...(sae.spec.k ? { k: sae.spec.k } : {}), encoding: encodingKey(sae.spec) },
      dataset: {
        description: request.description ?? corpus?.summary.description ?? 'token rows',
        seed: request.seed ?? corpus?.options.seed ?? 0,
        ctx,
        maxTokens: request.maxTokens ?? corpus?.options.maxTokens ?? 0,
        prependBos: sae.spec.prependBos,
      },
    }, request.tokens ?? corpus!.packed.tokens, model.info.vocabSize, request.chunkRows);
  }

  async runCache(runId: string, onProgress?: (progress: CacheProgress) => void, options: CacheRunOptions = {}): Promise<CacheRun> {
    const model = this.requireModel();
    const db = await this.cacheDb();
    const run = await getRun(db, runId);
    const sae = this.encoder?.ready;
    // Never mix activations of different models or SAEs in one cache.
    if (run.settings.model.repo !== model.source.repo || run.settings.model.revision !== model.source.revision) {
      throw new AppError('cache/mismatch', `This cache was made with ${run.settings.model.repo}; load that model to resume it.`);
    }
    if (!sae || sae.fingerprint !== run.settings.sae.fingerprint || sae.spec.hookName !== run.settings.sae.hookName) {
      throw new AppError('cache/mismatch', `This cache was made with the SAE "${run.settings.sae.label}" at ${run.settings.sae.hookName}; open and select that SAE to resume it.`);
    }
    if (run.settings.sae.encoding !== undefined && run.settings.sae.encoding !== encodingKey(sae.spec)) {
      throw new AppError('cache/mismatch', `This cache was made with the SAE "${run.settings.sae.label}" set up differently (${settingsDiff(run.settings.sae.encoding, encodingKey(sae.spec))}); select it with the same settings to resume.`);
    }
    this.pauseRequested = false;
    const encoder = this.encoder;
    return runCache(db, runId, {
      // A model or SAE switched while the run goes on must not end up in this cache.
      encode: async (rows) => {
        if (this.encoder !== encoder || this.model !== model) {
          throw new AppError('cache/mismatch', 'The model or the SAE changed while the cache was running; it stopped with what was stored so far. Select the SAE it was made with and resume.');
        }
        return this.encode(rows);
      },
      batchRows: options.batchRows ?? batchRowsFor(run.ctx, run.width),
      shouldPause: () => this.pauseRequested,
      ...(onProgress ? { onProgress } : {}),
    });
  }

  async pauseCache(): Promise<void> {
    this.pauseRequested = true;
  }

  async listCaches(): Promise<CacheRun[]> {
    return listRuns(await this.cacheDb());
  }

  async deleteCache(runId: string): Promise<void> {
    await deleteRun(await this.cacheDb(), runId);
  }

  async cacheFeature(runId: string, feature: number): Promise<{ tokens: Uint32Array; values: Float32Array }> {
    const db = await this.cacheDb();
    return readFeature(db, await getRun(db, runId), feature);
  }

  async exportCache(runId: string, nSplits = 5): Promise<Blob> {
    const db = await this.cacheDb();
    const run = await getRun(db, runId);
    return exportDelphiZip(runExport(db, run, await readRunTokens(db, run), nSplits));
  }

  async exportCacheFiles(runId: string, nSplits: number, onFile: (path: string, bytes: Uint8Array) => Promise<void>): Promise<void> {
    const db = await this.cacheDb();
    const run = await getRun(db, runId);
    for await (const file of delphiFiles(runExport(db, run, await readRunTokens(db, run), nSplits))) await onFile(file.path, file.bytes);
  }

  async importDelphi(files: { path: string; blob: Blob }[]): Promise<CacheRun[]> {
    const zip = files.length === 1 && files[0]!.path.toLowerCase().endsWith('.zip');
    const hooks = zip ? await readDelphiZip(files[0]!.blob) : await readDelphiFolder(files);
    const db = await this.cacheDb();
    const imported: CacheRun[] = [];
    for (const hook of hooks) {
      const vocab = hook.tokens.reduce((max, t) => Math.max(max, t), 0) + 1;
      imported.push(await importDelphiHook(db, newCacheId(), hook, vocab));
    }
    return imported;
  }

  async cacheDigest(runId: string): Promise<string> {
    const db = await this.cacheDb();
    return runDigest(db, await getRun(db, runId));
  }

  private cacheDb(): Promise<CacheDatabase> {
    this.db ??= openCacheDb();
    return this.db;
  }

  private requireModel(): ModelState {
    if (!this.model) throw new AppError('model/load-failed', 'No model is loaded: load one first.');
    return this.model;
  }

  private async maxTensorBytes(): Promise<number> {
    const gpu = await detectWebGpu();
    // onnxruntime asks for the adapter's limits; stay under both with a margin for alignment.
    return gpu.available ? Math.floor(Math.min(gpu.limits.maxBufferSize, gpu.limits.maxStorageBufferBindingSize) * 0.9) : 128 * 2 ** 20;
  }

  private async unloadModel(): Promise<void> {
    // Detached first, as in selectSae, so a running cache stops cleanly instead of using released sessions.
    const encoder = this.encoder;
    this.encoder = undefined;
    this.model = undefined;
    for (const session of this.hookSessions.values()) await session.release();
    this.hookSessions.clear();
    await encoder?.session.release();
    await this.logitsModel?.dispose();
    this.logitsModel = undefined;
    this.tokenizer = undefined;
  }
}

/** The settings two encodingKey() strings disagree on, as "name: was → now". */
function settingsDiff(was: string, now: string): string {
  const a = JSON.parse(was) as Record<string, unknown>;
  const b = JSON.parse(now) as Record<string, unknown>;
  return Object.keys({ ...a, ...b }).filter((key) => JSON.stringify(a[key]) !== JSON.stringify(b[key])).map((key) => `${key}: ${JSON.stringify(a[key])} → ${JSON.stringify(b[key])}`).join(', ');
}

const newCacheId = () => `cache-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;

/** SHA-256 over the file's size, its first and its last MiB: tells SAE files apart without reading 400 MB. */
async function fingerprintOf(blob: Blob): Promise<string> {
  const mib = 2 ** 20;
  const parts = [new TextEncoder().encode(String(blob.size)), new Uint8Array(await blob.slice(0, mib).arrayBuffer()), new Uint8Array(await blob.slice(Math.max(0, blob.size - mib)).arrayBuffer())];
  const digest = await crypto.subtle.digest('SHA-256', await new Blob(parts).arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('').slice(0, 32);
}
