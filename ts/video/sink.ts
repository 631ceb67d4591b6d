// Shared plumbing of the video writers: frame checks, temporary names next to
// the output, and the write loop (any failure or abort -> sink.abort()).
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { abortError, throwIfAborted } from '../abort.js';
import { InvalidArgumentError } from '../errors.js';
import { toUint8 } from '../render.js';
import type { Frame } from '../render.js';
import { describe } from '../validate.js';

/** What a writer reports when the output is complete. */
export interface WriteResult {
  /** The finished file or directory. */
  path: string;
  frameCount: number;
  width: number;
  height: number;
  fps: number;
  /** Seconds of video (frameCount / fps). */
  duration: number;
}

/** A frame writer opened by openMp4Writer / openY4mWriter / openPngSequenceWriter. */
export interface FrameSink {
  /** Appends one RGB frame (uint8, or float32 in [0, 1]); resolves when the sink can take the next one. */
  write(frame: Frame<Uint8Array | Float32Array>): Promise<void>;
  /** Completes the output (temporary file renamed to its final name). */
  finish(): Promise<WriteResult>;
  /** Stops and removes everything written so far. Never throws. */
  abort(): Promise<void>;
}

/** Frames with an optional known count (renderVideo's VideoFrames has one). */
export type FrameSource = AsyncIterable<Frame<Uint8Array | Float32Array>> | Iterable<Frame<Uint8Array | Float32Array>>;

/** A hidden temporary name in the output's directory: .NAME.tmp-PID-RANDOMEXT */
export function tempPath(out: string, ext = ''): string {
  return join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}${ext}`);
}

/** Validates a frame and returns its pixels as uint8 RGB. */
export function framePixels(frame: unknown, index: number): { width: number; height: number; data: Uint8Array } {
  const f = frame as Frame<Uint8Array | Float32Array> | null;
  if (typeof f !== 'object' || f === null || !Number.isInteger(f.width) || !Number.isInteger(f.height) || f.width < 1 || f.height < 1)
    throw new InvalidArgumentError(`Expected a frame { width, height, channels: 3, data } for frames[${index}] but received ${describe(frame)}`);
  if (f.channels !== undefined && f.channels !== 3)
    throw new InvalidArgumentError(`Expected an RGB frame (channels: 3) for frames[${index}] but received channels: ${describe(f.channels)}`);
  const n = f.width * f.height * 3;
  let data: Uint8Array;
  if (f.data instanceof Float32Array) data = toUint8(f.data);
  else if (f.data instanceof Uint8Array || (f.data as unknown) instanceof Uint8ClampedArray) data = f.data as Uint8Array;
  else throw new InvalidArgumentError(`Expected a Uint8Array or Float32Array for frames[${index}].data but received ${describe(f.data)}`);
  if (data.length !== n)
    throw new InvalidArgumentError(`Expected ${n} values (${f.width}x${f.height}x3) for frames[${index}].data but received ${data.length}`);
  return { width: f.width, height: f.height, data };
}

export function sameSize(first: { width: number; height: number }, f: { width: number; height: number }, index: number): void {
  if (f.width !== first.width || f.height !== first.height)
    throw new InvalidArgumentError(`Expected a ${first.width}x${first.height} frame for frames[${index}] (like frames[0]) but received ${f.width}x${f.height}`);
}

export function expectFps(value: unknown): number {
  if (value === undefined) return 25;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1000)
    throw new InvalidArgumentError(`Expected a frame rate in (0, 1000] for fps but received ${describe(value)}`);
  return value;
}

/** Feeds every frame to the sink; on any error or abort the sink removes its output. */
export async function pump(frames: FrameSource, sink: FrameSink, signal: AbortSignal | undefined): Promise<WriteResult> {
  if (frames === null || typeof frames !== 'object' || (!(Symbol.asyncIterator in frames) && !(Symbol.iterator in frames))) {
    await sink.abort();
    throw new InvalidArgumentError(`Expected an iterable of frames for frames but received ${describe(frames)}`);
  }
  const onAbort = (): void => void sink.abort();
  try {
    throwIfAborted(signal);
    signal?.addEventListener('abort', onAbort, { once: true });
    for await (const frame of frames as AsyncIterable<Frame<Uint8Array | Float32Array>>) {
      throwIfAborted(signal);
      await sink.write(frame);
    }
    throwIfAborted(signal);
    return await sink.finish();
  } catch (err) {
    await sink.abort();
    if (signal?.aborted) throw abortError(signal);
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
