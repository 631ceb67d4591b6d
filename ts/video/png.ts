// PNG sequence writer (sharp): DIR/frame-00000.png, frame-00001.png, ...
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { InvalidArgumentError } from '../errors.js';
import { describe, expectString } from '../validate.js';
import { expectFps, framePixels, pump, sameSize, tempPath, type FrameSink, type FrameSource, type WriteResult } from './sink.js';

export interface PngSequenceOptions {
  /** Output directory (created if needed). */
  dir: string;
  /** File name prefix (default 'frame-'); files are PREFIX00000.png, PREFIX00001.png, ... */
  prefix?: string;
  /** Only reported in the result (default 25). */
  fps?: number;
  signal?: AbortSignal;
}

async function isEmptyDir(path: string): Promise<boolean | undefined> {
  try {
    if (!(await stat(path)).isDirectory()) throw new InvalidArgumentError(`Expected a directory for dir but ${path} is a file`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return (await readdir(path)).length === 0;
}

/**
 * Opens a PNG sequence writer (see writePngSequence). A new (or empty)
 * directory is filled under a temporary name and renamed when complete; in a
 * non-empty directory each file is written under a temporary name, and the
 * files of this run are removed on failure.
 */
export function openPngSequenceWriter(options: PngSequenceOptions): FrameSink {
  const dir = resolve(expectString(options?.dir, 'dir'));
  const prefix = options.prefix ?? 'frame-';
  if (typeof prefix !== 'string' || /[/\\]/.test(prefix)) throw new InvalidArgumentError(`Expected a file name prefix for prefix but received ${describe(prefix)}`);
  const fps = expectFps(options.fps);
  let target: string | undefined; // directory the files go to
  let staged = false; // target is a temporary sibling directory, renamed at the end
  const written: string[] = [];
  let first: { width: number; height: number } | undefined;
  let count = 0;
  let state: 'open' | 'done' | 'aborted' = 'open';
  let aborting: Promise<void> | undefined;
  let pending: Promise<unknown> = Promise.resolve();

  async function prepare(): Promise<string> {
    const empty = await isEmptyDir(dir);
    if (empty === false) return dir;
    const tmp = tempPath(dir);
    await mkdir(tmp, { recursive: true });
    staged = true;
    return tmp;
  }

  return {
    async write(frame) {
      if (state !== 'open') throw new InvalidArgumentError(`The PNG writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      const f = framePixels(frame, count);
      if (!first) first = { width: f.width, height: f.height };
      else sameSize(first, f, count);
      const index = count++;
      const job = (async () => {
        target ??= await prepare();
        const name = `${prefix}${String(index).padStart(5, '0')}.png`;
        const png = await sharp(f.data, { raw: { width: f.width, height: f.height, channels: 3 } }).png().toBuffer();
        if ((state as string) === 'aborted') return;
        if (staged) await writeFile(join(target, name), png);
        else {
          const tmp = tempPath(join(target, name), '.png');
          written.push(tmp);
          await writeFile(tmp, png);
          await rename(tmp, join(target, name));
          written[written.length - 1] = join(target, name);
        }
      })();
      pending = job;
      await job;
    },
    async finish() {
      if (state !== 'open') throw new InvalidArgumentError(`The PNG writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      if (!first || !target) throw new InvalidArgumentError('Expected at least one frame to write but received none');
      if (staged) {
        if ((await isEmptyDir(dir)) === true) await rmdir(dir);
        await rename(target, dir);
      }
      state = 'done';
      return { path: dir, frameCount: count, width: first.width, height: first.height, fps, duration: count / fps };
    },
    abort() {
      if (state === 'done') return Promise.resolve();
      state = 'aborted';
      aborting ??= (async () => {
        await pending.catch(() => {});
        if (staged && target) await rm(target, { recursive: true, force: true }).catch(() => {});
        else for (const f of written) await rm(f, { force: true }).catch(() => {});
      })();
      return aborting;
    },
  };
}

/** Writes frames as numbered PNG files with sharp (see openPngSequenceWriter for atomicity). */
export function writePngSequence(frames: FrameSource, options: PngSequenceOptions): Promise<WriteResult> {
  let sink: FrameSink;
  try {
    sink = openPngSequenceWriter(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return pump(frames, sink, options.signal);
}
