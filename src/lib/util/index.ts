/** Small helpers every stage may use: cancellation, seeded randomness, paths, digests, progress, WebGPU detection, load once. */
export { isAbortError, throwIfAborted } from './abort.ts';
export { sha256Hex } from './digest.ts';
export { eventLoopBreather } from './event-loop.ts';
export { basename, dirname, isSystemFile, normalizePath } from './paths.ts';
export { formatBytes, formatDuration, monotonic, type Progress, type ProgressCallback } from './progress.ts';
export { below, Prng, splitmix32 } from './random.ts';
export { adapterLabel, detectWebGpu, type WebGpuAdapterInfo, type WebGpuMissing, type WebGpuStatus } from './webgpu.ts';
export { SerialQueue } from './serial-queue.ts';
export { LoadOnce } from './load-once.ts';
export { exclusively, heldLocks } from './locks.ts';
