// MP4 writer: ffmpeg reads raw RGB frames on stdin (backpressure respected)
// and the speech from a file, and writes H.264 (yuv420p) + AAC with the moov
// atom up front (+faststart), to a temporary file in the output's directory
// that is renamed when ffmpeg succeeds and removed on any failure or abort.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ffmpegMissingReason, findFfmpeg, lastLine } from '../audio/ffmpeg.js';
import { BackendUnavailableError, InputAudioError, InternalError, InvalidArgumentError } from '../errors.js';
import { describe, expectString, isPlainObject } from '../validate.js';
import { expectFps, framePixels, pump, sameSize, tempPath, type FrameSink, type FrameSource, type WriteResult } from './sink.js';

/** The speech track: an audio file path (any format ffmpeg reads), its bytes, or mono float samples. */
export type Mp4Audio = string | Uint8Array | { samples: Float32Array; sampleRate: number };

export interface Mp4Options {
  /** Output .mp4 path. */
  out: string;
  /** Speech to mux in (AAC); omit for a silent video. A path is passed to ffmpeg as is (the original file). */
  audio?: Mp4Audio;
  /** Frames per second (default 25). */
  fps?: number;
  /**
   * Frames that will be written, when known in advance (renderVideo's frames
   * carry it as `frameCount`, taken from there by default): the audio is cut
   * to frameCount / fps so a shortened render gives an mp4 as long as its
   * frames. Without it the mp4 lasts as long as the longer of video and audio.
   */
  frameCount?: number;
  /** x264 constant rate factor, 0..51 (default 18). */
  crf?: number;
  /** x264 preset (default 'medium'). */
  preset?: string;
  /** AAC bit rate (default '128k'). */
  audioBitrate?: string;
  /** ffmpeg executable; default findFfmpeg() (S3D_FFMPEG, @ffmpeg-installer/ffmpeg, PATH). */
  ffmpeg?: string;
  signal?: AbortSignal;
}

const PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium', 'slow', 'slower', 'veryslow'];

/** Float32 mono samples as a 32-bit float WAV file. */
/** The 44-byte header of a mono IEEE-float WAV with dataBytes of samples (sizes capped at 4 GiB). */
export function floatWavHeader(sampleRate: number, dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, 36 + dataBytes), 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(3, 20); // IEEE float
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 4, 28);
  h.writeUInt16LE(4, 32);
  h.writeUInt16LE(32, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, dataBytes), 40);
  return h;
}

export function floatWav(samples: Float32Array, sampleRate: number): Buffer {
  const buf = Buffer.alloc(44 + samples.length * 4);
  floatWavHeader(sampleRate, samples.length * 4).copy(buf, 0);
  for (let i = 0; i < samples.length; ++i) buf.writeFloatLE(samples[i]!, 44 + 4 * i);
  return buf;
}

interface Checked {
  out: string;
  fps: number;
  audio: Mp4Audio | undefined;
  frameCount: number | undefined;
  crf: number;
  preset: string;
  audioBitrate: string;
  ffmpeg: string;
}

function check(options: Mp4Options, frames?: unknown): Checked {
  if (!isPlainObject(options)) throw new InvalidArgumentError(`Expected an object for options but received ${describe(options)}`);
  const out = resolve(expectString(options.out, 'out'));
  const fps = expectFps(options.fps);
  const a = options.audio;
  if (
    a !== undefined &&
    !(typeof a === 'string' && a.length > 0) &&
    !(a instanceof Uint8Array && a.length > 0) &&
    !(isPlainObject(a) && a.samples instanceof Float32Array && a.samples.length > 0 && Number.isInteger(a.sampleRate) && a.sampleRate > 0)
  )
    throw new InvalidArgumentError(`Expected an audio file path, its bytes, or { samples: Float32Array, sampleRate } for audio but received ${describe(a)}`);
  let frameCount = options.frameCount ?? (frames as { frameCount?: unknown } | undefined)?.frameCount;
  if (frameCount !== undefined && (typeof frameCount !== 'number' || !Number.isInteger(frameCount) || frameCount < 1))
    throw new InvalidArgumentError(`Expected a positive integer for frameCount but received ${describe(frameCount)}`);
  const crf = options.crf ?? 18;
  if (typeof crf !== 'number' || !Number.isFinite(crf) || crf < 0 || crf > 51) throw new InvalidArgumentError(`Expected a number in [0, 51] for crf but received ${describe(crf)}`);
  const preset = options.preset ?? 'medium';
  if (!PRESETS.includes(preset)) throw new InvalidArgumentError(`Expected one of ${PRESETS.join(', ')} for preset but received ${describe(preset)}`);
  const audioBitrate = options.audioBitrate ?? '128k';
  if (typeof audioBitrate !== 'string' || !/^\d+k?$/.test(audioBitrate)) throw new InvalidArgumentError(`Expected a bit rate like '128k' for audioBitrate but received ${describe(audioBitrate)}`);
  let ffmpeg = options.ffmpeg;
  if (ffmpeg === undefined) {
    const found = findFfmpeg();
    if (!found) throw new BackendUnavailableError(`Cannot write an mp4: ${ffmpegMissingReason()}; write .y4m or PNG frames instead`);
    ffmpeg = found.path;
  } else expectString(ffmpeg, 'ffmpeg');
  return { out, fps, audio: a, frameCount: frameCount as number | undefined, crf, preset, audioBitrate, ffmpeg };
}

/** Opens an mp4 writer (see writeMp4). ffmpeg starts with the first frame. */
export function openMp4Writer(options: Mp4Options, frames?: unknown): FrameSink {
  const o = check(options, frames);
  const tmp = tempPath(o.out, '.mp4');
  const tmpAudio = tempPath(o.out, '.wav');
  let wroteAudio = false;
  let child: ChildProcess | undefined;
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  let stderr = '';
  let first: { width: number; height: number } | undefined;
  let count = 0;
  let state: 'open' | 'done' | 'aborted' = 'open';
  let aborting: Promise<void> | undefined;
  let starting: Promise<void> | undefined;

  const failure = (what: string, code: number | null, signal: NodeJS.Signals | null): Error =>
    new InternalError(`ffmpeg failed ${what}: ${lastLine(stderr) || `exit ${code ?? signal}`}`);

  async function start(width: number, height: number): Promise<void> {
    await mkdir(dirname(o.out), { recursive: true });
    let audioPath: string | undefined;
    if (typeof o.audio === 'string') {
      try {
        await access(o.audio, fsc.R_OK);
      } catch (err) {
        throw new InputAudioError(`Cannot read the audio file ${o.audio}: ${(err as Error).message}`, { cause: err });
      }
      audioPath = o.audio;
    } else if (o.audio !== undefined) {
      wroteAudio = true;
      await writeFile(tmpAudio, o.audio instanceof Uint8Array ? o.audio : floatWav(o.audio.samples, o.audio.sampleRate));
      audioPath = tmpAudio;
    }
    if (state !== 'open') throw new InvalidArgumentError('The mp4 writer is aborted');
    const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${width}x${height}`, '-framerate', String(o.fps), '-i', 'pipe:0'];
    if (audioPath !== undefined) {
      // Cut the speech to the video's length when the frame count is known (input option: exact, no -shortest).
      if (o.frameCount !== undefined) args.push('-t', (o.frameCount / o.fps).toFixed(6));
      args.push('-i', audioPath, '-map', '0:v:0', '-map', '1:a:0');
    }
    if (width % 2 || height % 2) args.push('-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2'); // yuv420p needs even sizes
    args.push('-c:v', 'libx264', '-preset', o.preset, '-crf', String(o.crf), '-pix_fmt', 'yuv420p',
      '-colorspace', 'smpte170m', '-color_range', 'tv');
    // 48 kHz AAC: the encoder's 1024-sample priming is 21 ms, under a frame (older muxers,
    // e.g. the 2018 static build of @ffmpeg-installer, count it in the file's duration).
    if (audioPath !== undefined) args.push('-c:a', 'aac', '-b:a', o.audioBitrate, '-ar', '48000');
    args.push('-movflags', '+faststart', '-f', 'mp4', tmp);
    const proc = spawn(o.ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
    child = proc;
    exited = new Promise((res) => {
      proc.on('error', (err) => {
        stderr += `\ncannot run ${o.ffmpeg}: ${err.message}`;
        res({ code: null, signal: null });
      });
      proc.on('close', (code, signal) => res({ code, signal }));
    });
    proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    proc.stdin!.on('error', () => {}); // EPIPE when ffmpeg dies: reported through its exit status and stderr
  }

  return {
    async write(frame) {
      if (state !== 'open') throw new InvalidArgumentError(`The mp4 writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      const f = framePixels(frame, count);
      if (!first) {
        first = { width: f.width, height: f.height };
        starting = start(f.width, f.height);
        await starting;
      } else sameSize(first, f, count);
      const stdin = child!.stdin!;
      const buf = Buffer.from(f.data.buffer, f.data.byteOffset, f.data.length);
      if (!stdin.write(buf)) {
        // Backpressure: wait until ffmpeg has taken the frame, or has exited.
        const drained = new Promise<boolean>((res) => stdin.once('drain', () => res(true)));
        const done = await Promise.race([drained, exited!.then(() => false)]);
        if (!done) {
          const { code, signal } = await exited!;
          if (state !== 'open') throw new InvalidArgumentError('The mp4 writer is aborted');
          throw failure('while encoding', code, signal);
        }
      }
      ++count;
    },
    async finish() {
      if (state !== 'open') throw new InvalidArgumentError(`The mp4 writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      if (!first || !child) throw new InvalidArgumentError('Expected at least one frame to write but received none');
      child.stdin!.end();
      const { code, signal } = await exited!;
      if (state !== 'open') throw new InvalidArgumentError('The mp4 writer is aborted');
      if (code !== 0) throw failure('to write the mp4', code, signal);
      if (wroteAudio) await rm(tmpAudio, { force: true });
      await rename(tmp, o.out);
      state = 'done';
      return { path: o.out, frameCount: count, width: first.width, height: first.height, fps: o.fps, duration: count / o.fps };
    },
    abort() {
      if (state === 'done') return Promise.resolve();
      state = 'aborted';
      aborting ??= (async () => {
        await starting?.catch(() => {});
        if (child && exited) {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        }
        await rm(tmp, { force: true }).catch(() => {});
        await rm(tmpAudio, { force: true }).catch(() => {});
      })();
      return aborting;
    },
  };
}

/**
 * Encodes frames (e.g. renderVideo(...)) and the speech into an H.264/AAC
 * mp4 with ffmpeg, one frame at a time (backpressure: never more than a pipe
 * buffer ahead of ffmpeg). The mp4 lasts frameCount / fps seconds (the audio
 * is cut to it; a full render covers the whole audio, so mp4 duration =
 * audio duration rounded up to a frame). The file appears under its final
 * name only when complete; on an error or abort nothing is left behind.
 * Needs ffmpeg (BackendUnavailableError without one).
 */
export function writeMp4(frames: FrameSource, options: Mp4Options): Promise<WriteResult> {
  let sink: FrameSink;
  try {
    sink = openMp4Writer(options, frames);
  } catch (err) {
    return Promise.reject(err);
  }
  return pump(frames, sink, options.signal);
}
