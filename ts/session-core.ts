// What the modules behind a Session (audio/, identity.ts, render.ts, live.ts,
// session-resource.ts) need of it: the native handle, the serial queue, the
// model config and the open/disposed checks. Session implements it; those
// modules import only this interface, never session.ts, so session.ts is the
// one module that imports them.
import type { ModelConfig } from './config.js';
import type { NativeSession } from './native.js';
import type { SerialQueue } from './queue.js';

export interface SessionCore {
  /** The model's hyper-parameters; throws DisposedError after dispose(). */
  readonly config: ModelConfig;
  readonly disposed: boolean;
  /** @internal Calls on a session run one at a time, in order, through this queue. */
  readonly _queue: SerialQueue;
  /** @internal Throws DisposedError after dispose(). */
  _assertOpen(): void;
  /** @internal The native handle; throws DisposedError after dispose(). */
  _native(): NativeSession;
}
