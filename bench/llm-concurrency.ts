/**
 * How well the explain stage keeps an LLM endpoint busy: 80 features explained with runExplanations
 * (8 calls at once) against the LLM stand-in answering each request after 200 ms, over real HTTP.
 * Records are realistic in size: 40 train examples of 32 GPT-2 tokens each (windows of English text
 * from the corpus fixture, tokenized with GPT-2's own vocabulary), activations on a few tokens per window,
 * strongest quantile first, as `npm run records` writes them.
 *
 *   llm_concurrency_utilization   calls in flight on average / the concurrency (the pool's busy time over
 *                                 concurrency x wall time; 1 = every slot busy all the time; goal >= 0.95)
 *   prompt_tokens_per_feature     prompt tokens per explained feature, from the responses' usage (the
 *                                 stand-in counts a token per four characters, about GPT-2's rate on English)
 *   delphi_prompt_tokens_per_feature  delphi's published figure for its explainer (EleutherAI, 2024): about 400
 *
 *   npx tsx bench/llm-concurrency.ts    prints the figures as JSON
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decode, encode } from 'gpt-3-encoder';
import { startLlmServer } from '../scripts/servers/llm-server.ts';
import { createLlmClient, Prng, runExplanations, type Example, type FeatureRecord, type TextTokenizer } from '../src/lib/index.ts';

const ROOT = resolve(import.meta.dirname, '..');
export const DELPHI_PROMPT_TOKENS_PER_FEATURE = 400;

export interface LlmConcurrencyOptions {
  features?: number;
  concurrency?: number;
  latencyMs?: number;
  trainExamples?: number;
  exampleTokens?: number;
}

export interface LlmConcurrencyResult {
  llm_concurrency_utilization: number;
  prompt_tokens_per_feature: number;
  delphi_prompt_tokens_per_feature: number;
}

/**
 * GPT-2's tokenizer (the full vocabulary shipped by gpt-3-encoder). Prompts decode every token on its
 * own, so each id's text is kept once decoded (gpt-3-encoder's decode is slow, and its CPU time would
 * be measured as the pool's instead of the endpoint's).
 */
const texts = new Map<number, string>();
export const gpt2: TextTokenizer = {
  encode: (text) => encode(text),
  decode(ids) {
    if (ids.length !== 1) return decode([...ids]);
    let text = texts.get(ids[0]!);
    if (text === undefined) texts.set(ids[0]!, (text = decode([ids[0]!])));
    return text;
  },
};

/** Synthetic records over real text: each feature fires on 1 to 3 tokens of each of its windows. */
export function syntheticRecords(features: number, trainExamples: number, exampleTokens: number, nonActivating = 10): FeatureRecord[] {
  const corpus = gpt2.encode(readFileSync(resolve(ROOT, 'test/fixtures/corpus/paragraphs.txt'), 'utf8'));
  const prng = new Prng(2024);
  const window = (): number[] => {
    const start = prng.int(corpus.length - exampleTokens);
    return corpus.slice(start, start + exampleTokens);
  };
  return Array.from({ length: features }, (_, feature): FeatureRecord => {
    const max = 5 + 10 * prng.uniform();
    const train: Example[] = Array.from({ length: trainExamples }, (_, i) => {
      const quantile = Math.floor((i * 10) / trainExamples);
      const tokens = window();
      const activations = tokens.map(() => 0);
      const peak = max * (1 - quantile / 10);
      for (let k = 0, n = 1 + prng.int(3); k < n; k++) activations[prng.int(tokens.length)] = peak * (0.5 + 0.5 * prng.uniform());
      return { row: feature * trainExamples + i, start: 0, tokens, activations, normalized: activations.map((a) => Math.round((10 * a) / max)), quantile };
    });
    const non_activating: Example[] = Array.from({ length: nonActivating }, (_, i) => {
      const tokens = window();
      return { row: 1e6 + i, start: 0, tokens, activations: tokens.map(() => 0), normalized: tokens.map(() => 0), quantile: -1 };
    });
    return { feature, hook: 'blocks.6.hook_resid_pre', n_activations: trainExamples * 2, n_windows: trainExamples, max_activation: max, train, test: [], non_activating };
  });
}

export async function benchLlmConcurrency(options: LlmConcurrencyOptions = {}): Promise<LlmConcurrencyResult> {
  const { features = 80, concurrency = 8, latencyMs = 200, trainExamples = 40, exampleTokens = 32 } = options;
  const records = syntheticRecords(features, trainExamples, exampleTokens);
  const server = await startLlmServer({ latencyMs });
  try {
    const client = createLlmClient({ baseUrl: server.openRouterBase, apiKey: 'sk-bench' });
    const summary = await runExplanations(records, { client, model: 'stand-in/explainer', tokenizer: gpt2, concurrency });
    if (summary.stopped || summary.succeeded !== features) throw new Error(`The bench run did not explain every feature: ${summary.succeeded} of ${features}${summary.stopped ? ` (${summary.stopped.message})` : ''}.`);
    return {
      llm_concurrency_utilization: Number(summary.pool.utilization.toFixed(3)),
      prompt_tokens_per_feature: Math.round(summary.usage.promptTokens / summary.succeeded),
      delphi_prompt_tokens_per_feature: DELPHI_PROMPT_TOKENS_PER_FEATURE,
    };
  } finally {
    await server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  console.log(JSON.stringify(await benchLlmConcurrency(), null, 2));
}
