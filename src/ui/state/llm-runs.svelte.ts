/**
 * The LLM jobs running in the interp worker, whatever their stage: each one's progress, pausable, one
 * list of what runs (the explain and score screens start nothing new while something runs).
 */
import * as Comlink from 'comlink';
import { errorMessage } from '../../lib/index.ts';
import type { ExplainProgress, InterpApi, LlmConnection, ScoreProgress, StoredLlmJob } from '../../../workers/interp/api.ts';
import type { LlmConnectionState } from './llm-connection.svelte.ts';

export type RunProgress = ExplainProgress | ScoreProgress;

export class LlmRuns {
  progress = $state.raw<Record<string, RunProgress>>({});
  running = $state.raw<string[]>([]);
  private controls = new Map<string, AbortController>();

  get busy(): boolean {
    return this.running.length > 0;
  }

  /**
   * Runs job `jobId` in the worker with its progress kept (and told to `onProgress`), pausable;
   * returns the error's message when it failed, undefined otherwise.
   */
  async track(
    jobId: string,
    connection: LlmConnection,
    start: (connection: LlmConnection, onProgress: (progress: RunProgress) => void, signal: AbortSignal) => Promise<unknown>,
    onProgress?: () => void,
  ): Promise<string | undefined> {
    const control = new AbortController();
    this.controls.set(jobId, control);
    this.running = [...this.running, jobId];
    try {
      await start(
        connection,
        Comlink.proxy((progress: RunProgress) => {
          this.progress = { ...this.progress, [jobId]: progress };
          onProgress?.();
        }),
        control.signal,
      );
      return undefined;
    } catch (error) {
      return errorMessage(error);
    } finally {
      this.controls.delete(jobId);
      this.running = this.running.filter((id) => id !== jobId);
    }
  }

  pause(jobId: string): void {
    this.controls.get(jobId)?.abort();
  }
}

/** What explain and score jobs share on the page: their list, the one shown, running one, their error. */
export abstract class LlmJobsState {
  jobs = $state.raw<StoredLlmJob[]>([]);
  /** The job whose results are shown. */
  shownJob = $state<string | undefined>();
  error = $state<string | undefined>();

  constructor(
    protected readonly interp: Comlink.Remote<InterpApi>,
    readonly connection: LlmConnectionState,
    readonly runs: LlmRuns,
  ) {}

  /** Reloads the jobs of cache `runId` (and what is shown of them). */
  abstract refresh(runId: string): Promise<void>;

  /** The worker's call that runs job `jobId`. */
  protected abstract runInWorker(jobId: string, connection: LlmConnection, onProgress: (progress: RunProgress) => void, signal: AbortSignal): Promise<unknown>;

  /** Told at each progress of a job this state runs. */
  protected progressed(_jobId: string): void {}

  /** Runs or resumes a job until it ends, stops, or is paused. */
  async run(jobId: string, runId: string): Promise<void> {
    this.error = undefined;
    const failed = await this.runs.track(jobId, this.connection.forRun(), (connection, onProgress, signal) => this.runInWorker(jobId, connection, onProgress, signal), () => this.progressed(jobId));
    if (failed) this.error = failed;
    await this.refresh(runId);
  }

  /** Creates a job (shown from then on) and runs it; an error is this state's. */
  protected async createAndRun(runId: string, create: () => Promise<StoredLlmJob>): Promise<void> {
    try {
      const job = await create();
      this.shownJob = job.id;
      await this.refresh(runId);
      await this.run(job.id, runId);
    } catch (error) {
      this.error = errorMessage(error);
    }
  }
}
