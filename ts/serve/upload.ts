// An HTTP request body read as it arrives, with a size limit (s3d-nerf serve).
// The bytes are kept until a consumer takes them: a job waiting in the render
// queue holds its upload in memory (never more than the limit), and once its
// turn comes it reads what has arrived and then the rest as it comes, so a
// WAV renders while it is still uploading.
import type { IncomingMessage } from 'node:http';

/** The body is larger than the limit (HTTP 413). */
export class UploadTooLargeError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`The upload is larger than the ${formatBytes(limit)} limit (--max-upload-mb)`);
    this.limit = limit;
  }
}

/** The client stopped sending before the end of the body. */
export class UploadAbortedError extends Error {
  constructor() {
    super('The upload was interrupted before its end');
  }
}

export function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${+(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${+(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** Bytes past the limit that are still read (and discarded) so the client sees the 413; then the connection is dropped. */
const DISCARD_LIMIT = 16 << 20;

export class Upload implements AsyncIterable<Uint8Array> {
  readonly limit: number;
  readonly #req: IncomingMessage;
  #chunks: Buffer[] = [];
  #received = 0;
  #done = false;
  #error: Error | undefined;
  #waiters: (() => void)[] = [];
  #iterating = false;
  #rejectFinished: ((err: Error) => void) | undefined;
  /** Resolves with the byte count once the whole body is in; rejects with UploadTooLargeError / UploadAbortedError. */
  readonly finished: Promise<number>;

  constructor(req: IncomingMessage, limit: number) {
    this.limit = limit;
    this.#req = req;
    this.finished = new Promise<number>((resolve, reject) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit) {
        this.#fail(new UploadTooLargeError(limit));
      }
      req.on('data', (chunk: Buffer) => {
        this.#received += chunk.length;
        if (this.#error) {
          if (this.#received > limit + DISCARD_LIMIT) req.destroy();
          return;
        }
        if (this.#received > limit) {
          this.#fail(new UploadTooLargeError(limit));
          return;
        }
        this.#chunks.push(chunk);
        this.#wake();
      });
      req.on('end', () => {
        if (this.#error) return;
        this.#done = true;
        this.#wake();
        resolve(this.#received);
      });
      req.on('close', () => {
        if (!this.#done && !this.#error) this.#fail(new UploadAbortedError());
      });
      req.on('error', () => {
        if (!this.#done && !this.#error) this.#fail(new UploadAbortedError());
      });
      this.#rejectFinished = reject;
      if (this.#error) reject(this.#error);
    });
    this.finished.catch(() => {}); // also seen by the readers
  }

  #fail(err: Error): void {
    if (this.#error) return;
    this.#error = err;
    this.#chunks = [];
    this.#rejectFinished?.(err);
    this.#wake();
  }

  /** Stops keeping the bytes (the job that wanted them is gone); readers reject with `err`. */
  discard(err: Error): void {
    this.#fail(err);
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  get received(): number {
    return this.#received;
  }

  get error(): Error | undefined {
    return this.#error;
  }

  /** The first `n` bytes (fewer when the body is shorter), without consuming them. */
  async head(n: number): Promise<Buffer> {
    for (;;) {
      if (this.#error) throw this.#error;
      const have = this.#chunks.reduce((s, c) => s + c.length, 0);
      if (have >= n || this.#done) return Buffer.concat(this.#chunks).subarray(0, n);
      await this.#wait();
    }
  }

  /** The chunks, as they arrive (one reader). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    if (this.#iterating) throw new Error('An upload is read once');
    this.#iterating = true;
    for (;;) {
      if (this.#error) throw this.#error;
      const c = this.#chunks.shift();
      if (c) {
        yield c;
        continue;
      }
      if (this.#done) return;
      await this.#wait();
    }
  }

  /** The whole body. */
  async all(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of this) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  /** The request (to drop its connection after an early error response). */
  get request(): IncomingMessage {
    return this.#req;
  }
}
