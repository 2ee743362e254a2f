/** The engine worker: the browser's runtime (onnxruntime-web on WebGPU) under the Engine, exposed through comlink. */
import * as Comlink from 'comlink';
import { createWebRuntime } from '../../src/lib/runtime/index.ts';
import { registerTransferHandlers } from '../comlink-handlers.ts';
import { Engine } from './engine.ts';

registerTransferHandlers();
Comlink.expose(new Engine(createWebRuntime(self.location.href)));
