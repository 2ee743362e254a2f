/** `npm start`: serves the built app (dist/) on 127.0.0.1. WebGPU needs a secure context; localhost is one. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { startStaticServer } from './servers/static-server.ts';

const dist = resolve(import.meta.dirname, '../dist');
if (!existsSync(resolve(dist, 'index.html'))) {
  console.error('dist/index.html is missing: run `npm run build` first (npm start does it for you).');
  process.exit(1);
}
const port = Number(process.env.PORT ?? 4173);
const site = await startStaticServer([{ prefix: '/', root: dist }], { port, host: process.env.HOST ?? '127.0.0.1' });
console.log(`\n  AutoInterp Web is being served at ${site.url}\n  (open it in Chrome or Edge with WebGPU; Ctrl+C stops)\n`);
