/**
 * The latents stage (delphi's name): caching SAE activations over a corpus, resumably, and moving
 * caches to and from delphi's layout; feature records (records/); and moving explanations and scores
 * to and from delphi's layout, Neuronpedia's upload shape and CSV (results/).
 */
export * from './cache-interchange.ts';
export * from './cache-runner.ts';
export * from './delphi/index.ts';
export * from './records/index.ts';
export * from './results/index.ts';
export * from './cache-settings.ts';
export * from './synthetic.ts';
