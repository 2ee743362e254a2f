/**
 * WebGPU detection, the same in a window and in a worker. The result is plain data so it can cross a
 * worker boundary and be shown as it is.
 */
export interface WebGpuAdapterInfo {
  available: true;
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** SwiftShader and other CPU implementations work but are slow; the UI says so. */
  isFallback: boolean;
  features: string[];
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number; maxComputeWorkgroupStorageSize: number };
}

export interface WebGpuMissing {
  available: false;
  reason: string;
  /** What the user can do about it. */
  advice: string;
}

export type WebGpuStatus = WebGpuAdapterInfo | WebGpuMissing;

const ADVICE =
  'Use a current Chrome or Edge (113 or newer) on a machine with a GPU, served over https or from localhost. ' +
  'On Linux, Chrome needs chrome://flags/#enable-unsafe-webgpu (and Vulkan) enabled; Firefox and Safari need their WebGPU settings turned on.';

export async function detectWebGpu(): Promise<WebGpuStatus> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    const insecure = typeof isSecureContext !== 'undefined' && !isSecureContext;
    return {
      available: false,
      reason: insecure
        ? 'This page is not a secure context (https or localhost), so the browser hides WebGPU.'
        : 'This browser has no WebGPU (navigator.gpu is missing).',
      advice: ADVICE,
    };
  }
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    return { available: false, reason: `Requesting a WebGPU adapter failed: ${(error as Error).message}`, advice: ADVICE };
  }
  if (!adapter) {
    return { available: false, reason: 'The browser has WebGPU but found no usable GPU adapter (blocklisted driver or GPU process crashed).', advice: ADVICE };
  }
  const info = adapter.info;
  const fallback = (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter ?? false;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return {
    available: true,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallback: fallback || text.includes('swiftshader') || text.includes('llvmpipe'),
    features: [...adapter.features].sort(),
    limits: {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
    },
  };
}

/** A one-line name for the adapter, e.g. "google swiftshader (SwiftShader Device)". */
export function adapterLabel(status: WebGpuStatus): string {
  if (!status.available) return 'no WebGPU';
  const parts = [status.vendor, status.architecture].filter(Boolean).join(' ');
  const detail = status.description || status.device;
  return detail ? `${parts || 'unknown adapter'} (${detail})` : parts || 'unknown adapter';
}
