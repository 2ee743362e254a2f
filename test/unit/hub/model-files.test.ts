/** Which ONNX file of a repo the engine takes, from a listing made by the hub's API, by HEAD probes, or offline from the cache. */
import { describe, expect, test } from 'vitest';
import { chooseModelFile, errorCode, listModelFiles, type RepoListing } from '../../../src/lib/index.ts';

const listing = (...paths: string[]): RepoListing => ({ files: paths.map((path) => ({ path, size: 100 })), via: 'api' });
const failure = (run: () => unknown) => {
  try {
    run();
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error('did not throw');
};

describe('chooseModelFile', () => {
  test.each([
    ['the current layout', ['onnx/model.onnx', 'onnx/model_fp16.onnx', 'onnx/model_quantized.onnx', 'onnx/model_q4.onnx'], 'onnx/model.onnx'],
    ['the older layout', ['onnx/decoder_model.onnx', 'onnx/decoder_model_merged.onnx', 'onnx/decoder_with_past_model.onnx', 'onnx/decoder_model_quantized.onnx'], 'onnx/decoder_model.onnx'],
    ['both layouts', ['onnx/decoder_model.onnx', 'onnx/model.onnx'], 'onnx/model.onnx'],
  ])('%s: takes the single-graph float32 file', (_, files, expected) => {
    expect(chooseModelFile(listing('config.json', ...files), 'a/b', { shaderF16: true })).toMatchObject({ graph: { path: expected }, data: [], dtype: 'fp32', bytes: 100 });
  });

  test('weights stored beside the graph are loaded with it, and counted in the size', () => {
    const choice = chooseModelFile(listing('onnx/model.onnx', 'onnx/model.onnx_data', 'onnx/model.onnx_data_1', 'onnx/model_fp16.onnx_data', 'onnx/decoder_model.onnx_data'), 'a/b', { shaderF16: false });
    expect(choice.data.map((f) => f.path)).toEqual(['onnx/model.onnx_data', 'onnx/model.onnx_data_1']);
    expect(choice.bytes).toBe(300);
  });

  test('an unknown size leaves the total unknown rather than wrong', () => {
    const choice = chooseModelFile({ files: [{ path: 'onnx/model.onnx', size: 5 }, { path: 'onnx/model.onnx_data' }], via: 'probe' }, 'a/b', { shaderF16: false });
    expect(choice.bytes).toBeUndefined();
  });

  test('float16 only: taken where the adapter has shader-f16, with what it costs; refused elsewhere', () => {
    const files = listing('onnx/model_fp16.onnx', 'onnx/model_quantized.onnx');
    expect(chooseModelFile(files, 'a/b', { shaderF16: true })).toMatchObject({ graph: { path: 'onnx/model_fp16.onnx' }, dtype: 'fp16', note: expect.stringMatching(/about 1e-3 relative/) });
    const refused = failure(() => chooseModelFile(files, 'a/b', { shaderF16: false }));
    expect(refused.code).toBe('model/unsupported');
    expect(refused.message).toMatch(/has only a float16 export \(onnx\/model_fp16\.onnx\), and this GPU adapter has no shader-f16/);
  });

  test('merged, with-past and quantized files are never taken: the message lists what the repo has and says what is needed', () => {
    const refused = failure(() => chooseModelFile(listing('config.json', 'onnx/decoder_model_merged.onnx', 'onnx/decoder_with_past_model.onnx', 'onnx/model_quantized.onnx'), 'Xenova/odd', { shaderF16: true }));
    expect(refused.code).toBe('model/no-usable-file');
    expect(refused.message).toBe(
      '"Xenova/odd" has no ONNX file the engine can cut. It has: onnx/decoder_model_merged.onnx, onnx/decoder_with_past_model.onnx, onnx/model_quantized.onnx. ' +
        'The engine needs a single-graph float32 export, onnx/model.onnx or onnx/decoder_model.onnx (merged graphs cannot be cut, with-past-only graphs need a cache they cannot be fed, quantized graphs do not give exact activations); export one with Optimum: optimum-cli export onnx --model <repo> --task text-generation out/.',
    );
    expect(failure(() => chooseModelFile(listing('config.json', 'model.safetensors'), 'a/b', { shaderF16: true })).message).toMatch(/has no ONNX files\. The engine needs/);
  });
});

/** A fake hub answering from a table of (method, path) -> status and body, logging what was asked. */
function fakeHub(answers: Record<string, { status: number; body?: unknown; headers?: Record<string, string> } | 'unreachable'>) {
  const asked: string[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input));
    const key = `${init?.method ?? 'GET'} ${url.pathname}`;
    asked.push(key);
    const answer = answers[key] ?? answers[`* ${url.pathname}`] ?? answers['*'] ?? { status: 404 };
    if (answer === 'unreachable') throw new TypeError('Failed to fetch');
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), { status: answer.status, headers: answer.headers ?? {} });
  }) as typeof globalThis.fetch;
  return { fetch, asked };
}

const model = { repo: 'owner/name', hubUrl: 'https://hub.test/', revision: 'main' };

describe('listModelFiles', () => {
  test('reads the hub API with sizes (size or lfs.size)', async () => {
    const hub = fakeHub({ 'GET /api/models/owner/name/revision/main': { status: 200, body: { siblings: [{ rfilename: 'config.json', size: 10 }, { rfilename: 'onnx/model.onnx', lfs: { size: 1234 } }, { rfilename: 'README.md' }] } } });
    expect(await listModelFiles(model, { fetch: hub.fetch, cache: null })).toEqual({ via: 'api', files: [{ path: 'config.json', size: 10 }, { path: 'onnx/model.onnx', size: 1234 }, { path: 'README.md' }] });
    expect(hub.asked).toEqual(['GET /api/models/owner/name/revision/main']);
  });

  test('a 401 from the API is a missing, private or gated repo, said as such', async () => {
    const hub = fakeHub({ 'GET /api/models/owner/name/revision/main': { status: 401 } });
    const error = await listModelFiles(model, { fetch: hub.fetch, cache: null }).catch((e) => e);
    expect(errorCode(error)).toBe('hub/gated');
    expect(error.message).toMatch(/the model repo "owner\/name" does not exist, or it is private or gated/);
  });

  test('without an API (a static mirror), the candidate names are probed with HEAD, sizes from x-linked-size or content-length', async () => {
    const hub = fakeHub({
      'HEAD /owner/name/resolve/main/config.json': { status: 200, headers: { 'content-length': '10' } },
      'HEAD /owner/name/resolve/main/onnx/decoder_model.onnx': { status: 200, headers: { 'x-linked-size': '999', 'content-length': '0' } },
    });
    const listed = await listModelFiles(model, { fetch: hub.fetch, cache: null });
    expect(listed).toEqual({ via: 'probe', files: [{ path: 'config.json', size: 10 }, { path: 'onnx/decoder_model.onnx', size: 999 }] });
    expect(hub.asked.filter((a) => a.startsWith('GET'))).toEqual(['GET /api/models/owner/name/revision/main']);
    expect(chooseModelFile(listed, model.repo, { shaderF16: false }).graph.path).toBe('onnx/decoder_model.onnx');
  });

  test('a repo whose config.json is missing is not found', async () => {
    const error = await listModelFiles(model, { fetch: fakeHub({}).fetch, cache: null }).catch((e) => e);
    expect(errorCode(error)).toBe('hub/not-found');
  });

  test('offline, the files this browser kept are listed from its cache; with none kept, the message says so', async () => {
    const kept = new Set(['https://hub.test/owner/name/resolve/main/config.json', 'https://hub.test/owner/name/resolve/main/onnx/model.onnx']);
    const cache = { match: async (url: string) => (kept.has(url) ? new Response('x') : undefined) } as unknown as Cache;
    const offline = fakeHub({ '*': 'unreachable' });
    expect(await listModelFiles(model, { fetch: offline.fetch, cache })).toEqual({ via: 'cache', files: [{ path: 'config.json' }, { path: 'onnx/model.onnx' }] });
    const error = await listModelFiles(model, { fetch: offline.fetch, cache: null }).catch((e) => e);
    expect(errorCode(error)).toBe('hub/fetch-failed');
    expect(error.message).toMatch(/this browser has not kept the model repo "owner\/name" \(revision main\) from an earlier visit/);
  });

  test('a repo id that is not owner/name is refused before any request', async () => {
    const hub = fakeHub({});
    const error = await listModelFiles({ ...model, repo: 'gpt2' }, { fetch: hub.fetch, cache: null }).catch((e) => e);
    expect(errorCode(error)).toBe('model/bad-config');
    expect(hub.asked).toEqual([]);
  });
});
