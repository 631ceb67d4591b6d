// An mp4 whose speech arrives with its frames (s3d-nerf live --out x.mp4):
// the frames are encoded as they come (openMp4Writer, video only, to a hidden
// temporary file), the samples are appended to a temporary float WAV as they
// come, and finish() muxes the two (video copied, AAC 48 kHz, the audio cut to
// the frames) into the output. Atomic like the other writers: on an error or
// abort every temporary file is removed and nothing is left behind.
import { spawn } from 'node:child_process';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ffmpegMissingReason, findFfmpeg, lastLine } from '../audio/ffmpeg.js';
import { BackendUnavailableError, InputAudioError, InternalError, InvalidArgumentError } from '../errors.js';
import { expectString } from '../validate.js';
import { floatWavHeader, openMp4Writer } from './mp4.js';
import { expectFps, tempPath, type FrameSink, type WriteResult } from './sink.js';

export interface LiveMp4Options {
  out: string;
  fps?: number;
  crf?: number;
  preset?: string;
  ffmpeg?: string;
}

export interface LiveMp4Sink extends FrameSink {
  /** Appends mono speech samples (one rate for the whole file). */
  writeAudio(samples: Float32Array, sampleRate: number): Promise<void>;
}

/** Opens a live mp4 writer (needs ffmpeg: BackendUnavailableError without one). */
export function openLiveMp4Writer(options: LiveMp4Options): LiveMp4Sink {
  const out = resolve(expectString(options?.out, 'out'));
  const fps = expectFps(options.fps);
  const ffmpeg = options.ffmpeg ?? findFfmpeg()?.path;
  if (!ffmpeg) throw new BackendUnavailableError(`Cannot write an mp4: ${ffmpegMissingReason()}; write .y4m instead`);
  const tmpVideo = tempPath(out, '.video.mp4');
  const tmpWav = tempPath(out, '.wav');
  const tmpOut = tempPath(out, '.mp4');
  const video = openMp4Writer({ out: tmpVideo, fps, crf: options.crf, preset: options.preset, ffmpeg });
  let wav: FileHandle | undefined;
  let opening: Promise<FileHandle> | undefined;
  let rate: number | undefined;
  let audioBytes = 0;
  let state: 'open' | 'done' | 'aborted' = 'open';
  let mux: ReturnType<typeof spawn> | undefined;
  let aborting: Promise<void> | undefined;

  const cleanup = async (): Promise<void> => {
    await opening?.catch(() => undefined);
    await wav?.close().catch(() => {});
    wav = undefined;
    await Promise.all([tmpVideo, tmpWav, tmpOut].map((p) => rm(p, { force: true }).catch(() => {})));
  };

  return {
    async writeAudio(samples, sampleRate) {
      if (state !== 'open') throw new InvalidArgumentError(`The mp4 writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      if (rate !== undefined && rate !== sampleRate)
        throw new InputAudioError(`Expected the audio's first sample rate, ${rate} Hz, but received ${sampleRate}`);
      rate = sampleRate;
      if (!wav) {
        opening ??= mkdir(dirname(out), { recursive: true }).then(() => open(tmpWav, 'w')).then(async (fh) => {
          await fh.write(floatWavHeader(sampleRate, 0));
          return fh;
        });
        wav = await opening;
      }
      const buf = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
      await wav.write(buf);
      audioBytes += buf.length;
    },
    write(frame) {
      if (state !== 'open') return Promise.reject(new InvalidArgumentError(`The mp4 writer is ${state === 'done' ? 'finished' : 'aborted'}`));
      return video.write(frame);
    },
    async finish(): Promise<WriteResult> {
      if (state !== 'open') throw new InvalidArgumentError(`The mp4 writer is ${state === 'done' ? 'finished' : 'aborted'}`);
      try {
        const v = await video.finish(); // the video-only mp4, under tmpVideo
        if (wav) {
          await wav.write(floatWavHeader(rate!, audioBytes), 0, 44, 0);
          await wav.close();
          wav = undefined;
          const args = ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y', '-i', tmpVideo,
            '-t', (v.frameCount / fps).toFixed(6), '-i', tmpWav,
            '-map', '0:v:0', '-map', '1:a:0', '-c:v', 'copy', '-c:a', 'aac', '-b:a', '128k', '-ar', '48000',
            '-movflags', '+faststart', '-f', 'mp4', tmpOut];
          let stderr = '';
          const proc = spawn(ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
          mux = proc;
          proc.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
          const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
            proc.on('error', (err) => {
              stderr += `\ncannot run ${ffmpeg}: ${err.message}`;
              res({ code: null, signal: null });
            });
            proc.on('close', (c, s) => res({ code: c, signal: s }));
          });
          mux = undefined;
          if (state !== 'open') throw new InvalidArgumentError('The mp4 writer is aborted');
          if (code !== 0) throw new InternalError(`ffmpeg failed to mux the audio into the mp4: ${lastLine(stderr) || `exit ${code ?? signal}`}`);
          await rename(tmpOut, out);
        } else await rename(tmpVideo, out);
        state = 'done';
        await cleanup();
        return { ...v, path: out };
      } catch (err) {
        if (state === 'open') {
          state = 'aborted';
          await video.abort();
          await cleanup();
        }
        throw err;
      }
    },
    abort() {
      if (state === 'done') return Promise.resolve();
      state = 'aborted';
      aborting ??= (async () => {
        mux?.kill('SIGKILL');
        await video.abort();
        await cleanup();
      })();
      return aborting;
    },
  };
}
