/**
 * Comlink transfer handlers that both sides of every worker register (the page and the worker):
 * - thrown errors keep their `code` (comlink alone keeps only name, message and stack), and arrive
 *   as AppErrors, so the page branches on `code` and shows the message as it is;
 * - an AbortSignal passed as an argument becomes a live signal on the other side (it cannot be
 *   cloned): aborting it in the page aborts it in the worker.
 */
import * as Comlink from 'comlink';
import { AppError, type ErrorCode } from '../src/lib/index.ts';

interface WireError {
  isError: true;
  value: { name: string; message: string; stack?: string; code?: ErrorCode };
}

let registered = false;

export function registerTransferHandlers(): void {
  if (registered) return;
  registered = true;
  const base = Comlink.transferHandlers.get('throw')!;
  Comlink.transferHandlers.set('throw', {
    canHandle: base.canHandle,
    serialize(thrown) {
      const [wire, transfers] = base.serialize(thrown) as [WireError | { isError: false; value: unknown }, Transferable[]];
      const error = (thrown as { value?: unknown }).value;
      if (wire.isError && error instanceof AppError) wire.value.code = error.code;
      return [wire, transfers];
    },
    deserialize(wire) {
      const thrown = wire as WireError | { isError: false; value: unknown };
      if (thrown.isError && thrown.value.code) {
        const error = new AppError(thrown.value.code, thrown.value.message);
        if (thrown.value.stack) error.stack = thrown.value.stack;
        throw error;
      }
      return base.deserialize(wire);
    },
  });
  Comlink.transferHandlers.set('abort-signal', {
    canHandle: (value): value is AbortSignal => typeof AbortSignal !== 'undefined' && value instanceof AbortSignal,
    serialize(signal: AbortSignal) {
      const { port1, port2 } = new MessageChannel();
      const abort = () => {
        port1.postMessage('abort');
        port1.close();
      };
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
      return [port2, [port2]];
    },
    deserialize(port: MessagePort) {
      const controller = new AbortController();
      port.onmessage = () => {
        controller.abort();
        port.close();
      };
      port.start();
      return controller.signal;
    },
  });
}
