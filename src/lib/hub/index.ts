/** The Hugging Face hub (or a stand-in laid out like it): URLs for models and datasets, and cached downloads. */
export { cachedHubFiles, clearHubFiles, downloadHubFile, hubHttpError, HUB_FILE_CACHE, type DownloadOptions } from './download.ts';
export { hubBase, hubFileUrl, hubModelInfoUrl, hubParquetApiUrl, HUGGING_FACE_HUB, isRepoId, type HubFileRef, type RepoKind } from './urls.ts';
