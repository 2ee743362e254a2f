/**
 * The classifier core shared by detection and fuzzing (delphi `scorers/classifier`): the feature's
 * samples shuffled with a seed from (seed, feature), shown `examplesShown` to a prompt, numbered; the
 * model answers with one 0 or 1 per excerpt. With log-probabilities, the probability of "1" at each
 * verdict gives the AUC. A call that fails or an answer that is not a list of exactly that many 0s and
 * 1s leaves its samples without a prediction.
 */
import { classificationMetrics } from '../metrics/index.ts';
import { DEFAULT_SCORE_SETTINGS, type ClassifiedExample, type ScoreCall, type ScoreFailure, type ScoreInput, type ScorerDefinition } from './contract.ts';
import { highlight } from '../latents/index.ts';
import { activeMarks, falseMarkCount, randomMarks } from './marks.ts';
import { parseVerdicts, verdictProbabilities } from './parse.ts';
import { classifierMessages, type ClassifierShot } from './prompts/index.ts';
import { SCORE_STREAMS, scoreSamples, shuffled, streamPrng, type Sample } from './samples.ts';

export interface ClassifierSample extends Sample {
  /** The tokens as text, each decoded on its own. */
  texts: string[];
  /** Fuzzing: the tokens the prompt marks. */
  marked?: boolean[];
}

/**
 * The samples with their marks (when `marked`), in prompt order: marks are drawn in the record's
 * order on their own stream, then the samples shuffled on another.
 */
export function classifierSamples(input: Omit<ScoreInput, 'explanation'>, marked: boolean): ClassifierSample[] {
  const { record, tokenizer, settings, seed } = input;
  const samples: ClassifierSample[] = scoreSamples(record, settings).map((sample) => ({ ...sample, texts: sample.example.tokens.map((token) => tokenizer.decode([token])) }));
  if (marked) {
    const activating = samples.filter((s) => s.activating);
    for (const sample of activating) sample.marked = activeMarks(sample.example.activations, settings.threshold);
    const count = falseMarkCount(activating.map((s) => s.marked!));
    const prng = streamPrng(seed, record.feature, SCORE_STREAMS.marks);
    for (const sample of samples) if (!sample.activating) sample.marked = randomMarks(sample.texts.length, count, prng);
  }
  return shuffled(samples, streamPrng(seed, record.feature, SCORE_STREAMS.order));
}

export interface ClassifierSpec extends Pick<ScorerDefinition, 'id' | 'label' | 'aliases' | 'colour' | 'byDefault' | 'note' | 'description'> {
  /** Whether excerpts carry marks (fuzzing) or are plain text (detection). */
  marked: boolean;
  system: string;
  shot: ClassifierShot;
}

/** Answer tokens of a list of n verdicts, about: "[", then "0, " per verdict, "]". */
const listTokens = (n: number) => 2 + 2 * n;

export function classifierScorer(spec: ClassifierSpec): ScorerDefinition {
  const { marked, system, shot, ...definition } = spec;
  return {
    ...definition,
    kind: 'classifier',
    defaults: DEFAULT_SCORE_SETTINGS,
    prepare(input) {
      const { explanation, settings } = input;
      const samples = classifierSamples(input, marked);
      const calls: ScoreCall[] = [];
      for (let start = 0; start < samples.length; start += settings.examplesShown) {
        const indexes = samples.slice(start, start + settings.examplesShown).map((_, i) => start + i);
        const excerpts = indexes.map((i) => (marked ? highlight(samples[i]!.texts, samples[i]!.marked!) : samples[i]!.texts.join('')));
        calls.push({
          samples: indexes,
          messages: classifierMessages(system, shot, explanation, excerpts),
          maxTokens: Math.max(32, 16 + 4 * indexes.length),
          answerTokens: listTokens(indexes.length),
          ...(settings.logprobs && { topLogprobs: settings.topLogprobs }),
        });
      }
      const predictions: (number | null)[] = samples.map(() => null);
      const probabilities: (number | null)[] = samples.map(() => null);
      return {
        calls,
        read(index, answer): ScoreFailure | undefined {
          const call = calls[index]!;
          const parsed = parseVerdicts(answer.text, call.samples.length);
          if (!parsed.ok) return { ...parsed.failure, call: index };
          call.samples.forEach((sample, i) => (predictions[sample] = parsed.verdicts[i]!));
          if (!settings.logprobs || !answer.logprobs) return undefined;
          const found = verdictProbabilities(answer.logprobs, answer.text, parsed.verdicts, parsed.offsets);
          if (found.some((p) => p === null)) {
            return { kind: 'parse', code: 'score/no-probabilities', message: 'The log-probabilities of this answer do not show the alternatives of every verdict; its verdicts are kept, without probabilities.', call: index };
          }
          call.samples.forEach((sample, i) => (probabilities[sample] = found[i]!));
          return undefined;
        },
        finish() {
          const examples = samples.map((sample, i): ClassifiedExample => {
            const prediction = predictions[i]!;
            const example: ClassifiedExample = {
              str_tokens: sample.texts,
              activations: sample.example.activations,
              distance: sample.distance,
              activating: sample.activating,
              prediction,
              probability: probabilities[i]!,
              correct: prediction === null ? null : prediction >= 0.5 === sample.activating,
            };
            if (sample.marked) example.marked = sample.marked;
            return example;
          });
          return { kind: 'classifier', mode: probabilities.some((p) => p !== null) ? 'logprobs' : 'text', examples, metrics: classificationMetrics(examples) };
        },
      };
    },
  };
}
