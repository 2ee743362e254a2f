/**
 * Runs the LLM stand-in (scripts/servers/llm-server.ts) for the offline demo and manual tests:
 *
 *   npx tsx scripts/llm-server.ts [--port 8788] [--host 127.0.0.1] [--latency 200] [--fault-rate 0.3]
 *     [--seed 1] [--faults rate-limit,server-error] [--keys key1,key2] [--credit-limit 0.5]
 *
 * Point the app at http://127.0.0.1:<port>/api/v1 (OpenRouter's dialect) or /v1 (OpenAI's).
 */
import { parseArgs } from 'node:util';
import { FAULT_KINDS, STAND_IN_MODELS, startLlmServer, type FaultKind } from './servers/llm-server.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8788' },
    host: { type: 'string', default: '127.0.0.1' },
    latency: { type: 'string', default: '200' },
    'fault-rate': { type: 'string', default: '0' },
    seed: { type: 'string', default: '1' },
    faults: { type: 'string' },
    keys: { type: 'string' },
    'credit-limit': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});

if (values.help) {
  console.log(`Options: --port --host --latency <ms> --fault-rate <0..1> --seed <n> --faults <${FAULT_KINDS.join(',')}> --keys <k1,k2> --credit-limit <dollars>`);
  process.exit(0);
}

const number = (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} must be a number from 0, not "${text}".`);
    process.exit(2);
  }
  return n;
};

const kinds = values.faults?.split(',').map((k) => k.trim());
const unknown = kinds?.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
if (unknown?.length) {
  console.error(`Unknown fault kinds: ${unknown.join(', ')}. Known: ${FAULT_KINDS.join(', ')}.`);
  process.exit(2);
}

const server = await startLlmServer({
  port: number('port', values.port),
  host: values.host,
  latencyMs: number('latency', values.latency),
  faults: { rate: number('fault-rate', values['fault-rate']) ?? 0, seed: number('seed', values.seed), ...(kinds && { kinds: kinds as FaultKind[] }) },
  ...(values.keys && { keys: values.keys.split(',').map((k) => k.trim()) }),
  ...(values['credit-limit'] !== undefined && { creditLimit: number('credit-limit', values['credit-limit']) }),
});
console.log(`LLM stand-in at ${server.openRouterBase} (OpenRouter) and ${server.openAiBase} (OpenAI-compatible)`);
console.log(`models: ${STAND_IN_MODELS.map((m) => m.id).join(', ')}; Ctrl+C stops`);
process.on('SIGINT', () => void server.close().then(() => process.exit(0)));
