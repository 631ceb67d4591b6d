// Video output: renderVideo (frames) and writers (mp4 via ffmpeg, y4m, PNG).
import { extname } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { expectString } from '../validate.js';
import { writeMp4, type Mp4Audio } from './mp4.js';
import { writePngSequence } from './png.js';
import type { FrameSource, WriteResult } from './sink.js';
import { writeY4m } from './y4m.js';

export { renderVideo } from './render-video.js';
export type { RenderVideoOptions, VideoFrame, VideoFrames, VideoPoses, VideoProgress } from './render-video.js';
export { writeMp4, openMp4Writer } from './mp4.js';
export type { Mp4Audio, Mp4Options } from './mp4.js';
export { writeY4m, openY4mWriter, y4mHeader, rgbToI420 } from './y4m.js';
export type { Y4mOptions } from './y4m.js';
export { writePngSequence, openPngSequenceWriter } from './png.js';
export type { PngSequenceOptions } from './png.js';
export type { FrameSink, FrameSource, WriteResult } from './sink.js';

export type VideoFileKind = 'mp4' | 'y4m' | 'png';

/** The writer an output path selects: .mp4, .y4m, or a directory (trailing slash or no extension) of PNG frames. */
export function videoKind(out: string): VideoFileKind | undefined {
  const ext = extname(out).toLowerCase();
  if (/[/\\]$/.test(out)) return 'png';
  if (ext === '.mp4') return 'mp4';
  if (ext === '.y4m') return 'y4m';
  if (ext === '') return 'png';
  return undefined;
}

export interface WriteVideoOptions {
  /** .mp4, .y4m, or a directory for PNG frames (see videoKind). */
  out: string;
  /** Speech for the mp4 (ignored by the other formats). */
  audio?: Mp4Audio;
  fps?: number;
  frameCount?: number;
  signal?: AbortSignal;
}

/** Writes frames with the writer the output path selects. */
export function writeVideo(frames: FrameSource, options: WriteVideoOptions): Promise<WriteResult> {
  const out = expectString(options?.out, 'out');
  const kind = videoKind(out);
  const { fps, signal } = options;
  switch (kind) {
    case 'mp4':
      return writeMp4(frames, { out, audio: options.audio, fps, frameCount: options.frameCount, signal });
    case 'y4m':
      return writeY4m(frames, { out, fps, signal });
    case 'png':
      return writePngSequence(frames, { dir: out, fps, signal });
    default:
      return Promise.reject(new InvalidArgumentError(`Expected an output path ending in .mp4, .y4m or / (PNG frames) for out but received ${JSON.stringify(out)}`));
  }
}
