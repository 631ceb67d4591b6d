// Per-session serial queue: calls on one session run one at a time, in call
// order (the engine's thread pool is per session and runs one job at a time,
// so queuing in JS keeps the libuv pool free for other work).
// - An AbortSignal is checked when the call is queued and again when its turn
//   comes; an abort while waiting rejects at once and the task never runs.
// - After close(), new calls and calls still waiting reject with the closed
//   error (DisposedError); the task in flight finishes and settles normally.
import { abortError } from './abort.js';

export class SerialQueue {
  #tail: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #closedError: () => Error;

  constructor(closedError: () => Error) {
    this.#closedError = closedError;
  }

  get closed(): boolean {
    return this.#closed;
  }

  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const onAbort = (): void => {
        if (done) return;
        done = true;
        reject(abortError(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#tail = this.#tail.then(async () => {
        signal?.removeEventListener('abort', onAbort);
        if (done) return;
        done = true;
        if (this.#closed) return reject(this.#closedError());
        if (signal?.aborted) return reject(abortError(signal));
        try {
          resolve(await task());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  /** Stops accepting work; resolves once the task in flight (if any) has settled. */
  close(): Promise<void> {
    this.#closed = true;
    return this.#tail;
  }
}
