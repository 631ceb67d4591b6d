// YUV4MPEG2 (.y4m) writer: uncompressed 4:2:0, BT.601 full range (JPEG
// siting), no external tool; plays in ffplay, mpv, VLC.
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { expectString } from '../validate.js';
import { expectFps, framePixels, pump, sameSize, tempPath, type FrameSink, type FrameSource, type WriteResult } from './sink.js';

/** Y4M stream header: 4:2:0 with JPEG (centred) chroma siting, full range. */
export function y4mHeader(width: number, height: number, fps = 25): string {
  const [num, den] = Number.isInteger(fps) ? [fps, 1] : [Math.round(fps * 1000), 1000];
  return `YUV4MPEG2 W${width} H${height} F${num}:${den} Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=FULL\n`;
}

/**
 * Interleaved RGB (uint8) -> planar Y, Cb, Cr 4:2:0 (BT.601 full range, as
 * JPEG/JFIF), chroma = mean of each 2x2 block (edge pixels repeated for odd sizes).
 */
export function rgbToI420(rgb: Uint8Array, width: number, height: number, out?: Uint8Array): Uint8Array {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const size = width * height + 2 * cw * ch;
  const buf = out ?? new Uint8Array(size);
  const yp = buf.subarray(0, width * height);
  const up = buf.subarray(width * height, width * height + cw * ch);
  const vp = buf.subarray(width * height + cw * ch, size);
  const clamp = (x: number): number => (x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x));
  for (let i = 0, n = width * height; i < n; ++i) {
    const r = rgb[3 * i]!, g = rgb[3 * i + 1]!, b = rgb[3 * i + 2]!;
    yp[i] = clamp(0.299 * r + 0.587 * g + 0.114 * b);
  }
  for (let cy = 0; cy < ch; ++cy)
    for (let cx = 0; cx < cw; ++cx) {
      let r = 0, g = 0, b = 0;
      for (let dy = 0; dy < 2; ++dy)
        for (let dx = 0; dx < 2; ++dx) {
          const x = Math.min(2 * cx + dx, width - 1);
          const y = Math.min(2 * cy + dy, height - 1);
          const p = 3 * (y * width + x);
          r += rgb[p]!; g += rgb[p + 1]!; b += rgb[p + 2]!;
        }
      r /= 4; g /= 4; b /= 4;
      up[cy * cw + cx] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      vp[cy * cw + cx] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  return buf;
}

export interface Y4mOptions {
  /** Output file (conventionally .y4m); written as a temporary file in the same directory, renamed when complete. */
  out: string;
  /** Frames per second (default 25). */
  fps?: number;
  signal?: AbortSignal;
}

const FRAME_TAG = Buffer.from('FRAME\n');

/** Opens a Y4M writer (see writeY4m). */
export function openY4mWriter(options: Y4mOptions): FrameSink {
  const out = resolve(expectString(options?.out, 'out'));
  const fps = expectFps(options.fps);
  const tmp = tempPath(out, '.y4m');
  let fh: FileHandle | undefined;
  let first: { width: number; height: number } | undefined;
  let yuv: Uint8Array | undefined;
  let count = 0;
  let state: 'open' | 'done' | 'aborted' = 'open';
  let aborting: Promise<void> | undefined;
  return {
    async write(frame) {
      if (state !== 'open') throw new InvalidArgumentError(`The Y4M writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      const f = framePixels(frame, count);
      if (!first) {
        first = { width: f.width, height: f.height };
        await mkdir(dirname(out), { recursive: true });
        const h = await open(tmp, 'w');
        if (state !== 'open') {
          // aborted while opening: abort() could not see the handle
          await h.close().catch(() => {});
          await rm(tmp, { force: true }).catch(() => {});
          throw new InvalidArgumentError('The Y4M writer is aborted');
        }
        fh = h;
        await fh.write(y4mHeader(f.width, f.height, fps));
      } else sameSize(first, f, count);
      yuv = rgbToI420(f.data, f.width, f.height, yuv);
      await fh!.write(FRAME_TAG);
      await fh!.write(yuv);
      ++count;
    },
    async finish() {
      if (state !== 'open') throw new InvalidArgumentError(`The Y4M writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      if (!first || !fh) throw new InvalidArgumentError('Expected at least one frame to write but received none');
      await fh.close();
      fh = undefined;
      await rename(tmp, out);
      state = 'done';
      return { path: out, frameCount: count, width: first.width, height: first.height, fps, duration: count / fps };
    },
    abort() {
      if (state === 'done') return Promise.resolve();
      state = 'aborted';
      aborting ??= (async () => {
        await fh?.close().catch(() => {});
        fh = undefined;
        await rm(tmp, { force: true }).catch(() => {});
      })();
      return aborting;
    },
  };
}

/**
 * Writes frames (e.g. renderVideo(...)) to a YUV4MPEG2 file without any
 * external tool, one frame at a time. The file appears under its final name
 * only when complete; on an error or abort nothing is left behind.
 */
export function writeY4m(frames: FrameSource, options: Y4mOptions): Promise<WriteResult> {
  let sink: FrameSink;
  try {
    sink = openY4mWriter(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return pump(frames, sink, options.signal);
}

export interface Y4mStreamOptions {
  /** Frames per second (default 25). */
  fps?: number;
}

/**
 * A Y4M writer on an open byte stream (e.g. process.stdout, for `| ffplay -`):
 * the header goes out with the first frame, each frame as soon as it is
 * written (waiting for 'drain' when the stream is full). finish() does not end
 * the stream; abort() stops writing. A stream error (EPIPE: the reader went
 * away) rejects the write in progress and the next ones.
 */
export function openY4mStreamWriter(stream: NodeJS.WritableStream, options: Y4mStreamOptions = {}): FrameSink {
  if (stream === null || typeof stream !== 'object' || typeof stream.write !== 'function')
    throw new InvalidArgumentError('Expected a writable stream for stream');
  const fps = expectFps(options.fps);
  let first: { width: number; height: number } | undefined;
  let count = 0;
  let state: 'open' | 'done' | 'aborted' = 'open';
  let failed: Error | undefined;
  const onError = (err: Error): void => {
    failed ??= err;
  };
  stream.on('error', onError);
  const put = (chunk: Uint8Array | string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (failed) return reject(failed);
      const ok = stream.write(chunk);
      if (ok) return resolve();
      const done = (): void => {
        stream.off('drain', done);
        stream.off('error', done);
        if (failed) reject(failed);
        else resolve();
      };
      stream.on('drain', done);
      stream.on('error', done);
    });
  return {
    async write(frame) {
      if (state !== 'open') throw new InvalidArgumentError(`The Y4M writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      const f = framePixels(frame, count);
      if (!first) {
        first = { width: f.width, height: f.height };
        await put(y4mHeader(f.width, f.height, fps));
      } else sameSize(first, f, count);
      // A fresh buffer per frame: the stream may still hold the previous one.
      const planes = rgbToI420(f.data, f.width, f.height);
      await put(FRAME_TAG);
      await put(planes);
      ++count;
    },
    async finish() {
      if (state !== 'open') throw new InvalidArgumentError(`The Y4M writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      if (!first) throw new InvalidArgumentError('Expected at least one frame to write but received none');
      state = 'done';
      stream.off('error', onError);
      return { path: '-', frameCount: count, width: first.width, height: first.height, fps, duration: count / fps };
    },
    async abort() {
      if (state === 'open') state = 'aborted';
      stream.off('error', onError);
    },
  };
}
