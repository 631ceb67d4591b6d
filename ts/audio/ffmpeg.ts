// ffmpeg: locating the binary, and decoding any audio it reads (mp3, m4a/aac,
// ogg/vorbis, opus, flac, exotic WAV codecs, the audio of a video file...) to
// mono float32 at the source rate. ffmpeg only decodes and down-mixes
// (`-ac 1`); the engine resamples with its own resampler. Samples come back
// through a pipe as a streamed WAV (pcm_f32le), whose header carries the rate,
// and are handed on in chunks as they arrive (streamWithFfmpeg).
//
// ffmpeg is looked up in this order: env S3D_FFMPEG, the static binary of the
// npm package @ffmpeg-installer/ffmpeg (a dependency), `ffmpeg` on PATH.
import { spawn } from 'node:child_process';
import { accessSync, constants as fsc, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { abortError, throwIfAborted } from '../abort.js';
import { InputAudioError } from '../errors.js';

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

/** Receives decoded mono samples as they come (see streamWithFfmpeg). */
export interface SampleSink {
  /** Called once, before any samples, with the source sample rate. */
  start(sampleRate: number): void;
  /** A chunk of mono samples; the next chunk waits until the returned promise settles. */
  write(samples: Float32Array): void | Promise<void>;
}

/** Samples per chunk handed to the sink (1 MiB of float32). */
const CHUNK_SAMPLES = 1 << 18;
const nativeLE = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/**
 * The streamed WAV ffmpeg writes to a pipe (sizes may be 0 or 0xFFFFFFFF):
 * header chunks up to 'data', then float32 samples to the end of the stream.
 */
class StreamedWavReader {
  #head: Buffer = Buffer.alloc(0);
  #body: Buffer[] = [];
  #bodyBytes = 0;
  sampleRate = 0;
  started = false;

  /** Header bytes received so far (before the samples start). */
  get headBytes(): number {
    return this.#head.length;
  }

  /** Adds bytes; returns the whole chunks of samples now ready (all of them when `flush`). */
  feed(d: Buffer, flush = false): Float32Array[] {
    if (!this.started) {
      this.#head = Buffer.concat([this.#head, d]);
      const start = this.#parseHeader();
      if (start < 0) return [];
      this.started = true;
      d = this.#head.subarray(start);
      this.#head = Buffer.alloc(0);
    }
    if (d.length > 0) {
      this.#body.push(d);
      this.#bodyBytes += d.length;
    }
    const out: Float32Array[] = [];
    while (this.#bodyBytes >= CHUNK_SAMPLES * 4 || (flush && this.#bodyBytes >= 4)) out.push(this.#take());
    return out;
  }

  /** -1 until the 'data' chunk header is in; throws for a stream that is not what we asked for. */
  #parseHeader(): number {
    const buf = this.#head;
    if (buf.length < 12) return -1;
    if (buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') throw new Error('ffmpeg did not write a WAV stream');
    let pos = 12;
    let format = 0;
    let bits = 0;
    let channels = 0;
    while (pos + 8 <= buf.length) {
      const id = buf.toString('latin1', pos, pos + 4);
      const size = buf.readUInt32LE(pos + 4);
      const body = pos + 8;
      if (id === 'data') {
        if (format !== 3 || bits !== 32 || channels !== 1) throw new Error(`unexpected WAV stream from ffmpeg (format ${format}, ${bits} bits, ${channels} channels)`);
        return body;
      }
      if (body + size > buf.length) return -1;  // wait for the whole chunk
      if (id === 'fmt ') {
        format = buf.readUInt16LE(body);
        channels = buf.readUInt16LE(body + 2);
        this.sampleRate = buf.readUInt32LE(body + 4);
        bits = buf.readUInt16LE(body + 14);
        if (format === 0xfffe && size >= 26) format = buf.readUInt16LE(body + 24);
      }
      pos = body + size + (size & 1);
    }
    return -1;
  }

  /** Up to CHUNK_SAMPLES whole samples from the body; the partial last sample stays. */
  #take(): Float32Array {
    const n = Math.min(CHUNK_SAMPLES, Math.floor(this.#bodyBytes / 4));
    const bytes = Buffer.concat(this.#body, this.#bodyBytes);
    const out = new Float32Array(n);
    if (nativeLE) new Uint8Array(out.buffer).set(bytes.subarray(0, 4 * n));
    else for (let i = 0; i < n; ++i) out[i] = bytes.readFloatLE(4 * i);
    const rest = bytes.subarray(4 * n);
    this.#body = rest.length > 0 ? [rest] : [];
    this.#bodyBytes = rest.length;
    return out;
  }
}

export interface DecodeWithFfmpegOptions {
  signal?: AbortSignal;
  /** Names the input in error messages (default: the path, or 'buffer'). */
  label?: string;
}

/**
 * Decodes the first audio stream of a file (path) or of encoded bytes with
 * ffmpeg to mono float32 at the source sample rate, handing the samples to
 * `sink` in chunks as ffmpeg produces them (ffmpeg is paused while the sink
 * is busy), so memory does not grow with the length of the audio. Bytes are
 * written to a temporary file first (containers like m4a need to seek).
 * Resolves to the number of samples. Throws InputAudioError when ffmpeg is
 * missing or fails (with ffmpeg's last stderr line), AbortError when the
 * signal fires, or what the sink throws.
 */
export async function streamWithFfmpeg(input: string | Uint8Array, sink: SampleSink, options: DecodeWithFfmpegOptions = {}): Promise<number> {
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
    const args = [
      '-nostdin', '-hide_banner', '-loglevel', 'error',
      '-i', path,
      '-map', '0:a:0', '-vn', '-sn', '-dn',
      '-ac', '1', '-c:a', 'pcm_f32le',
      '-fflags', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1',
      '-f', 'wav', 'pipe:1',
    ];
    const child = spawn(ff.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let spawnError: Error | undefined;
    const closed = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve) => {
      child.on('close', (code, sig) => resolve({ code, sig }));
      child.on('error', (err) => {
        spawnError = err;
        resolve({ code: null, sig: null });
      });
    });
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const reader = new StreamedWavReader();
    let count = 0;
    let headerError: Error | undefined;
    const deliver = async (chunks: Float32Array[]): Promise<void> => {
      for (const c of chunks) {
        if (count === 0) sink.start(reader.sampleRate);
        count += c.length;
        await sink.write(c);
      }
    };
    try {
      try {
        // Async iteration pauses ffmpeg's stdout while the sink works on a chunk.
        for await (const d of child.stdout as AsyncIterable<Buffer>) {
          let chunks: Float32Array[];
          try {
            chunks = reader.feed(d);
          } catch (err) {
            headerError = err as Error;
            child.kill('SIGKILL');
            break;
          }
          await deliver(chunks);
        }
      } catch (err) {
        child.kill('SIGKILL');
        await closed;
        if (aborted && signal) throw abortError(signal);
        throw err;
      }
      const { code, sig } = await closed;
      if (spawnError)
        throw new InputAudioError(`Cannot decode the audio (${label}): cannot run ffmpeg (${ff.path}): ${spawnError.message}`, { cause: spawnError });
      if (aborted && signal) throw abortError(signal);
      if (headerError)
        throw new InputAudioError(`Cannot decode the audio (${label}) with ffmpeg: ${headerError.message}`, { cause: headerError });
      if (code !== 0) {
        const why = lastLine(stderr) || `ffmpeg exited with ${code ?? sig}`;
        throw new InputAudioError(`Cannot decode the audio (${label}) with ffmpeg: ${why}`);
      }
      if (!reader.started) {
        const why = reader.headBytes < 12 ? 'ffmpeg did not write a WAV stream' : 'no audio data in the WAV stream from ffmpeg';
        throw new InputAudioError(`Cannot decode the audio (${label}) with ffmpeg: ${why}`);
      }
      await deliver(reader.feed(Buffer.alloc(0), true));
      if (count === 0) throw new InputAudioError(`Expected audio samples in ${label} but ffmpeg decoded none`);
      return count;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  } finally {
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
  }
}

/**
 * Decodes the first audio stream of a file (path) or of encoded bytes with
 * ffmpeg to mono float32 at the source sample rate (all of it in memory;
 * prepareAudio streams instead, see streamWithFfmpeg). Throws InputAudioError
 * when ffmpeg is missing or fails (with ffmpeg's last stderr line), AbortError
 * when the signal fires.
 */
export async function decodeWithFfmpeg(input: string | Uint8Array, options: DecodeWithFfmpegOptions = {}): Promise<FfmpegDecoded> {
  const parts: Float32Array[] = [];
  let sampleRate = 0;
  const total = await streamWithFfmpeg(input, {
    start: (rate) => void (sampleRate = rate),
    write: (c) => void parts.push(c),
  }, options);
  const samples = new Float32Array(total);
  let at = 0;
  for (const p of parts) {
    samples.set(p, at);
    at += p.length;
  }
  return { samples, sampleRate };
}
