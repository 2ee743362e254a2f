import { describe, expect, test } from 'vitest';
import { errorCode } from '../../../../src/lib/errors.ts';
import { csvField, neuronpediaJson, scoresCsv, toNeuronpedia, type NeuronpediaOptions, type ScoresCsvRow } from '../../../../src/lib/latents/index.ts';
import { readCsv } from '../../../support/csv.ts';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return 'ok';
  } catch (error) {
    return errorCode(error) ?? String(error);
  }
}

describe('Neuronpedia', () => {
  const options: NeuronpediaOptions = {
    modelId: 'gpt2-small',
    source: '6-res-jb',
    density: 0.00125,
    explainerModel: 'meta-llama/llama-3.1-70b-instruct',
    method: 'delphi-default',
    topExamples: [
      { tokens: ['The', ' cat', ' sat'], values: [0, 4.5, 1.25] },
      { tokens: [' 🐈'], values: [3] },
    ],
  };

  test('the upload shape', () => {
    const feature = toNeuronpedia({ hook: 'blocks.6.hook_resid_pre', feature: 42, explanation: 'cats, "felines"' }, options);
    expect(feature).toStrictEqual({
      modelId: 'gpt2-small',
      source: '6-res-jb',
      index: '42',
      density: 0.00125,
      explanations: [{ text: 'cats, "felines"', method: 'delphi-default', explainer_model: 'meta-llama/llama-3.1-70b-instruct' }],
      activations: [
        { tokens: ['The', ' cat', ' sat'], values: [0, 4.5, 1.25] },
        { tokens: [' 🐈'], values: [3] },
      ],
    });
    expect(Object.keys(feature)).toEqual(['modelId', 'source', 'index', 'density', 'explanations', 'activations']);
    // The examples are copied, not shared.
    expect(feature.activations[0]!.tokens).not.toBe(options.topExamples[0]!.tokens);
  });

  test('no explanation, no examples', () => {
    expect(toNeuronpedia({ hook: 'layers.6', feature: 0 }, { ...options, topExamples: [], density: 0 })).toMatchObject({ index: '0', density: 0, explanations: [], activations: [] });
  });

  test('many features as one JSON array', () => {
    const features = [0, 1].map((feature) => toNeuronpedia({ hook: 'layers.6', feature, explanation: `f${feature}` }, options));
    const json = neuronpediaJson(features);
    expect(JSON.parse(json)).toEqual(features);
    expect(json.startsWith('[{"modelId":"gpt2-small","source":"6-res-jb","index":"0"')).toBe(true);
  });

  test.each<[string, Partial<NeuronpediaOptions>, number?]>([
    ['a density above 1', { density: 1.5 }],
    ['a NaN density', { density: Number.NaN }],
    ['tokens and values of different lengths', { topExamples: [{ tokens: ['a', 'b'], values: [1] }] }],
    ['an infinite value', { topExamples: [{ tokens: ['a'], values: [Infinity] }] }],
    ['no model id', { modelId: '' }],
    ['a negative feature', {}, -1],
  ])('%s is refused', (_, over, feature = 3) => {
    expect(codeOf(() => toNeuronpedia({ hook: 'layers.6', feature }, { ...options, ...over }))).toBe('results/bad-input');
  });
});

describe('scores CSV', () => {
  const rows: ScoresCsvRow[] = [
    { hook: 'layers.6', feature: 0, explanation: 'plain', metrics: { detection: { accuracy: 0.75, auc: null }, fuzz: { accuracy: 0.5 } } },
    { hook: 'layers.6', feature: 1, explanation: 'says "hi", then\nleaves\r\nagain', metrics: { fuzz: { accuracy: 1, f1: 0.125 } } },
    { hook: 'blocks.6.hook_resid_pre', feature: 2, metrics: {} },
    { hook: 'layers.6', feature: 3, explanation: ' spaces, kept ', metrics: { detection: { accuracy: Number.NaN, auc: 1e-7 }, simulation: { ev_correlation_score: -Infinity } } },
  ];

  test('header, union of columns in first-seen order, nulls empty', () => {
    const csv = scoresCsv(rows);
    const lines = csv.split('\r\n');
    expect(lines[0]).toBe('hook,feature,explanation,detection_accuracy,detection_auc,fuzz_accuracy,fuzz_f1,simulation_ev_correlation_score');
    expect(lines[1]).toBe('layers.6,0,plain,0.75,,0.5,,');
    expect(csv).toContain('layers.6,1,"says ""hi"", then\nleaves\r\nagain",,,1,0.125,\r\n');
    expect(csv).toContain('\r\nblocks.6.hook_resid_pre,2,,,,,,\r\n');
    expect(csv.endsWith('layers.6,3," spaces, kept ",NaN,1e-7,,,-inf\r\n')).toBe(true);
  });

  test('reads back field for field', () => {
    const parsed = readCsv(scoresCsv(rows));
    expect(parsed).toHaveLength(5);
    expect(parsed.every((row) => row.length === 8)).toBe(true);
    expect(parsed.map((row) => row[2])).toEqual(['explanation', 'plain', 'says "hi", then\nleaves\r\nagain', '', ' spaces, kept ']);
    expect(parsed[4]).toEqual(['layers.6', '3', ' spaces, kept ', 'NaN', '1e-7', '', '', '-inf']);
  });

  test('no rows: just the fixed header', () => {
    expect(scoresCsv([])).toBe('hook,feature,explanation\r\n');
  });

  test('fields are quoted exactly when needed', () => {
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "x"')).toBe('"say ""x"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField('')).toBe('');
  });

  test('a scorer named with commas or quotes is quoted in the header', () => {
    expect(scoresCsv([{ hook: 'h', feature: 0, metrics: { 'my,scorer': { 'a"b': 1 } } }]).split('\r\n')[0]).toBe('hook,feature,explanation,"my,scorer_a""b"');
  });

  test('two pairs that make one column name are refused', () => {
    expect(codeOf(() => scoresCsv([{ hook: 'h', feature: 0, metrics: { a_b: { c: 1 }, a: { b_c: 2 } } }]))).toBe('results/bad-input');
  });
});
