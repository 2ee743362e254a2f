/**
 * Simulation (OpenAI's neuron-explainer; delphi `scorers/simulator`): from the explanation alone, the
 * model predicts each token's activation from 0 to 10, one sequence per prompt; the score is the
 * Pearson correlation of predicted and true activations over all tokens of all scored sequences
 * (test examples and as many non-activating ones), and per quantile.
 *
 * Over a chat API (no prompt log-probabilities) the model re-prints the sequence: `lines` asks for
 * `token<TAB>value` lines and, with log-probabilities (top 11 or more), takes the expected value at
 * each value slot, else the integer written; `json` asks for `{"activations": [{"token", "activation"}]}`.
 * A wrong count of tokens, a token that is not the one shown or a value outside 0..10 leaves that
 * sequence without a prediction. The result says which mode gave its values.
 */
import { simulationMetrics } from '../metrics/index.ts';
import { badScoreSettings, DEFAULT_SCORE_SETTINGS, type ScoreCall, type ScoreFailure, type ScorerDefinition, type ScoreSettings, type SimulatedExample, type SimulationMode } from './contract.ts';
import { expectedValues, parseSimulationJson, parseSimulationLines } from './parse.ts';
import { showToken, SIMULATION_JSON_SYSTEM, SIMULATION_LINES_SYSTEM, SIMULATION_SHOT, simulationMessages } from './prompts/index.ts';
import { scoreSamples } from './samples.ts';

/** Alternatives needed at a value slot to see every value from 0 to 10. */
export const SIMULATION_TOP_LOGPROBS = 11;

export const SIMULATION_DEFAULTS: Readonly<ScoreSettings> = Object.freeze({ ...DEFAULT_SCORE_SETTINGS, topLogprobs: SIMULATION_TOP_LOGPROBS });

export const simulationScorer: ScorerDefinition = {
  id: 'simulation',
  label: 'Simulation',
  colour: '#1f8a4c',
  note: 'many more tokens',
  description: 'The model predicts, from the explanation alone, how active the feature is on every token; scored by the correlation with the true activations. Far more tokens than detection or fuzzing.',
  kind: 'simulation',
  defaults: SIMULATION_DEFAULTS,
  check(settings) {
    if (settings.logprobs && settings.simulationFormat === 'lines' && settings.topLogprobs < SIMULATION_TOP_LOGPROBS) {
      throw badScoreSettings(`simulation with log-probabilities needs at least ${SIMULATION_TOP_LOGPROBS} alternatives per position, to see every value from 0 to 10 (got ${settings.topLogprobs})`);
    }
  },
  prepare({ record, explanation, tokenizer, settings }) {
    const json = settings.simulationFormat === 'json';
    const useLogprobs = settings.logprobs && !json;
    const samples = scoreSamples(record, settings).map((sample) => {
      const texts = sample.example.tokens.map((token) => tokenizer.decode([token]));
      return { ...sample, texts, shown: texts.map(showToken) };
    });
    const calls: ScoreCall[] = samples.map((sample, i) => ({
      samples: [i],
      messages: simulationMessages(json ? SIMULATION_JSON_SYSTEM : SIMULATION_LINES_SYSTEM, SIMULATION_SHOT, explanation, sample.shown, json),
      maxTokens: json ? 32 + 24 * sample.shown.length : 32 + 8 * sample.shown.length,
      answerTokens: json ? 12 * sample.shown.length : 4 * sample.shown.length,
      ...(useLogprobs && { topLogprobs: settings.topLogprobs }),
      ...(json && { json: true as const }),
    }));
    const predicted: (number[] | null)[] = samples.map(() => null);
    const slots = { expected: 0, integers: 0 };
    return {
      calls,
      read(index, answer): ScoreFailure | undefined {
        const shown = samples[calls[index]!.samples[0]!]!.shown;
        const parsed = json ? parseSimulationJson(answer.text, shown, answer.json) : parseSimulationLines(answer.text, shown);
        if (!parsed.ok) return { ...parsed.failure, call: index };
        let values = parsed.values;
        if (useLogprobs && answer.logprobs && parsed.offsets) {
          const expected = expectedValues(answer.logprobs, answer.text, parsed.values, parsed.offsets);
          values = values.map((value, i) => expected[i] ?? value);
          const found = expected.filter((v) => v !== null).length;
          slots.expected += found;
          slots.integers += values.length - found;
        } else {
          slots.integers += values.length;
        }
        predicted[calls[index]!.samples[0]!] = values;
        return undefined;
      },
      finish() {
        const examples = samples.map(
          (sample, i): SimulatedExample => ({ str_tokens: sample.texts, activations: sample.example.activations, distance: sample.distance, activating: sample.activating, predicted: predicted[i]! }),
        );
        const mode: SimulationMode = json
          ? 'json'
          : slots.expected > 0 && slots.integers > 0
            ? 'mixed'
            : slots.expected > 0 || (useLogprobs && slots.integers === 0)
              ? 'expected-value'
              : 'integers';
        return { kind: 'simulation', mode, examples, metrics: simulationMetrics(examples) };
      },
    };
  },
};
