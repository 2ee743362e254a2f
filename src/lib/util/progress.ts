/**
 * The one progress shape every long call reports (model download, corpus preparation, cache run,
 * export, import): a stage, how far it is, and a line ready to show. Calls may add fields of their own
 * (a cache run adds tokens/s and bytes), but these four are always there.
 */
export interface Progress {
  /** What is being done now, e.g. 'download', 'tokenize', 'encode', 'export'. */
  stage: string;
  /** Units done in this stage; never goes down within a stage. */
  done: number;
  /** Units in this stage, when known. */
  total?: number;
  /** A line for the user, e.g. "Downloading onnx/model.onnx: 12.0 of 498.0 MB". */
  text: string;
}

export type ProgressCallback<P extends Progress = Progress> = (progress: P) => void;

/**
 * Wraps a callback so that within one stage `done` never goes down and the total never drops below
 * it, whatever order the producer reports in. A new stage starts from its own numbers.
 */
export function monotonic<P extends Progress>(callback: ProgressCallback<P> | undefined): ProgressCallback<P> {
  let stage: string | undefined;
  let done = 0;
  return (progress) => {
    if (!callback) return;
    if (progress.stage !== stage) {
      stage = progress.stage;
      done = progress.done;
    } else {
      done = Math.max(done, progress.done);
    }
    const total = progress.total === undefined ? undefined : Math.max(progress.total, done);
    callback({ ...progress, done, ...(total === undefined ? {} : { total }) });
  };
}

/** "1.2 GB", "12.3 MB", "0.14 MB", "85 kB", "512 B". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e5) return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
  if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} kB`;
  return `${bytes} B`;
}

/** "45 s", "12 min", "3.5 h". */
export function formatDuration(seconds: number): string {
  return seconds < 90 ? `${Math.round(seconds)} s` : seconds < 5400 ? `${Math.round(seconds / 60)} min` : `${(seconds / 3600).toFixed(1)} h`;
}
