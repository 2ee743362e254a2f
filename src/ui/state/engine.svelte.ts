/**
 * The page's handle on the engine worker: owns the worker, keeps what the UI shows as reactive state.
 * Also published as `window.autointerp.engine` so the browser tests and the devtools console can drive
 * the same worker the UI uses.
 */
import * as Comlink from 'comlink';
import { errorMessage } from '../../lib/index.ts';
import { registerTransferHandlers } from '../../../workers/comlink-handlers.ts';
import { PolicyWorker } from '../content-security-policy.ts';
import type { EngineApi, LoadedModel, ModelFileChoice, ModelSource, Progress, ReadySae, SaeFilesResult, SaeSpec, WebGpuStatus } from '../../../workers/engine/api.ts';

/** One token of the sample text with the features active on it, strongest first. */
export interface TokenFeatures {
  piece: string;
  features: { index: number; value: number }[];
  active: number;
}

const LAST_MODEL_KEY = 'autointerp.last-model';

/** The model loaded last in this browser (what the Setup screen offers again after a reload), if any. */
export function lastModel(): { repo: string; revision: string; hubUrl: string } | undefined {
  try {
    const saved = JSON.parse(localStorage.getItem(LAST_MODEL_KEY) ?? 'null') as { repo?: unknown; revision?: unknown; hubUrl?: unknown } | null;
    return saved && typeof saved.repo === 'string' && typeof saved.hubUrl === 'string' ? { repo: saved.repo, revision: typeof saved.revision === 'string' ? saved.revision : 'main', hubUrl: saved.hubUrl } : undefined;
  } catch {
    return undefined;
  }
}

export class EngineState {
  readonly api: Comlink.Remote<EngineApi>;
  gpu = $state<WebGpuStatus | undefined>();
  model = $state<LoadedModel | undefined>();
  loading = $state(false);
  /** The model download's latest progress (one stage per file). */
  progress = $state.raw<Progress | undefined>();
  error = $state<string | undefined>();
  saeFiles = $state.raw<SaeFilesResult | undefined>();
  sae = $state.raw<ReadySae | undefined>();
  /** While another SAE is being put to use (the one in use may already be released). */
  saeSwitching = $state(false);
  saeBusy = $state(false);
  saeError = $state<string | undefined>();
  sample = $state.raw<TokenFeatures[] | undefined>();
  sampleError = $state<string | undefined>();
  /** The text `sample` is of. */
  sampleText = $state<string | undefined>();
  /** Something the SAE panel should say that is not an error (e.g. the SAE was released). */
  saeNote = $state<string | undefined>();

  constructor() {
    registerTransferHandlers();
    // Vite bundles the worker where it sees `new Worker(new URL(…, import.meta.url))`; this `Worker` starts
    // it from a blob: module so that it runs under the page's Content-Security-Policy.
    const Worker = PolicyWorker;
    const worker = new Worker(new URL('../../../workers/engine/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    this.api = Comlink.wrap<EngineApi>(worker);
  }

  async detect(): Promise<void> {
    try {
      this.gpu = await this.api.webgpu();
    } catch (error) {
      this.gpu = { available: false, reason: `The engine worker failed to start: ${(error as Error).message}`, advice: 'Reload the page; if it persists, use a current Chrome or Edge.' };
    }
  }

  /** The hub the loaded model came from (the corpus panel offers the demo hub for datasets when it is the demo's). */
  hubUrl = $state<string | undefined>();

  /** The demo hub shipped with the app (`demo-hub/`, beside the page). */
  readonly demoHub = new URL('demo-hub/', location.href).href;
  /** Whether the loaded model is the demo's (the SAE panel then offers the demo SAE; the page says it is a demo). */
  get isDemoModel(): boolean {
    return !!this.model && this.hubUrl === this.demoHub;
  }

  private loadControl: AbortController | undefined;
  /** What a load of the repo in the Model panel would download, or why it cannot (newest request wins). */
  inspection = $state.raw<{ source: ModelSource; choice?: ModelFileChoice; error?: string } | undefined>();
  private inspecting = 0;
  /** Downloaded model files the browser keeps. */
  modelFiles = $state.raw<{ files: number; bytes: number } | undefined>();
  /** The SAE files opened last, opened again when another model loads (what fits depends on the model). */
  private lastSaeFiles: File[] | undefined;

  /** Looks up the file a load would take and its size, without downloading it. */
  async inspect(source: ModelSource): Promise<void> {
    const request = ++this.inspecting;
    this.inspection = { source };
    try {
      const choice = await this.api.inspectModel(source);
      if (request === this.inspecting) this.inspection = { source, choice };
    } catch (error) {
      if (request === this.inspecting) this.inspection = { source, error: (error as Error).message };
    }
  }

  async refreshModelFiles(): Promise<void> {
    this.modelFiles = await this.api.modelStorage().catch(() => undefined);
  }

  async clearModelFiles(): Promise<void> {
    await this.api.clearModelStorage();
    await this.refreshModelFiles();
  }

  async loadModel(source: ModelSource): Promise<void> {
    const control = new AbortController();
    this.loadControl = control;
    this.loading = true;
    this.error = undefined;
    this.progress = undefined;
    this.model = undefined;
    // The worker releases the SAE's GPU session with the old model: what the SAE panel showed is no longer true.
    if (this.sae) this.saeNote = 'The SAE was released with the previous model: choose "Use this SAE" again.';
    this.sae = undefined;
    this.sample = undefined;
    this.sampleError = undefined;
    this.saeError = undefined;
    try {
      this.hubUrl = source.hubUrl;
      this.model = await this.api.loadModel(source, Comlink.proxy((progress: Progress) => (this.progress = progress)), control.signal);
      localStorage.setItem(LAST_MODEL_KEY, JSON.stringify({ repo: source.repo, revision: source.revision ?? 'main', hubUrl: source.hubUrl }));
    } catch (error) {
      this.error = (error as Error).message;
    } finally {
      this.loading = false;
      this.loadControl = undefined;
    }
    void this.refreshModelFiles();
    // Whether the opened SAE fits depends on the model: read its files again against this one.
    if (this.model && this.lastSaeFiles) await this.openSaeFiles(this.lastSaeFiles, true);
  }

  /** Stops the model download in progress. */
  cancelLoad(): void {
    this.loadControl?.abort();
  }

  /** Opens the toy SAE shipped with the app (`demo-sae/`, beside the page), as if its files were dropped. */
  async openDemoSae(): Promise<void> {
    try {
      const base = new URL('demo-sae/', location.href);
      const names = (await (await fetch(new URL('files.json', base))).json()) as string[];
      const files = await Promise.all(names.map(async (name) => {
        const response = await fetch(new URL(name, base));
        if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
        return new File([await response.blob()], name);
      }));
      await this.openSaeFiles(files);
    } catch (error) {
      this.saeError = `The demo SAE could not be read from this site (${errorMessage(error)}); it ships in the app's demo-sae/ folder, which \`npm start\` builds.`;
    }
  }

  /**
   * Reads the dropped files' headers and configs (nothing is loaded onto the GPU yet). The SAE in use
   * stays in use until another is chosen: files that are refused change nothing but the message.
   */
  async openSaeFiles(files: File[], keepNote = false): Promise<void> {
    const note = this.saeNote;
    await this.saeTask(async () => {
      if (keepNote) this.saeNote = note;
      this.saeFiles = undefined; // the choices shown are of the files being read
      const inputs = files.map((file) => ({ path: file.webkitRelativePath || file.name, blob: file }));
      this.saeFiles = await this.api.openSaeFiles(inputs);
      this.lastSaeFiles = files;
    });
  }

  async selectSae(id: string, overrides: Partial<SaeSpec>): Promise<void> {
    await this.saeTask(async () => {
      this.saeSwitching = true;
      try {
        this.sae = await this.api.selectSae(id, { overrides: $state.snapshot(overrides) as Partial<SaeSpec> });
        this.sample = undefined;
      } finally {
        // A refusal before the swap leaves the SAE in use as it was; one after it leaves none.
        this.sae = await this.api.currentSae();
        this.saeSwitching = false;
      }
    });
  }

  async estimateScale(id: string, text: string, overrides: Partial<SaeSpec>): Promise<number | undefined> {
    let scale: number | undefined;
    await this.saeTask(async () => {
      const rows = [await this.sampleRow(text, overrides.prependBos ?? true)];
      scale = await this.api.estimateScale(id, rows, $state.snapshot(overrides) as Partial<SaeSpec>);
    });
    return scale;
  }

  /** Runs the sample text through model and SAE and keeps each token's active features. */
  async encodeText(text: string): Promise<void> {
    this.sampleError = undefined;
    await this.saeTask(async () => {
      this.sample = undefined;
      const prependBos = this.sae?.spec.prependBos ?? false;
      const { ids, pieces } = await this.api.tokenize(text);
      const row = prependBos ? [this.bosId(), ...ids] : ids;
      const limit = this.model?.nPositions ?? Infinity;
      if (row.length > limit) throw new Error(`The text is ${row.length.toLocaleString()} tokens; the model reads at most ${limit.toLocaleString()} at once. Shorten it.`);
      const sparse = await this.api.encode([row]);
      const shown = prependBos ? ['<bos>', ...pieces] : pieces;
      this.sampleText = text;
      this.sample = shown.map((piece, t) => {
        const features = [];
        for (let i = sparse.offsets[t]!; i < sparse.offsets[t + 1]!; i++) features.push({ index: sparse.features[i]!, value: sparse.values[i]! });
        features.sort((a, b) => b.value - a.value);
        return { piece, features, active: features.length };
      });
    }, (message) => (this.sampleError = message));
  }

  private async sampleRow(text: string, prependBos: boolean): Promise<number[]> {
    const { ids } = await this.api.tokenize(text);
    return prependBos ? [this.bosId(), ...ids] : ids;
  }

  private bosId(): number {
    return this.model?.bosTokenId ?? 50256;
  }

  /** Runs SAE work one at a time; a failure is shown by the SAE panel unless `onError` shows it elsewhere. */
  private async saeTask(task: () => Promise<void>, onError?: (message: string) => void): Promise<void> {
    this.saeBusy = true;
    this.saeError = undefined;
    this.saeNote = undefined;
    try {
      await task();
    } catch (error) {
      if (onError) onError((error as Error).message);
      else this.saeError = (error as Error).message;
    } finally {
      this.saeBusy = false;
    }
  }

  /** How far the file being downloaded is (0..1). */
  get downloadFraction(): number {
    const progress = this.progress;
    return progress?.total ? progress.done / progress.total : 0;
  }
}
