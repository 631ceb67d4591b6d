// ffmpeg: locating the binary, and decoding any audio it reads (mp3, m4a/aac,
// ogg/vorbis, opus, flac, exotic WAV codecs, the audio of a video file...) to
// mono float32 at the source rate. ffmpeg only decodes and down-mixes
// (`-ac 1`); the engine resamples with its own resampler. Samples come back
// through a pipe as a streamed WAV (pcm_f32le), whose header carries the rate.
//
// ffmpeg is looked up in this order: env S3D_FFMPEG, the static binary of the
// npm package @ffmpeg-installer/ffmpeg (a dependency), `ffmpeg` on PATH.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsc, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { abortError, throwIfAborted } from './abort.js';
import { InputAudioError } from './errors.js';

export interface FfmpegInfo {
  path: string;
  /** Where it was found. */
  source: 'S3D_FFMPEG' | '@ffmpeg-installer/ffmpeg' | 'PATH';
}

function isExecutable(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, fsc.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fromInstaller(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const mod = require('@ffmpeg-installer/ffmpeg') as { path?: unknown };
    return typeof mod.path === 'string' && isExecutable(mod.path) ? mod.path : undefined;
  } catch {
    return undefined; // not installed, or no binary for this platform (the package throws a string)
  }
}

function fromPath(): string | undefined {
  const exe = process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg';
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, exe);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

/**
 * Finds ffmpeg: env S3D_FFMPEG (must name an executable file), then the
 * binary of @ffmpeg-installer/ffmpeg, then `ffmpeg` on PATH. Undefined when
 * there is none. Looked up on every call (cheap; the environment may change).
 */
export function findFfmpeg(): FfmpegInfo | undefined {
  const env = process.env.S3D_FFMPEG;
  if (env) return isExecutable(env) ? { path: env, source: 'S3D_FFMPEG' } : undefined;
  const installed = fromInstaller();
  if (installed) return { path: installed, source: '@ffmpeg-installer/ffmpeg' };
  const onPath = fromPath();
  if (onPath) return { path: onPath, source: 'PATH' };
  return undefined;
}

/** Why findFfmpeg() found nothing, for error messages. */
export function ffmpegMissingReason(): string {
  const env = process.env.S3D_FFMPEG;
  if (env) return `S3D_FFMPEG=${env} is not an executable file`;
  return 'no ffmpeg found (set S3D_FFMPEG, install the npm package @ffmpeg-installer/ffmpeg, or put ffmpeg on PATH)';
}

/** The last non-empty line of ffmpeg's stderr. */
export function lastLine(text: string): string {
  const lines = text.split(/\r?\n|\r/).map((l) => l.trim()).filter((l) => l.length > 0);
  return lines[lines.length - 1] ?? '';
}

export interface FfmpegDecoded {
  samples: Float32Array;
  sampleRate: number;
}

/** Parses the streamed WAV ffmpeg writes to a pipe (sizes may be 0 or 0xFFFFFFFF): everything after 'data' is samples. */
function parseStreamedWav(buf: Buffer): { samples: Float32Array; sampleRate: number } {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE')
    throw new Error('ffmpeg did not write a WAV stream');
  let pos = 12;
  let sampleRate = 0;
  let format = 0;
  let bits = 0;
  let channels = 0;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'fmt ') {
      format = buf.readUInt16LE(body);
      channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
      if (format === 0xfffe && size >= 26) format = buf.readUInt16LE(body + 24);
    } else if (id === 'data') {
      if (format !== 3 || bits !== 32 || channels !== 1) throw new Error(`unexpected WAV stream from ffmpeg (format ${format}, ${bits} bits, ${channels} channels)`);
      const n = Math.floor((buf.length - body) / 4);
      const samples = new Float32Array(n);
      for (let i = 0; i < n; ++i) samples[i] = buf.readFloatLE(body + 4 * i);
      return { samples, sampleRate };
    }
    pos = body + size + (size & 1);
  }
  throw new Error('no audio data in the WAV stream from ffmpeg');
}

export interface DecodeWithFfmpegOptions {
  signal?: AbortSignal;
  /** Names the input in error messages (default: the path, or 'buffer'). */
  label?: string;
}

/**
 * Decodes the first audio stream of a file (path) or of encoded bytes with
 * ffmpeg to mono float32 at the source sample rate. Bytes are written to a
 * temporary file first (containers like m4a need to seek). Throws
 * InputAudioError when ffmpeg is missing or fails (with ffmpeg's last stderr
 * line), AbortError when the signal fires.
 */
export async function decodeWithFfmpeg(input: string | Uint8Array, options: DecodeWithFfmpegOptions = {}): Promise<FfmpegDecoded> {
  const { signal } = options;
  const label = options.label ?? (typeof input === 'string' ? input : 'buffer');
  throwIfAborted(signal);
  const ff = findFfmpeg();
  if (!ff) throw new InputAudioError(`Cannot decode the audio (${label}): it is not a WAV file that can be read without ffmpeg, and ${ffmpegMissingReason()}`);

  let tmpDir: string | undefined;
  let path: string;
  if (typeof input === 'string') path = input;
  else {
    tmpDir = await mkdtemp(join(tmpdir(), 's3d-audio-'));
    path = join(tmpDir, 'input');
    await writeFile(path, input);
  }
  try {
    return await new Promise<FfmpegDecoded>((resolve, reject) => {
      const args = [
        '-nostdin', '-hide_banner', '-loglevel', 'error',
        '-i', path,
        '-map', '0:a:0', '-vn', '-sn', '-dn',
        '-ac', '1', '-c:a', 'pcm_f32le',
        '-fflags', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1',
        '-f', 'wav', 'pipe:1',
      ];
      const child = spawn(ff.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let stderr = '';
      let aborted = false;
      const onAbort = (): void => {
        aborted = true;
        child.kill('SIGKILL');
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.on('data', (d: Buffer) => chunks.push(d));
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
      child.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        reject(new InputAudioError(`Cannot decode the audio (${label}): cannot run ffmpeg (${ff.path}): ${err.message}`, { cause: err }));
      });
      child.on('close', (code, sig) => {
        signal?.removeEventListener('abort', onAbort);
        if (aborted && signal) return reject(abortError(signal));
        if (code !== 0) {
          const why = lastLine(stderr) || `ffmpeg exited with ${code ?? sig}`;
          return reject(new InputAudioError(`Cannot decode the audio (${label}) with ffmpeg: ${why}`));
        }
        try {
          const { samples, sampleRate } = parseStreamedWav(Buffer.concat(chunks));
          if (samples.length === 0) return reject(new InputAudioError(`Expected audio samples in ${label} but ffmpeg decoded none`));
          resolve({ samples, sampleRate });
        } catch (err) {
          reject(new InputAudioError(`Cannot decode the audio (${label}) with ffmpeg: ${(err as Error).message}`, { cause: err }));
        }
      });
    });
  } finally {
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  }
}
