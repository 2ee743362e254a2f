/**
 * One queue for every onnxruntime call in a worker. On the WebGPU provider two `run()` or two
 * `InferenceSession.create` calls in flight at once corrupt memory or crash the page (see
 * shared/spec/webgpu-notes.md), so everything that touches a session goes through here, in order.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    // Keep the chain alive whether or not this task fails; the caller still sees the failure.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
