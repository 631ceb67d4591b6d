// s3d-nerf live: speech on stdin -> frames as they are rendered (ts/live.ts).
//
//   some-speech-source | s3d-nerf live --image PHOTO [--out -|FILE.y4m|FILE.mp4] [options]
//
// stdin: a WAV stream (default) or raw PCM (--format f32le|s16le --rate N
// [--channels N]). Output: YUV4MPEG2 on stdout by default (`| ffplay -`),
// or a .y4m / .mp4 file (the mp4 with the speech muxed in).
import { constants as fsc } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { findFfmpeg, ffmpegMissingReason } from '../audio/ffmpeg.js';
import { pasteBack } from '../face/paste-back.js';
import type { LiveBackpressure, LiveFrame } from '../live.js';
import { decodeAudioStream, PCM_FORMATS, type PcmFormat } from '../audio/pcm-stream.js';
import { createSessionWith, type BackendChoice, type Precision } from '../session.js';
import { openLiveMp4Writer, type LiveMp4Sink } from '../video/live-mp4.js';
import { evenSized } from '../video/render-video.js';
import type { FrameSink, WriteResult } from '../video/sink.js';
import { openY4mStreamWriter, openY4mWriter } from '../video/y4m.js';
import type { Frame } from '../render.js';
import { intOption, parseOptions } from './args.js';

const NAME = 's3d-nerf';

export const LIVE_HELP = `usage: ${NAME} live --image PHOTO [--out -|OUT.y4m|OUT.mp4] [options] < SPEECH

Renders frames while the speech arrives on stdin: each frame is written as soon
as the audio it needs is in (about 0.2 s after the end of its 40 ms of speech,
plus the render time). 4 s of speech give 100 frames (25 fps).

  --image PHOTO        portrait photo (PNG, JPEG, WebP, ...)
  --out OUT            - (default): YUV4MPEG2 on stdout, e.g. | ffplay -
                       OUT.y4m: a Y4M file; OUT.mp4: H.264 + the speech as AAC
                       (needs ffmpeg; muxed when the input ends)

speech on stdin:
  --format F           wav (default: a WAV stream, any rate, channels and
                       sample format; a streamed header with unknown size is
                       read to the end of the input), or raw little-endian PCM:
                       f32le (float32) or s16le (signed 16-bit), with --rate
  --rate N             sample rate of raw PCM in Hz (8000..192000; required
                       with --format f32le|s16le, not allowed with wav)
  --channels N         interleaved channels of raw PCM (default 1; averaged)

model and engine:
  --model PATH         .safetensors model (default: the bundled weights)
  --backend B          auto (default), cpu or cuda
  --threads N          CPU worker threads (default: one per core)
  --precision P        fast (default: bf16 products where the CPU has AVX512-BF16) or exact (fp32)

frames:
  --aligned            the photo is already a square face crop aligned to the
                       model's template; without it the face is detected and
                       aligned first
  --crop               output only the aligned face crop instead of the whole
                       photo with the face pasted back
  --backpressure M     buffer (default): every frame is written; when the output
                       is slower than the speech, reading stdin waits.
                       drop: frames that fall more than --max-buffered behind are
                       dropped and the previous frame is repeated in their place
                       (the output keeps one frame per 40 ms of speech)
  --max-buffered N     frames that may wait for the output (default 8)

  --quiet              no summary line
  --verbose            details, and stack traces on errors
  -h, --help           show this help

The summary (frames, latency, drops) goes to stderr when the video goes to stdout.
Exit status: 0 ok, 1 error (bad audio, ...), 2 usage error, 130 interrupted
(a partial .y4m/.mp4 is removed).
`;

export interface LiveArgs {
  image: string;
  out: string;
  format: PcmFormat;
  rate: number | undefined;
  channels: number | undefined;
  model: string | undefined;
  backend: BackendChoice | undefined;
  threads: number | undefined;
  precision: Precision | undefined;
  aligned: boolean;
  crop: boolean;
  backpressure: LiveBackpressure;
  maxBuffered: number;
  quiet: boolean;
  verbose: boolean;
}

export interface LiveIo {
  stdin: NodeJS.ReadableStream | AsyncIterable<Uint8Array>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  signal?: AbortSignal;
}

export function parseLive(argv: string[], usage: (msg: string) => Error): LiveArgs | 'help' {
  const v = parseOptions(argv, {
    image: { type: 'string' },
    out: { type: 'string', short: 'o' },
    format: { type: 'string' },
    rate: { type: 'string' },
    channels: { type: 'string' },
    model: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    precision: { type: 'string' },
    aligned: { type: 'boolean', default: false },
    crop: { type: 'boolean', default: false },
    backpressure: { type: 'string' },
    'max-buffered': { type: 'string' },
    quiet: { type: 'boolean', short: 'q', default: false },
    verbose: { type: 'boolean', short: 'v', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  }, usage);
  if (v.help) return 'help';
  if (!v.image) throw usage(`missing --image (see ${NAME} live --help)`);
  const int = (name: 'threads' | 'rate' | 'channels' | 'max-buffered', min: number, max: number) =>
    intOption(v[name], name, min, max, usage);
  const format = (v.format ?? 'wav') as PcmFormat;
  if (!PCM_FORMATS.includes(format)) throw usage(`--format must be wav, f32le or s16le, got ${JSON.stringify(v.format)}`);
  const rate = int('rate', 8000, 192000);
  const channels = int('channels', 1, 64);
  if (format === 'wav' && rate !== undefined) throw usage('--rate is only for raw PCM (--format f32le or s16le): a WAV stream carries its rate');
  if (format === 'wav' && channels !== undefined) throw usage('--channels is only for raw PCM (--format f32le or s16le)');
  if (format !== 'wav' && rate === undefined) throw usage(`--format ${format} needs --rate N (the sample rate in Hz)`);
  const out = v.out ?? '-';
  if (out !== '-' && !/\.(y4m|mp4)$/i.test(out)) throw usage(`--out must be - (stdout), a .y4m or a .mp4 file, got ${JSON.stringify(out)}`);
  const backend = v.backend;
  if (backend !== undefined && !['auto', 'cpu', 'cuda'].includes(backend))
    throw usage(`--backend must be auto, cpu or cuda, got ${JSON.stringify(backend)}`);
  const precision = v.precision;
  if (precision !== undefined && !['fast', 'exact'].includes(precision))
    throw usage(`--precision must be fast or exact, got ${JSON.stringify(precision)}`);
  const backpressure = v.backpressure ?? 'buffer';
  if (backpressure !== 'buffer' && backpressure !== 'drop') throw usage(`--backpressure must be buffer or drop, got ${JSON.stringify(backpressure)}`);
  return {
    image: v.image,
    out,
    format,
    rate,
    channels,
    model: v.model,
    backend: backend as BackendChoice | undefined,
    precision: precision as Precision | undefined,
    threads: int('threads', 1, 1024),
    aligned: v.aligned!,
    crop: v.crop!,
    backpressure,
    maxBuffered: int('max-buffered', 1, 100000) ?? 8,
    quiet: v.quiet!,
    verbose: v.verbose!,
  };
}

export async function runLive(args: LiveArgs, io: LiveIo): Promise<void> {
  const signal = io.signal;
  const info = (line: string): void => {
    if (args.verbose) io.stderr.write(`${NAME}: ${line}\n`);
  };
  try {
    await access(args.image, fsc.R_OK);
    if (!(await stat(args.image)).isFile()) throw new Error('not a file');
  } catch {
    throw new Error(`cannot read --image ${args.image}`);
  }
  const kind = args.out === '-' ? 'stdout' : args.out.toLowerCase().endsWith('.mp4') ? 'mp4' : 'y4m';
  if (kind === 'mp4' && !findFfmpeg()) throw new Error(`cannot write ${args.out}: ${ffmpegMissingReason()}; or write .y4m (or - for stdout)`);

  const session = await createSessionWith(
    { model: args.model, backend: args.backend, threads: args.threads, precision: args.precision, signal },
    { onCudaFallback: (reasons) => info(`CUDA not used (${reasons.join('; ')}); using the CPU`) },
  );
  let sink: FrameSink | undefined;
  try {
    info(`model ${session.modelPath} (${session.config.image_size}px), backend ${session.backend}, ${session.threads} threads, precision ${session.precision}`);
    const identity = await session.encodeIdentity(args.image, args.aligned ? { aligned: true, signal } : { signal });
    const fps = session.config.audio.fps;
    const face = args.crop ? undefined : identity.face;
    const width = face ? face.photo.width & ~1 : identity.size;
    const height = face ? face.photo.height & ~1 : identity.size;
    const toOutput = (frame: Frame<Uint8Array>): Frame<Uint8Array> => (face ? evenSized(pasteBack(identity, frame), width, height) : frame);
    const live = session.live(identity, { backpressure: args.backpressure, maxBuffered: args.maxBuffered, ...(signal ? { signal } : {}) });
    info(`live: ${width}x${height} at ${fps} fps, look-ahead ${(live.lookaheadSeconds * 1000).toFixed(1)} ms, backpressure ${args.backpressure} (max ${args.maxBuffered} frames)`);

    const mp4: LiveMp4Sink | undefined = kind === 'mp4' ? openLiveMp4Writer({ out: args.out, fps }) : undefined;
    sink = mp4 ?? (kind === 'y4m' ? openY4mWriter({ out: args.out, fps }) : openY4mStreamWriter(io.stdout, { fps }));

    // Speech in: decoded as it arrives, teed into the mp4's audio, pushed, paced by drain().
    const feeding = (async () => {
      for await (const chunk of decodeAudioStream(io.stdin as AsyncIterable<Uint8Array>, {
        format: args.format,
        ...(args.format === 'wav' ? {} : { sampleRate: args.rate, channels: args.channels ?? 1 }),
        ...(signal ? { signal } : {}),
      })) {
        await mp4?.writeAudio(chunk.samples, chunk.sampleRate);
        await live.push(chunk.samples, chunk.sampleRate);
        await live.drain();
      }
      return live.end();
    })();
    let feedError: unknown;
    feeding.catch((err) => {
      feedError = err;
      void live.close(); // ends the frame loop below; the error is reported from here
    });

    // Frames out: gaps ('drop') are filled with the previous frame so the video keeps its timing.
    const t0 = performance.now();
    let written = 0;
    let last: Frame<Uint8Array> | undefined;
    for await (const f of live as AsyncIterable<LiveFrame<Uint8Array>>) {
      const frame = toOutput(f);
      const copies = f.index + 1 - written;
      for (let i = 0; i < copies - 1; ++i) await sink.write(last ?? frame);
      await sink.write(frame);
      last = frame;
      written = f.index + 1;
    }
    if (feedError !== undefined) throw feedError;
    const frameCount = await feeding;
    for (; written < frameCount && last; ++written) await sink.write(last); // dropped at the very end
    const result: WriteResult = await sink.finish();
    sink = undefined;
    const st = live.stats;
    const seconds = (performance.now() - t0) / 1000;
    const lat = st.latencyMs;
    const summary =
      `${result.frameCount} frame${result.frameCount === 1 ? '' : 's'}, ${result.width}x${result.height}, ${fps} fps, ${result.duration.toFixed(2)} s in ${seconds.toFixed(1)} s` +
      (lat ? `; latency p50 ${lat.p50.toFixed(0)} ms, p95 ${lat.p95.toFixed(0)} ms, max ${lat.max.toFixed(0)} ms` : '') +
      `; ${st.framesDropped} dropped`;
    if (!args.quiet) {
      if (kind === 'stdout') io.stderr.write(`${NAME}: live: ${summary}\n`);
      else io.stdout.write(`wrote ${args.out} (${summary})\n`);
    }
  } catch (err) {
    await sink?.abort();
    if (kind === 'stdout' && (err as NodeJS.ErrnoException)?.code === 'EPIPE' && !signal?.aborted) {
      info('stdout was closed by its reader: stopped');
      return;
    }
    throw err;
  } finally {
    await session.dispose();
  }
}
