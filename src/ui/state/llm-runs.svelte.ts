/**
 * The LLM jobs running in the interp worker, whatever their stage: each one's progress, pausable, one
 * list of what runs (the explain and score screens start nothing new while something runs).
 */
import * as Comlink from 'comlink';
import { errorMessage } from '../../lib/index.ts';
import type { ExplainProgress, LlmConnection, ScoreProgress } from '../../../workers/interp/api.ts';

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
