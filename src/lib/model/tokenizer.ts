/**
 * The model's tokenizer, from the same hub repo (tokenizer.json + tokenizer_config.json), run by
 * Hugging Face's pure-JS tokenizers library: the same ids as transformers(.js), in a worker or in Node.
 */
import { Tokenizer } from '@huggingface/tokenizers';
import { AppError } from '../errors.ts';
import { downloadHubFile, type DownloadOptions } from '../hub/index.ts';
import type { RepoRef, TextTokenizer } from '../types.ts';

function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof value === 'object' && value !== null) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new AppError('model/bad-config', `${what} is not a JSON object.`);
}

/** A tokenizer from the two files' contents. */
export function tokenizerFromJson(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>): TextTokenizer {
  const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
  return {
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tokenizer.decode([...ids], { skip_special_tokens: false }),
  };
}

/** Downloads (or reads from the browser's cache) the repo's tokenizer files. */
export async function loadTokenizer(model: RepoRef, options: Pick<DownloadOptions, 'signal' | 'fetch' | 'cache'> = {}): Promise<TextTokenizer> {
  const file = (path: string) => downloadHubFile({ ...model, path }, options);
  const [json, config] = await Promise.all([file('tokenizer.json'), file('tokenizer_config.json')]);
  return tokenizerFromJson(parseJson(json, `tokenizer.json of "${model.repo}"`), parseJson(config, `tokenizer_config.json of "${model.repo}"`));
}
