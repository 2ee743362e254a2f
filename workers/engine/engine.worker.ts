/** The engine worker: the browser's runtime (onnxruntime-web on WebGPU) under the Engine, exposed through comlink. */
import * as Comlink from 'comlink';
import { createWebRuntime } from '../../src/lib/runtime/index.ts';
import { registerTransferHandlers } from '../comlink-handlers.ts';
import { explainPolicyRefusals } from '../policy-refusals.ts';
import { Engine } from './engine.ts';

explainPolicyRefusals();
registerTransferHandlers();
// import.meta.url, not self.location.href: the worker's location is the blob: URL it was started from.
Comlink.expose(new Engine(createWebRuntime(import.meta.url)));
