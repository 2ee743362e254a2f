/** A GPT-2 repo's config.json, read into the few numbers the engine needs. */
import { AppError } from '../errors.ts';

/** The widths of a model's hook points, for checking an SAE against it. */
export interface ModelDims {
  dModel: number;
  dMlp: number;
  nHeads: number;
  dHead: number;
  nLayers: number;
}

export interface Gpt2Config {
  modelType: 'gpt2';
  nLayer: number;
  dModel: number;
  nHead: number;
  dMlp: number;
  vocabSize: number;
  /** Positions the model was trained on (GPT-2: 1024); a longer row would reuse the last position. */
  nPositions: number;
  /** The id put in front of rows for SAEs trained with a BOS token (GPT-2: <|endoftext|>). */
  bosTokenId: number;
  /** The id that separates documents in packed rows. */
  eosTokenId: number;
}

const positiveInteger = (value: unknown): number | undefined => (typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined);

/** Parses config.json; throws `model/unsupported` for other architectures and `model/bad-config` for missing sizes. */
export function parseGpt2Config(json: unknown, repo: string): Gpt2Config {
  if (typeof json !== 'object' || json === null) throw new AppError('model/bad-config', `The config.json of "${repo}" is not a JSON object.`);
  const config = json as Record<string, unknown>;
  if (config.model_type !== 'gpt2') {
    throw new AppError('model/unsupported', `"${repo}" is a ${String(config.model_type)} model; the engine runs GPT-2 (model_type gpt2) exports.`);
  }
  const read = (key: string): number => {
    const value = positiveInteger(config[key]);
    if (value === undefined) throw new AppError('model/bad-config', `The config.json of "${repo}" has no valid ${key} (${JSON.stringify(config[key])}).`);
    return value;
  };
  const dModel = read('n_embd');
  const nHead = read('n_head');
  if (dModel % nHead !== 0) throw new AppError('model/bad-config', `The config.json of "${repo}" has n_embd ${dModel}, not a multiple of n_head ${nHead}.`);
  const vocabSize = read('vocab_size');
  const nPositions = positiveInteger(config.n_positions) ?? positiveInteger(config.n_ctx) ?? 1024;
  const tokenId = (key: string) => {
    const value = config[key];
    return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < vocabSize ? value : vocabSize - 1;
  };
  return {
    modelType: 'gpt2',
    nLayer: read('n_layer'),
    dModel,
    nHead,
    dMlp: positiveInteger(config.n_inner) ?? 4 * dModel,
    vocabSize,
    nPositions,
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId: tokenId('eos_token_id'),
  };
}

/**
 * Throws `model/too-long` for rows longer than the model's positions: past them every position would
 * reuse the last position embedding and give wrong activations. `what` names the rows in the message.
 */
export function checkRowLength(length: number, config: Pick<Gpt2Config, 'nPositions'>, what = 'Rows'): void {
  if (length > config.nPositions) {
    throw new AppError('model/too-long', `${what} of ${length.toLocaleString()} tokens are longer than the model reads at once (${config.nPositions.toLocaleString()} positions): use at most ${config.nPositions.toLocaleString()}.`);
  }
}

export const modelDims = (config: Gpt2Config): ModelDims => ({
  dModel: config.dModel,
  nHeads: config.nHead,
  dHead: config.dModel / config.nHead,
  dMlp: config.dMlp,
  nLayers: config.nLayer,
});
