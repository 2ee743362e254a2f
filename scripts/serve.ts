/**
 * `npm start`: serves the built app (dist/) on 127.0.0.1. WebGPU needs a secure context; localhost is one.
 * Also starts the demo LLM (the project's stand-in: deterministic canned answers, no real model) on the
 * next port, so the Explain screen can be tried offline; the page lists it as a clearly labelled demo
 * endpoint. `DEMO_LLM=0` leaves it off.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startAppServers } from './servers/app-server.ts';

const dist = resolve(import.meta.dirname, '../dist');
if (!existsSync(resolve(dist, 'index.html'))) {
  console.error('dist/index.html is missing: run `npm run build` first (npm start does it for you).');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 4173);
const { site, llm, llmError } = await startAppServers({ root: dist, port, host: process.env.HOST ?? '127.0.0.1', demoLlm: process.env.DEMO_LLM !== '0' });
console.log(`\n  AutoInterp Web is being served at ${site.url}\n  (open it in Chrome or Edge with WebGPU; Ctrl+C stops)\n`);
if (llm) console.log(`  Demo LLM (canned answers, not a real model) at ${llm.openRouterBase}: the Explain screen lists it.\n`);
if (llmError) console.log(`  The demo LLM could not start on port ${port + 1} (${llmError}); the app works without it.\n`);
