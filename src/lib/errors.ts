/**
 * Named errors with a stable code and a message that says what went wrong and how to fix it.
 * Comlink keeps an error's name and message across the worker boundary but not its class, so
 * callers branch on `code` (also embedded in the message as a `[code]` prefix) rather than on
 * `instanceof`.
 */
export type ErrorCode =
  | 'safetensors/too-small'
  | 'safetensors/header-length'
  | 'safetensors/header-json'
  | 'safetensors/bad-entry'
  | 'safetensors/unsupported-dtype'
  | 'safetensors/bad-offsets'
  | 'safetensors/missing-tensor'
  | 'onnx/malformed'
  | 'onnx/missing-tensor'
  | 'model/load-failed'
  | 'webgpu/unavailable'
  | 'sae/unknown-layout'
  | 'sae/bad-shape'
  | 'sae/bad-config'
  | 'sae/mismatch'
  | 'safetensors/truncated'
  | 'sae/no-weights'
  | 'sae/config-mismatch'
  | 'sae/unsupported-architecture'
  | 'sae/unknown-hook'
  | 'sae/layer-out-of-range'
  | 'storage/quota'
  | 'storage/failed'
  | 'cache/not-found'
  | 'cache/bad-input'
  | 'cache/mismatch'
  | 'delphi/missing-config'
  | 'delphi/bad-config'
  | 'delphi/bad-split'
  | 'delphi/bad-dtype'
  | 'delphi/ranges'
  | 'delphi/mismatch'
  | 'delphi/out-of-range'
  | 'delphi/missing-tokens'
  | 'delphi/bad-input'
  | 'zip/bad-archive'
  | 'zip/unsupported'
  | 'zip/bad-input'
  | 'corpus/bad-jsonl'
  | 'corpus/missing-column'
  | 'corpus/not-text'
  | 'corpus/bad-parquet'
  | 'corpus/fetch-failed'
  | 'corpus/no-parquet-files'
  | 'corpus/too-small'
  | 'corpus/bad-options'
  | 'cancelled';

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(`[${code}] ${message}`);
  }
}

/** Reads the code back from an error that may have crossed a worker boundary as a plain Error. */
export function errorCode(error: unknown): ErrorCode | undefined {
  if (error instanceof AppError) return error.code;
  const message = error instanceof Error ? error.message : String(error);
  const match = /^\[([a-z0-9-]+\/[a-z0-9-]+|cancelled)\]/.exec(message);
  return match ? (match[1] as ErrorCode) : undefined;
}
