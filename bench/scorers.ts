/**
 * What scoring a feature costs in prompt tokens, per scorer, against the LLM stand-in over real HTTP:
 * realistic records (bench/llm-concurrency.ts: windows of 32 GPT-2 tokens of English text from the
 * corpus fixture, activations on a few tokens each), each scored on 50 activating test examples (5 per
 * quantile of 10) and 50 non-activating ones, as delphi's paper does, against an explanation the
 * stand-in wrote from 50 train examples. Detection and fuzzing show 5 examples a prompt (20 calls a
 * feature); simulation asks one sequence a prompt (100 calls a feature).
 *
 *   prompt_tokens_per_feature_detection | _fuzzing | _simulation   prompt tokens per scored feature, from
 *       the responses' usage (the stand-in counts a token per four characters, about GPT-2's rate on English)
 *   delphi_prompt_tokens_per_feature_detection_fuzzing   delphi's published figure (EleutherAI, 2024): 725
 *   delphi_prompt_tokens_per_feature_simulation          delphi's published figure: about 24,000
 *
 *   npx tsx bench/scorers.ts    prints the figures as JSON
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startLlmServer } from '../scripts/servers/llm-server.ts';
import { createLlmClient, runExplanations, runScores, type FeatureRecord, type ScoreItem } from '../src/lib/index.ts';
import { gpt2, syntheticRecords } from './llm-concurrency.ts';

export const DELPHI_PROMPT_TOKENS_PER_FEATURE_DETECTION_FUZZING = 725;
export const DELPHI_PROMPT_TOKENS_PER_FEATURE_SIMULATION = 24000;

export interface ScorersBenchOptions {
  features?: number;
  /** Activating test examples per feature (and as many train examples for the explanation). */
  testExamples?: number;
  nonActivating?: number;
  exampleTokens?: number;
  concurrency?: number;
}

/** Records with `test` activating examples and `train` as many others, both over every quantile, and `nonActivating` quiet windows. */
export function scoringRecords(features: number, test: number, nonActivating: number, exampleTokens: number): FeatureRecord[] {
  return syntheticRecords(features, 2 * test, exampleTokens, nonActivating).map((record) => ({
    ...record,
    train: record.train.filter((_, i) => i % 2 === 0),
    test: record.train.filter((_, i) => i % 2 === 1),
  }));
}

export async function benchScorers(options: ScorersBenchOptions = {}): Promise<Record<string, number>> {
  const { features = 8, testExamples = 50, nonActivating = 50, exampleTokens = 32, concurrency = 8 } = options;
  const records = scoringRecords(features, testExamples, nonActivating, exampleTokens);
  const server = await startLlmServer();
  try {
    const client = createLlmClient({ baseUrl: server.openRouterBase, apiKey: 'sk-bench' });
    const explanations = new Map<number, string>();
    const explained = await runExplanations(records, {
      client,
      model: 'stand-in/explainer',
      tokenizer: gpt2,
      concurrency,
      onResult: (result) => {
        if (result.explanation !== undefined) explanations.set(result.feature, result.explanation);
      },
    });
    if (explained.succeeded !== features) throw new Error(`The bench could not explain every feature: ${explained.succeeded} of ${features}.`);
    const items: ScoreItem[] = records.map((record) => ({ record, explanation: explanations.get(record.feature)! }));
    const figures: Record<string, number> = {};
    for (const scorer of ['detection', 'fuzzing', 'simulation']) {
      const summary = await runScores(items, { client, model: 'stand-in/explainer', tokenizer: gpt2, scorer, concurrency });
      if (summary.stopped || summary.succeeded !== features) throw new Error(`The bench run did not score every feature with ${scorer}: ${summary.succeeded} of ${features}${summary.stopped ? ` (${summary.stopped.message})` : ''}.`);
      figures[`prompt_tokens_per_feature_${scorer}`] = Math.round(summary.usage.promptTokens / summary.succeeded);
    }
    return {
      ...figures,
      delphi_prompt_tokens_per_feature_detection_fuzzing: DELPHI_PROMPT_TOKENS_PER_FEATURE_DETECTION_FUZZING,
      delphi_prompt_tokens_per_feature_simulation: DELPHI_PROMPT_TOKENS_PER_FEATURE_SIMULATION,
    };
  } finally {
    await server.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  console.log(JSON.stringify(await benchScorers(), null, 2));
}
