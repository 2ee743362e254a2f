/**
 * The page's handle on the engine worker: owns the worker, keeps what the UI shows as reactive state.
 * Also published as `window.autointerp.engine` so the browser tests and the devtools console can drive
 * the same worker the UI uses.
 */
import * as Comlink from 'comlink';
import type { EngineApi, LoadedModel, ModelLoadEvent, ModelSource, WebGpuStatus } from '../../../workers/engine-api.ts';

export interface FileProgress {
  loaded: number;
  total: number;
  done: boolean;
}

export class EngineState {
  readonly api: Comlink.Remote<EngineApi>;
  gpu = $state<WebGpuStatus | undefined>();
  model = $state<LoadedModel | undefined>();
  loading = $state(false);
  files = $state<Record<string, FileProgress>>({});
  error = $state<string | undefined>();

  constructor() {
    const worker = new Worker(new URL('../../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'engine' });
    this.api = Comlink.wrap<EngineApi>(worker);
  }

  async detect(): Promise<void> {
    try {
      this.gpu = await this.api.webgpu();
    } catch (error) {
      this.gpu = { available: false, reason: `The engine worker failed to start: ${(error as Error).message}`, advice: 'Reload the page; if it persists, use a current Chrome or Edge.' };
    }
  }

  async loadModel(source: ModelSource): Promise<void> {
    this.loading = true;
    this.error = undefined;
    this.files = {};
    this.model = undefined;
    try {
      this.model = await this.api.loadModel(source, Comlink.proxy((event: ModelLoadEvent) => this.onLoadEvent(event)));
    } catch (error) {
      this.error = (error as Error).message;
    } finally {
      this.loading = false;
    }
  }

  /** Bytes downloaded over bytes expected, across every file seen so far (0..1). */
  get downloadFraction(): number {
    const files = Object.values(this.files);
    const total = files.reduce((sum, f) => sum + f.total, 0);
    return total > 0 ? files.reduce((sum, f) => sum + (f.done ? f.total : f.loaded), 0) / total : 0;
  }

  private onLoadEvent(event: ModelLoadEvent): void {
    if (event.kind === 'file') {
      const previous = this.files[event.file];
      // Progress never goes backwards, even if the library reports out of order.
      this.files[event.file] = { loaded: Math.max(previous?.loaded ?? 0, event.loaded), total: event.total, done: previous?.done ?? false };
    } else if (event.kind === 'file-done') {
      const previous = this.files[event.file];
      this.files[event.file] = { loaded: previous?.total ?? 0, total: previous?.total ?? 0, done: true };
    }
  }
}
