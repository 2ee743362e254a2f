import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, describe, expect, test } from 'vitest';
import { errorCode } from '../../../../src/lib/errors.ts';
import { crc32, readZip, ZipWriter } from '../../../../src/lib/formats/index.ts';
import {
  exportResultsZip,
  MAX_RESULT_FILE_BYTES,
  parseResultFileName,
  readDelphiResults,
  readDelphiResultsZip,
  resultFileName,
  resultsToDelphiFiles,
  type DelphiInputFile,
  type DelphiScoreExample,
  type FeatureResults,
} from '../../../../src/lib/latents/index.ts';
import { hasTool } from '../../../support/tools.ts';

const work = mkdtempSync(join(tmpdir(), 'results-test-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function codeOf(run: () => unknown): Promise<string | undefined> {
  try {
    await run();
    return 'ok';
  } catch (error) {
    return errorCode(error) ?? String(error);
  }
}

async function messageOf(run: () => unknown): Promise<string> {
  try {
    await run();
    return 'ok';
  } catch (error) {
    return (error as Error).message;
  }
}

const file = (path: string, text: string | Uint8Array): DelphiInputFile => ({ path, blob: new Blob([typeof text === 'string' ? text : (text.slice() as Uint8Array<ArrayBuffer>)]) });

const example = (over: Partial<DelphiScoreExample> = {}): DelphiScoreExample => ({
  str_tokens: ['The', ' cat', ' sat'],
  activations: [0, 2.5, 0.125],
  distance: 1,
  activating: true,
  prediction: 1,
  probability: 0.875,
  correct: true,
  ...over,
});

/** Results that exercise what the layout must carry: dotted hooks, a hook holding `_latent`, unicode, nulls, no explanation, no scores. */
const RESULTS: FeatureResults[] = [
  {
    hook: 'layers.6',
    feature: 0,
    explanation: 'The word "cat", in quotes,\nand on a new line; also émoji 🐈 and 中文',
    scores: {
      detection: [example(), example({ str_tokens: ['é', '🐈', '中', '\n', '"'], activations: [0, 0, 0, 0, 0], distance: -1, activating: false, prediction: 0, probability: null, correct: true })],
      fuzz: [example({ prediction: null, probability: null, correct: null }), example({ distance: 3, prediction: 0, correct: false, probability: 0.0625 })],
    },
  },
  { hook: 'layers.6', feature: 12345, explanation: '', scores: { detection: [] } },
  { hook: 'blocks.6.hook_resid_pre', feature: 7, scores: { fuzz: [example({ activations: [1e-8, 123456.75, 0] })] } },
  { hook: 'h.0_latent3', feature: 2, explanation: 'a hook whose name holds _latent', scores: {} },
];

describe('file names', () => {
  test.each([
    ['layers.6_latent12.txt', { hook: 'layers.6', feature: 12 }],
    ['blocks.6.hook_resid_pre_latent0.txt', { hook: 'blocks.6.hook_resid_pre', feature: 0 }],
    ['h.0_latent3_latent2.txt', { hook: 'h.0_latent3', feature: 2 }],
    ['model.layers.10.mlp_latent131071.txt', { hook: 'model.layers.10.mlp', feature: 131071 }],
  ])('%s', (name, expected) => {
    expect(parseResultFileName(name)).toEqual(expected);
    expect(resultFileName(expected.hook, expected.feature)).toBe(name);
  });

  test.each(['layers.6_latent.txt', '_latent3.txt', 'layers.6_latent3.json', 'layers.6_latent03.txt', 'layers.6_latent-1.txt', 'layers.6_latent3.txt.bak', 'latent3.txt', 'layers.6_latent99999999999999999999.txt'])(
    '%s is refused',
    (name) => expect(parseResultFileName(name)).toBeNull(),
  );
});

describe('writing delphi layout', () => {
  test('paths and bytes are what delphi writes', () => {
    const files = resultsToDelphiFiles(RESULTS);
    expect(files.map((f) => f.path)).toEqual([
      'explanations/h.0_latent3_latent2.txt',
      'explanations/layers.6_latent0.txt',
      'explanations/layers.6_latent12345.txt',
      'scores/detection/layers.6_latent0.txt',
      'scores/detection/layers.6_latent12345.txt',
      'scores/fuzz/blocks.6.hook_resid_pre_latent7.txt',
      'scores/fuzz/layers.6_latent0.txt',
    ]);
    const text = (path: string) => new TextDecoder().decode(files.find((f) => f.path === path)!.bytes);
    expect(text('explanations/layers.6_latent0.txt')).toBe(JSON.stringify(RESULTS[0]!.explanation));
    expect(text('explanations/layers.6_latent0.txt')).toBe('"The word \\"cat\\", in quotes,\\nand on a new line; also émoji 🐈 and 中文"');
    expect(text('scores/detection/layers.6_latent12345.txt')).toBe('[]');
    // delphi's key order (the dataclass's), compact like orjson.
    expect(text('scores/fuzz/blocks.6.hook_resid_pre_latent7.txt')).toBe(
      '[{"str_tokens":["The"," cat"," sat"],"activations":[1e-8,123456.75,0],"distance":1,"activating":true,"prediction":1,"probability":0.875,"correct":true}]',
    );
  });

  test('a prefix puts everything in a folder', () => {
    const files = resultsToDelphiFiles(RESULTS.slice(0, 1), { prefix: '/results//my-run/' });
    expect(files.map((f) => f.path)).toEqual(['results/my-run/explanations/layers.6_latent0.txt', 'results/my-run/scores/detection/layers.6_latent0.txt', 'results/my-run/scores/fuzz/layers.6_latent0.txt']);
  });

  test('extra keys are dropped and a boolean prediction becomes 0/1', () => {
    const odd = { ...example({ prediction: true as unknown as number }), highlighted: true } as DelphiScoreExample;
    const [, score] = resultsToDelphiFiles([{ hook: 'layers.6', feature: 1, explanation: 'x', scores: { fuzz: [odd] } }]);
    expect(JSON.parse(new TextDecoder().decode(score!.bytes))).toEqual([example({ prediction: 1 })]);
  });

  test.each<[string, FeatureResults[]]>([
    ['a hook with a slash', [{ hook: 'a/b', feature: 0, scores: {} }]],
    ['an empty hook', [{ hook: '', feature: 0, scores: {} }]],
    ['a hook of ..', [{ hook: '..', feature: 0, scores: {} }]],
    ['a negative feature', [{ hook: 'layers.6', feature: -1, scores: {} }]],
    ['a fractional feature', [{ hook: 'layers.6', feature: 1.5, scores: {} }]],
    ['a feature twice', [{ hook: 'layers.6', feature: 0, scores: {} }, { hook: 'layers.6', feature: 0, explanation: 'x', scores: {} }]],
    ['a scorer with a slash', [{ hook: 'layers.6', feature: 0, scores: { 'a/b': [] } }]],
    ['a NaN activation', [{ hook: 'layers.6', feature: 0, scores: { fuzz: [example({ activations: [Number.NaN] })] } }]],
    ['an infinite probability', [{ hook: 'layers.6', feature: 0, scores: { fuzz: [example({ probability: Infinity })] } }]],
    ['a record without activating', [{ hook: 'layers.6', feature: 0, scores: { fuzz: [{ ...example(), activating: undefined } as unknown as DelphiScoreExample] } }]],
  ])('%s is refused with results/bad-input', async (_, results) => {
    expect(await codeOf(() => resultsToDelphiFiles(results))).toBe('results/bad-input');
  });
});

describe('round trip', () => {
  test('write -> zip -> read gives the same results', async () => {
    const zip = await exportResultsZip(RESULTS, { date: new Date(2024, 0, 2) });
    const back = await readDelphiResultsZip(zip);
    const expected = [...RESULTS].sort((a, b) => (a.hook < b.hook ? -1 : a.hook > b.hook ? 1 : a.feature - b.feature));
    expect(back).toStrictEqual(expected);
    // A fixed date makes the archive byte-identical.
    const again = await exportResultsZip(RESULTS, { date: new Date(2024, 0, 2) });
    expect(new Uint8Array(await again.arrayBuffer())).toEqual(new Uint8Array(await zip.arrayBuffer()));
  });

  test('with a prefix folder, and as loose files', async () => {
    const zip = await exportResultsZip(RESULTS, { prefix: 'results/run-1' });
    expect((await readZip(zip)).every((entry) => entry.path.startsWith('results/run-1/'))).toBe(true);
    expect(await readDelphiResultsZip(zip)).toEqual(await readDelphiResults(resultsToDelphiFiles(RESULTS).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) }))));
  });

  test('only the scorers asked for', async () => {
    const back = await readDelphiResultsZip(await exportResultsZip(RESULTS), { scorers: ['detection'] });
    expect(back.map((r) => [r.hook, r.feature, Object.keys(r.scores)])).toEqual([
      ['h.0_latent3', 2, []],
      ['layers.6', 0, ['detection']],
      ['layers.6', 12345, ['detection']],
    ]);
  });

  test('cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await codeOf(() => exportResultsZip(RESULTS, { signal: controller.signal }))).toBe('cancelled');
    const zip = await exportResultsZip(RESULTS);
    expect(await codeOf(() => readDelphiResultsZip(zip, { signal: controller.signal }))).toBe('cancelled');
  });
});

describe('reading a folder delphi wrote', () => {
  // Written by hand as delphi does: orjson.dumps(explanation) and orjson.dumps(list of ClassifierOutput), compact,
  // non-ASCII unescaped; a run folder with latents/, run_config.json and a log beside them.
  const run = 'results/gpt2-run';
  const FOLDER: DelphiInputFile[] = [
    file(`${run}/run_config.json`, '{"model":"openai-community/gpt2","hookpoints":["transformer.h.6"]}'),
    file(`${run}/latents/transformer.h.6/config.json`, '{}'),
    file(`${run}/latents/transformer.h.6/0_767.safetensors`, new Uint8Array([1, 2, 3])),
    file(`${run}/log/hookpoint_firing_counts.pt`, new Uint8Array([0])),
    file(`${run}/explanations/transformer.h.6_latent5.txt`, '"Quoted \\"speech\\", then a line break\\nand a tab\\t; caf\u00e9 \u2014 \\u00e9"'),
    file(`${run}/explanations/transformer.h.6_latent17.txt`, '"numbers"'),
    file(`__MACOSX/${run}/explanations/._transformer.h.6_latent5.txt`, new Uint8Array([0, 5, 22, 7])),
    file(
      `${run}/scores/detection/transformer.h.6_latent5.txt`,
      '[{"str_tokens":[" He"," said"," \\"","hi"],"activations":[0.0,0.0,3.25,1.5],"distance":2,"activating":true,"prediction":1,"probability":0.9,"correct":true},' +
        '{"str_tokens":[" caf\u00e9"],"activations":[0.0],"distance":-1,"activating":false,"prediction":1,"probability":null,"correct":false}]',
    ),
    // An older delphi: boolean predictions, no probability, an extra key.
    file(
      `${run}/scores/fuzz/transformer.h.6_latent5.txt`,
      '[{"str_tokens":["a"],"activations":[1],"distance":1,"activating":true,"prediction":true,"highlighted":true,"correct":true},' +
        '{"str_tokens":["b"],"activations":[0],"distance":-1,"activating":false,"prediction":null,"correct":null}]',
    ),
    // sae-auto-interp, delphi's predecessor: ground_truth instead of activating.
    file(`${run}/scores/fuzz/transformer.h.6_latent17.txt`, '[{"str_tokens":["1"],"activations":[2],"distance":1,"ground_truth":true,"prediction":false,"highlighted":false,"probability":0.0,"correct":false}]'),
  ];

  test('explanations and scores, unescaped and normalised', async () => {
    const results = await readDelphiResults(FOLDER);
    expect(results).toStrictEqual([
      {
        hook: 'transformer.h.6',
        feature: 5,
        explanation: 'Quoted "speech", then a line break\nand a tab\t; café — é',
        scores: {
          detection: [
            { str_tokens: [' He', ' said', ' "', 'hi'], activations: [0, 0, 3.25, 1.5], distance: 2, activating: true, prediction: 1, probability: 0.9, correct: true },
            { str_tokens: [' café'], activations: [0], distance: -1, activating: false, prediction: 1, probability: null, correct: false },
          ],
          fuzz: [
            { str_tokens: ['a'], activations: [1], distance: 1, activating: true, prediction: 1, probability: null, correct: true },
            { str_tokens: ['b'], activations: [0], distance: -1, activating: false, prediction: null, probability: null, correct: null },
          ],
        },
      },
      {
        hook: 'transformer.h.6',
        feature: 17,
        explanation: 'numbers',
        scores: { fuzz: [{ str_tokens: ['1'], activations: [2], distance: 1, activating: true, prediction: 0, probability: 0, correct: false }] },
      },
    ]);
  });

  test('the same folder zipped by another tool (Windows paths, a top folder)', async () => {
    const zip = new ZipWriter();
    for (const f of FOLDER) await zip.add(f.path.replace(/\//g, '\\'), f.blob);
    expect(await readDelphiResultsZip(zip.finish())).toEqual(await readDelphiResults(FOLDER));
  });

  test('the explanations folder alone', async () => {
    const only = FOLDER.filter((f) => f.path.includes('/explanations/') && !f.path.startsWith('__MACOSX')).map((f) => ({ ...f, path: f.path.slice(run.length + 1) }));
    expect((await readDelphiResults(only)).map((r) => [r.feature, r.explanation, r.scores])).toEqual([
      [5, 'Quoted "speech", then a line break\nand a tab\t; café — é', {}],
      [17, 'numbers', {}],
    ]);
  });
});

/** A zip written by hand with deflated entries (what Finder or `zip` make), from node:zlib. */
function deflatedZip(files: { path: string; bytes: Uint8Array; badCrc?: boolean }[]): Blob {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const { path, bytes, badCrc } of files) {
    const name = new TextEncoder().encode(path);
    const data = deflateRawSync(bytes, { level: 9 });
    const crc = (crc32(bytes) ^ (badCrc ? 1 : 0)) >>> 0;
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true); local.setUint16(4, 20, true); local.setUint16(8, 8, true);
    local.setUint32(14, crc, true); local.setUint32(18, data.length, true); local.setUint32(22, bytes.length, true); local.setUint16(26, name.length, true);
    const entry = new DataView(new ArrayBuffer(46));
    entry.setUint32(0, 0x02014b50, true); entry.setUint16(4, 20, true); entry.setUint16(6, 20, true); entry.setUint16(10, 8, true);
    entry.setUint32(16, crc, true); entry.setUint32(20, data.length, true); entry.setUint32(24, bytes.length, true); entry.setUint16(28, name.length, true); entry.setUint32(42, offset, true);
    parts.push(new Uint8Array(local.buffer), name, data);
    central.push(new Uint8Array(entry.buffer), name);
    offset += 30 + name.length + data.length;
  }
  const size = central.reduce((n, c) => n + c.length, 0);
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true); end.setUint16(8, files.length, true); end.setUint16(10, files.length, true); end.setUint32(12, size, true); end.setUint32(16, offset, true);
  return new Blob([...parts, ...central, new Uint8Array(end.buffer)] as BlobPart[]);
}

describe('zip limits', () => {
  test('entries outside explanations/ and scores/ are skipped unread, however large; an oversized explanation is refused at once, with its size', async () => {
    const explanation = new TextEncoder().encode(JSON.stringify('the word "cat"'));
    // 300 MB of zeros (about 300 kB deflated), with a wrong checksum: inflating it would fail, so it must never be.
    const junk = new Uint8Array(300 * 2 ** 20);
    const fine = deflatedZip([{ path: 'run/latents/huge.bin', bytes: junk, badCrc: true }, { path: 'run/explanations/layers.6_latent3.txt', bytes: explanation }]);
    expect(fine.size).toBeLessThan(2 ** 20);
    const read = await readDelphiResultsZip(fine);
    expect(read).toEqual([{ hook: 'layers.6', feature: 3, explanation: 'the word "cat"', scores: {} }]);

    const bomb = deflatedZip([{ path: 'run/explanations/layers.6_latent4.txt', bytes: new Uint8Array(8 * 2 ** 20).fill(0x20) }]);
    const started = performance.now();
    const refused = await readDelphiResultsZip(bomb).catch((error: unknown) => error);
    expect(errorCode(refused)).toBe('zip/too-large');
    expect((refused as Error).message).toBe('"run/explanations/layers.6_latent4.txt" unpacks to 8 MB, more than the 1 MB such a file may have here: it cannot be what it claims to be. Nothing was imported.');
    expect(performance.now() - started).toBeLessThan(60_000); // never inflated (a sanity bound, not a timing test)
    // A dropped folder's oversized explanation is refused by its size as well, before it is read.
    const folder = await readDelphiResults([{ path: 'run/explanations/layers.6_latent5.txt', blob: new Blob([new Uint8Array(MAX_RESULT_FILE_BYTES.explanation + 1)]) }]).catch((error: unknown) => error);
    expect((folder as Error).message).toMatch(/layers\.6_latent5\.txt has 1\.0 MB, more than the 1 MB an explanation may have/);
  });
});

describe('malformed input gives named errors', () => {
  const good = resultsToDelphiFiles(RESULTS.slice(0, 1)).map((f) => ({ path: f.path, blob: new Blob([f.bytes]) }));
  const record = JSON.stringify(example());
  const scoreWith = (json: string) => [...good, file('scores/fuzz/layers.6_latent9.txt', json)];

  test.each<[string, DelphiInputFile[], string, RegExp]>([
    ['nothing of delphi', [file('notes.txt', 'hi'), file('latents/layers.6/0_1.safetensors', 'x')], 'results/not-found', /No delphi explanations or scores found among 2 files/],
    ['an empty drop', [], 'results/not-found', /explanations\/<hook>_latent<f>\.txt/],
    ['a misnamed explanation', [...good, file('explanations/layers.6.txt', '"x"')], 'results/bad-name', /explanations\/layers\.6\.txt: "layers\.6\.txt" is not named <hook>_latent<feature>\.txt/],
    ['a misnamed score', [...good, file('scores/fuzz/notes.txt', '[]')], 'results/bad-name', /scores\/fuzz\/notes\.txt/],
    ['an explanation that is not JSON', [...good, file('explanations/layers.6_latent9.txt', 'a cat')], 'results/bad-file', /explanations\/layers\.6_latent9\.txt is not JSON .*starts with "a cat"/],
    ['an explanation that is not a string', [...good, file('explanations/layers.6_latent9.txt', '{"text":"a cat"}')], 'results/bad-file', /should hold the explanation as a JSON string .* but holds an object/],
    ['an empty file', [...good, file('explanations/layers.6_latent9.txt', '')], 'results/bad-file', /is empty/],
    ['a file that is not UTF-8', [...good, file('explanations/layers.6_latent9.txt', new Uint8Array([0x22, 0xff, 0xfe, 0x22]))], 'results/bad-file', /not UTF-8/],
    ['a score that is not JSON', scoreWith('[{"str_tokens": ['), 'results/bad-file', /scores\/fuzz\/layers\.6_latent9\.txt is not JSON/],
    ['a score that is not an array', scoreWith('{"accuracy": 0.5}'), 'results/bad-file', /should hold a JSON array of scored examples .* but holds an object/],
    ['a score array of numbers', scoreWith('[0.5, 0.7]'), 'results/bad-file', /example 0 should be a record .* but is number 0\.5/],
    ['a record without str_tokens', scoreWith(`[${record},{"activations":[1],"distance":1,"activating":true,"prediction":1,"probability":null,"correct":true}]`), 'results/bad-file', /example 1: "str_tokens" should be an array of strings but is missing/],
    ['a token that is a number', scoreWith('[{"str_tokens":["a",5],"activations":[1,2],"distance":1,"activating":true,"prediction":1,"probability":null,"correct":true}]'), 'results/bad-file', /"str_tokens\[1\]" should be a string but is number 5/],
    ['a null activation', scoreWith('[{"str_tokens":["a"],"activations":[null],"distance":1,"activating":true,"prediction":1,"probability":null,"correct":true}]'), 'results/bad-file', /"activations\[0\]" should be a finite number but is null/],
    ['activating as a string', scoreWith('[{"str_tokens":["a"],"activations":[1],"distance":1,"activating":"yes","prediction":1,"probability":null,"correct":true}]'), 'results/bad-file', /"activating" should be true or false but is the string "yes"/],
    ['a prediction that is a string', scoreWith('[{"str_tokens":["a"],"activations":[1],"distance":1,"activating":true,"prediction":"1","probability":null,"correct":true}]'), 'results/bad-file', /"prediction" should be 0, 1, true, false or null/],
    ['no correct', scoreWith('[{"str_tokens":["a"],"activations":[1],"distance":1,"activating":true,"prediction":1,"probability":null}]'), 'results/bad-file', /"correct" should be true, false or null but is missing/],
    ['two runs', [...good, ...good.map((f) => ({ ...f, path: `other/${f.path}` }))], 'results/mixed', /more than one run, in \(the top\) .*, other/],
    ['one file twice', [...good, good[0]!], 'results/mixed', /explanations\/layers\.6_latent0\.txt appears twice/],
  ])('%s', async (_, files, code, message) => {
    expect(await codeOf(() => readDelphiResults(files))).toBe(code);
    expect(await messageOf(() => readDelphiResults(files))).toMatch(message);
  });

  test('a zip that is not a zip', async () => {
    expect(await codeOf(() => readDelphiResultsZip(new Blob(['not a zip'])))).toBe('zip/bad-archive');
  });

  test('a scorer that is filtered out is not read', async () => {
    const files = scoreWith('not json at all');
    expect(await codeOf(() => readDelphiResults(files))).toBe('results/bad-file');
    expect((await readDelphiResults(files, { scorers: ['detection'] })).map((r) => Object.keys(r.scores))).toEqual([['detection']]);
  });
});

describe.skipIf(!hasTool('python3'))('with Python', () => {
  test("Python's zipfile and json read our zip", async () => {
    const zip = await exportResultsZip(RESULTS, { prefix: 'run' });
    const path = join(work, 'results.zip');
    writeFileSync(path, new Uint8Array(await zip.arrayBuffer()));
    const script = [
      'import json, re, sys, zipfile',
      'z = zipfile.ZipFile(sys.argv[1])',
      'assert z.testzip() is None',
      'out = {}',
      'for name in z.namelist():',
      '    data = json.loads(z.read(name).decode("utf-8"))',
      '    stem = name.rsplit("/", 1)[1][:-4]',
      // delphi's own parse of a score file name (log/result_analysis.py): int(path.stem.split("latent")[-1])
      '    out[name] = {"data": data, "latent": int(stem.split("latent")[-1])}',
      'print(json.dumps(out))',
    ].join('\n');
    const out = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' })) as Record<string, { data: unknown; latent: number }>;
    expect(Object.keys(out)).toEqual(resultsToDelphiFiles(RESULTS, { prefix: 'run' }).map((f) => f.path));
    expect(out['run/explanations/layers.6_latent0.txt']).toEqual({ data: RESULTS[0]!.explanation, latent: 0 });
    expect(out['run/explanations/h.0_latent3_latent2.txt']).toEqual({ data: 'a hook whose name holds _latent', latent: 2 });
    expect(out['run/scores/detection/layers.6_latent0.txt']).toEqual({ data: RESULTS[0]!.scores.detection, latent: 0 });
    expect(out['run/scores/fuzz/blocks.6.hook_resid_pre_latent7.txt']).toEqual({ data: RESULTS[2]!.scores.fuzz, latent: 7 });
    expect(out['run/scores/detection/layers.6_latent12345.txt']).toEqual({ data: [], latent: 12345 });
  });

  test('a folder Python wrote (ASCII-escaped, with spaces) reads back', async () => {
    const script = [
      'import json, sys',
      'rec = {"str_tokens": ["\\u00e9", " \\U0001F408"], "activations": [0.0, 1.5], "distance": 1, "activating": True, "prediction": 1, "probability": None, "correct": True}',
      'print(json.dumps({"explanation": json.dumps("caf\\u00e9 \\"x\\"\\n"), "score": json.dumps([rec])}))',
    ].join('\n');
    const out = JSON.parse(execFileSync('python3', ['-c', script], { encoding: 'utf8' })) as { explanation: string; score: string };
    expect(out.explanation).toContain('\\u00e9');
    const results = await readDelphiResults([file('explanations/layers.6_latent1.txt', out.explanation), file('scores/fuzz/layers.6_latent1.txt', out.score)]);
    expect(results).toEqual([
      { hook: 'layers.6', feature: 1, explanation: 'café "x"\n', scores: { fuzz: [{ str_tokens: ['é', ' 🐈'], activations: [0, 1.5], distance: 1, activating: true, prediction: 1, probability: null, correct: true }] } },
    ]);
  });
});
