/** The interp worker: feature records (and, next, LLM calls) off the page's thread and off the GPU worker, through comlink. */
import * as Comlink from 'comlink';
import { registerTransferHandlers } from '../comlink-handlers.ts';
import { explainPolicyRefusals } from '../policy-refusals.ts';
import { Interp } from './interp.ts';

explainPolicyRefusals();
registerTransferHandlers();
Comlink.expose(new Interp());
