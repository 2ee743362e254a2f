/**
 * Sorting dropped files: which are SAE weights, which are configs, which belong together.
 * Pure functions over paths, plus the two readers (safetensors header, JSON config) with errors that
 * name the file.
 */
import { AppError, errorCode, errorMessage } from '../errors.ts';
import { MAX_HEADER_BYTES, SafetensorsReader } from '../formats/index.ts';
import { basename, dirname, normalizePath } from '../util/index.ts';
import type { SaeInputFile } from './types.ts';

export type FileRole = 'weights' | 'config' | 'sidecar' | 'pickle' | 'other';

/** How a file's name decides its role; first match wins. */
const FILE_ROLES: readonly { role: FileRole; test: (name: string) => boolean; why: string }[] = [
  // SAELens writes log10 feature densities next to the weights; they are not an SAE.
  { role: 'sidecar', test: (n) => /(^|[_-])(log_)?(feature_)?sparsity\.safetensors$/i.test(n), why: 'feature densities, not weights' },
  { role: 'weights', test: (n) => /\.safetensors$/i.test(n), why: 'safetensors' },
  { role: 'config', test: (n) => /\.json$/i.test(n), why: 'JSON config' },
  { role: 'pickle', test: (n) => /\.(pt|pth|bin|ckpt|npz|npy|pkl)$/i.test(n), why: 'PyTorch/NumPy pickle' },
  { role: 'other', test: () => true, why: 'not used' },
];

export function fileRole(path: string): FileRole {
  const name = basename(path);
  return FILE_ROLES.find((r) => r.test(name))!.role;
}

/** Config file names in the order we prefer them when a folder has several JSON files. */
const CONFIG_NAMES = ['cfg.json', 'config.json'];

/** One weights file and the configs that describe it. */
export interface FileGroup {
  weights: SaeInputFile;
  /** The config beside the weights, if any. */
  config?: SaeInputFile;
  /** Configs in the folders above (sparsify keeps its run config one level up). */
  ancestorConfigs: SaeInputFile[];
}

function configIn(dir: string, configs: readonly SaeInputFile[]): SaeInputFile | undefined {
  const here = configs.filter((c) => dirname(c.path) === dir);
  for (const name of CONFIG_NAMES) {
    const found = here.find((c) => basename(c.path).toLowerCase() === name);
    if (found) return found;
  }
  return here.length === 1 ? here[0] : undefined;
}

/**
 * Pairs each weights file with the config in its folder (or, when exactly one weights file and one
 * config were dropped, with that config wherever it is). Paths are normalized.
 */
export function groupSaeFiles(input: readonly SaeInputFile[]): { groups: FileGroup[]; pickles: SaeInputFile[] } {
  const files = input.map((f) => ({ path: normalizePath(f.path), blob: f.blob }));
  const byRole = (role: FileRole) => files.filter((f) => fileRole(f.path) === role);
  const weights = byRole('weights').sort((a, b) => a.path.localeCompare(b.path));
  const configs = byRole('config');
  const groups = weights.map((w): FileGroup => {
    const dir = dirname(w.path);
    let config = configIn(dir, configs);
    if (!config && weights.length === 1 && configs.length === 1) config = configs[0];
    const ancestorConfigs: SaeInputFile[] = [];
    for (let up = dir; up !== ''; ) {
      up = dirname(up);
      const found = configIn(up, configs);
      if (found && found !== config) ancestorConfigs.push(found);
    }
    return { weights: w, ...(config ? { config } : {}), ancestorConfigs };
  });
  return { groups, pickles: byRole('pickle') };
}

/** The error for a drop with no safetensors in it; says how to convert the files we saw. */
export function noWeightsError(input: readonly SaeInputFile[], pickles: readonly SaeInputFile[]): AppError {
  const seen = input.length === 0 ? 'nothing' : input.map((f) => normalizePath(f.path)).slice(0, 8).join(', ') + (input.length > 8 ? ', …' : '');
  const convert =
    pickles.length > 0
      ? ` ${pickles.map((p) => basename(p.path)).join(', ')} ${pickles.length === 1 ? 'is a pickle' : 'are pickles'}, which a browser cannot read safely. Convert to safetensors first, e.g. ` +
        `python -c "import torch; from safetensors.torch import save_file; sd = torch.load('sae.pt', map_location='cpu'); save_file({k: v.contiguous() for k, v in sd.items() if torch.is_tensor(v)}, 'sae.safetensors')"` +
        ` (for .npz: numpy.load and safetensors.numpy.save_file).`
      : '';
  return new AppError(
    'sae/no-weights',
    `No .safetensors file among the dropped files (${seen}). Drop the SAE's weights (sae_weights.safetensors, sae.safetensors or params.safetensors), with its cfg.json or config.json, or the folder holding them.${convert}`,
  );
}


/**
 * The size a safetensors file should have according to its header, or undefined when the header is
 * unreadable. Only used to tell a truncated download from a corrupt file after the reader refused it.
 */
async function sizeClaimedByHeader(blob: Blob): Promise<number | undefined> {
  if (blob.size < 8) return undefined;
  const length = new DataView(await blob.slice(0, 8).arrayBuffer()).getBigUint64(0, true);
  if (length === 0n || length > BigInt(MAX_HEADER_BYTES)) return undefined;
  const headerEnd = 8 + Number(length);
  if (headerEnd > blob.size) return headerEnd;
  try {
    const header = JSON.parse(await blob.slice(8, headerEnd).text()) as Record<string, { data_offsets?: unknown }>;
    let dataEnd = 0;
    for (const [name, entry] of Object.entries(header)) {
      if (name === '__metadata__' || !Array.isArray(entry?.data_offsets)) continue;
      const end = Number(entry.data_offsets[1]);
      if (Number.isSafeInteger(end)) dataEnd = Math.max(dataEnd, end);
    }
    return headerEnd + dataEnd;
  } catch {
    return undefined;
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0)} MB (${bytes} bytes)`;

/**
 * Reads a safetensors header (two small slices of the Blob, never the weights). Errors carry the file's
 * path; a file shorter than its header says becomes `safetensors/truncated`.
 */
export async function openSafetensors(file: SaeInputFile): Promise<SafetensorsReader> {
  try {
    return await SafetensorsReader.fromBlob(file.blob);
  } catch (error) {
    const code = errorCode(error);
    if (!code) throw error;
    if (code === 'safetensors/header-length' || code === 'safetensors/bad-offsets') {
      const claimed = await sizeClaimedByHeader(file.blob);
      if (claimed !== undefined && claimed > file.blob.size) {
        throw new AppError(
          'safetensors/truncated',
          `${file.path} is truncated: it has ${mb(file.blob.size)} but its header describes ${mb(claimed)}. The download or copy was cut short; download the file again.`,
        );
      }
    }
    throw new AppError(code, `${file.path}: ${errorMessage(error)}`);
  }
}

/** Configs are small; anything bigger is not a config. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Reads and parses a JSON config; `sae/bad-config` when it is not a JSON object. */
export async function readJsonConfig(file: SaeInputFile): Promise<Record<string, unknown>> {
  if (file.blob.size > MAX_CONFIG_BYTES) {
    throw new AppError('sae/bad-config', `${file.path} has ${file.blob.size} bytes, too big for an SAE config. Drop the SAE's cfg.json or config.json.`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await file.blob.text());
  } catch (error) {
    throw new AppError('sae/bad-config', `${file.path} is not valid JSON (${errorMessage(error)}). Fix or replace the file, or drop the weights without it and set the options by hand.`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new AppError('sae/bad-config', `${file.path} is not a JSON object, so it is not an SAE config.`);
  }
  return json as Record<string, unknown>;
}
