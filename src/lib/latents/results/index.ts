/**
 * Explanations and scores ("results") moved between this app, delphi and Neuronpedia, as pure
 * functions over plain data (Blobs and byte arrays in and out; no DOM, runs in workers and in Node):
 *   - delphi's layout, `explanations/<hook>_latent<f>.txt` (a JSON string) and
 *     `scores/<scorer>/<hook>_latent<f>.txt` (a JSON array of per-example records), written as files
 *     or a zip and read from a dropped folder or a zip (write.ts, read.ts; names in layout.ts, the
 *     records in records.ts);
 *   - Neuronpedia's upload shape (neuronpedia.ts);
 *   - a CSV of per-feature metrics (csv.ts).
 * The types are this stage's own (types.ts): explainers and scorers rank above the latents stage and
 * convert to them.
 */
export type { DelphiScoreExample, FeatureResults, ResultsFile } from './types.ts';
export { MAX_EXPLANATION_CHARS, normalizeScoreExample, parseExplanationFile, parseScoreFile, parseSimulationScoreFile, simulationScoreRecords, type SimulationScoreRecord } from './records.ts';
export { parseResultFileName, resultFileName } from './layout.ts';
export { exportResultsZip, resultsToDelphiFiles, type ResultsFilesOptions, type ResultsZipOptions } from './write.ts';
export { MAX_RESULT_FILE_BYTES, readDelphiResults, readDelphiResultsZip, readResultsZip, resultScorers, type ReadResultsOptions } from './read.ts';
export { neuronpediaJson, toNeuronpedia, type NeuronpediaActivation, type NeuronpediaExplanation, type NeuronpediaFeature, type NeuronpediaOptions } from './neuronpedia.ts';
export { csvField, scoresCsv, type ScoresCsvRow } from './csv.ts';
