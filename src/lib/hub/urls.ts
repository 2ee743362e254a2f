/**
 * The Hugging Face hub's URLs, for models and datasets alike. A stand-in with the same URL shape (the
 * bundled demo hub, the test hub) works through the same functions.
 */
export const HUGGING_FACE_HUB = 'https://huggingface.co/';

/** The hub's base URL with one trailing slash. */
export const hubBase = (hubUrl: string | undefined): string => (hubUrl ?? HUGGING_FACE_HUB).replace(/\/*$/, '/');

/** Each path segment encoded, the slashes kept. */
const encodePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/');

export type RepoKind = 'model' | 'dataset';

export interface HubFileRef {
  /** `owner/name`. */
  repo: string;
  /** Path inside the repo, e.g. `onnx/model.onnx`. */
  path: string;
  /** Hub base URL; the real hub when undefined. */
  hubUrl?: string;
  /** Branch, tag or commit; `main` when undefined. Encoded as one segment, as the hub writes `refs%2Fconvert%2Fparquet`. */
  revision?: string;
  /** Default 'model'. */
  kind?: RepoKind;
}

/** `<hub>/<repo>/resolve/<revision>/<path>`, or `<hub>/datasets/<repo>/resolve/…` for a dataset. */
export function hubFileUrl(file: HubFileRef): string {
  const prefix = file.kind === 'dataset' ? 'datasets/' : '';
  return `${hubBase(file.hubUrl)}${prefix}${file.repo}/resolve/${encodeURIComponent(file.revision ?? 'main')}/${encodePath(file.path)}`;
}

/** `<hub>/api/datasets/<repo>/parquet/<config>/<split>`: the URLs of a split's parquet files. */
export const hubParquetApiUrl = (ref: { repo: string; hubUrl?: string; config?: string; split?: string }): string =>
  `${hubBase(ref.hubUrl)}api/datasets/${ref.repo}/parquet/${encodeURIComponent(ref.config ?? 'default')}/${encodeURIComponent(ref.split ?? 'train')}`;

/** `<hub>/api/models/<repo>/revision/<revision>`: a model repo's file list (`siblings`). */
export const hubModelInfoUrl = (ref: { repo: string; hubUrl?: string; revision?: string }): string =>
  `${hubBase(ref.hubUrl)}api/models/${ref.repo}/revision/${encodeURIComponent(ref.revision ?? 'main')}`;

/** A repo id as the hub accepts it: `owner/name`, no spaces, no further slashes. */
export const isRepoId = (repo: string): boolean => /^[^/\s]+\/[^/\s]+$/.test(repo);
