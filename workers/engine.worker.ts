/** Exposes the engine to the page through comlink. Everything else lives in engine.ts and src/lib. */
import * as Comlink from 'comlink';
import { Engine } from './engine.ts';

Comlink.expose(new Engine());
