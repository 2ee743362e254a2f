/**
 * Named errors with a stable code and a message that says what went wrong and how to fix it. The
 * message is for the user as it is; the code is for programs. Across a worker boundary the code
 * travels as a property (workers/comlink-handlers.ts); `errorCode` also reads the `[code] ` prefix
 * that `describeError` writes for logs and command lines.
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
  | 'model/not-loaded'
  | 'model/unsupported'
  | 'model/bad-config'
  | 'model/bad-input'
  | 'model/too-long'
  | 'model/no-usable-file'
  | 'hub/fetch-failed'
  | 'hub/not-found'
  | 'hub/gated'
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
  | 'sae/not-ready'
  | 'sae/non-finite'
  | 'storage/quota'
  | 'storage/failed'
  | 'cache/not-found'
  | 'cache/bad-input'
  | 'cache/mismatch'
  | 'cache/busy'
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
  | 'zip/too-large'
  | 'corpus/bad-jsonl'
  | 'corpus/missing-column'
  | 'corpus/not-text'
  | 'corpus/bad-parquet'
  | 'corpus/fetch-failed'
  | 'corpus/no-parquet-files'
  | 'corpus/too-small'
  | 'corpus/bad-options'
  | 'llm/unauthorized'
  | 'llm/no-credits'
  | 'llm/forbidden'
  | 'llm/bad-request'
  | 'llm/not-found'
  | 'llm/unsupported'
  | 'llm/rate-limited'
  | 'llm/server'
  | 'llm/timeout'
  | 'llm/network'
  | 'llm/bad-response'
  | 'llm/empty'
  | 'llm/truncated'
  | 'llm/no-logprobs'
  | 'llm/bad-json'
  | 'llm/budget'
  | 'llm/prompt-too-long'
  | 'llm/auth-exchange'
  | 'explain/unknown-explainer'
  | 'explain/bad-settings'
  | 'score/unknown-scorer'
  | 'score/bad-settings'
  | 'pipeline/bad-options'
  | 'pipeline/other-inputs'
  | 'results/not-found'
  | 'results/bad-name'
  | 'results/bad-file'
  | 'results/mixed'
  | 'results/bad-input'
  | 'results/mismatch'
  | 'cancelled';

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const CODE_PREFIX = /^\[([a-z0-9-]+\/[a-z0-9-]+|cancelled)\] /;

/** The error's code: its `code` property (an AppError, or one rebuilt after a worker boundary), else a `[code] ` prefix. */
export function errorCode(error: unknown): ErrorCode | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^([a-z0-9-]+\/[a-z0-9-]+|cancelled)$/.test(code)) return code as ErrorCode;
  const message = error instanceof Error ? error.message : String(error);
  const match = CODE_PREFIX.exec(message);
  return match ? (match[1] as ErrorCode) : undefined;
}

/** The message for the user, without a code prefix. */
export function errorMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(CODE_PREFIX, '');
}

/** `[code] message` for logs, command lines and stored failures. */
export function describeError(error: unknown): string {
  const code = errorCode(error);
  const message = errorMessage(error);
  return code ? `[${code}] ${message}` : message;
}
