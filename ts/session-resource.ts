// Base of the objects a session hands out (Identity, AudioTrack): each owns one
// native handle, belongs to exactly one session and can be disposed.
import { asyncDispose } from './dispose.js';
import { DisposedError, InvalidArgumentError } from './errors.js';
import type { SessionCore } from './session-core.js';
import type { Session } from './session.js';

export abstract class SessionResource<H extends { dispose(): void }> {
  readonly #session: SessionCore;
  #handle: H | undefined;
  readonly #noun: string;
  readonly #madeBy: string;

  /** noun: 'identity'; madeBy: 'encoded' (for "The identity was encoded by a different session"). */
  protected constructor(session: SessionCore, handle: H, noun: string, madeBy: string) {
    this.#session = session;
    this.#handle = handle;
    this.#noun = noun;
    this.#madeBy = madeBy;
  }

  /** The session that made it (the public back-reference; the one use of Session's type here). */
  get session(): Session {
    return this.#session as Session; // Session is the one SessionCore
  }

  get disposed(): boolean {
    return this.#handle === undefined;
  }

  /** @internal The native handle; throws DisposedError or InvalidArgumentError. */
  _handleFor(session: SessionCore): H {
    if (!this.#handle) throw new DisposedError(`The ${this.#noun} has been disposed`);
    if (session !== this.#session)
      throw new InvalidArgumentError(`The ${this.#noun} was ${this.#madeBy} by a different session`);
    return this.#handle;
  }

  /** Frees the native memory (once no render in flight still uses it). */
  async dispose(): Promise<void> {
    this.#handle?.dispose();
    this.#handle = undefined;
  }

  [asyncDispose](): Promise<void> {
    return this.dispose();
  }
}
