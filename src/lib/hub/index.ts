/** The Hugging Face hub (or a stand-in laid out like it): URLs for models and datasets, and cached downloads. */
export { cachedHubFiles, clearHubFiles, downloadHubFile, hubHttpError, HUB_FILE_CACHE, openFileCache, type DownloadOptions } from './download.ts';
export { chooseModelFile, externalDataOf, FP16_FIDELITY, listModelFiles, MODEL_GRAPHS, type ListOptions, type ModelDtype, type ModelFileChoice, type RepoFile, type RepoListing } from './model-files.ts';
export { hubBase, hubFileUrl, hubModelInfoUrl, hubParquetApiUrl, HUGGING_FACE_HUB, isRepoId, type HubFileRef, type RepoKind } from './urls.ts';
