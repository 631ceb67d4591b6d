// The s3d-nerf command line (bin/s3d-nerf.js): one photo + speech -> video.
//
//   s3d-nerf render --image PHOTO --audio SPEECH --out OUT.mp4|OUT.y4m|DIR/ [options]
//   s3d-nerf live --image PHOTO [--out -|OUT.y4m|OUT.mp4] [options] < SPEECH   (./live.ts)
//   s3d-nerf serve [--port N] [--host ADDR] [...]   a local web page (./serve.ts)
//   s3d-nerf doctor [--backend auto|cpu|cuda] [--model PATH] [--json]   (./doctor.ts)
//
// Exit status: 0 ok, 1 runtime error, 2 usage error, 130 interrupted (SIGINT/SIGTERM;
// the partial output is removed). Errors are one line on stderr:
// "s3d-nerf: error: <message>" (with the stack under --verbose).
import { constants as fsc, readFileSync } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { findFfmpeg, ffmpegMissingReason } from '../audio/ffmpeg.js';
import { DOCTOR_HELP, doctorReport, formatDoctor, parseDoctor } from './doctor.js';
import { LIVE_HELP, parseLive, runLive } from './live.js';
import { SERVE_HELP, parseServe, runServe } from './serve.js';
import { packageRoot } from '../native.js';
import { offsetPose, orbitTrack, parsePoseTrack } from '../camera.js';
import { createSessionWith, type BackendChoice, type Precision } from '../session.js';
import { renderVideo, type VideoPoses, type VideoProgress } from '../video/render-video.js';
import { videoKind, writeVideo } from '../video/index.js';

const NAME = 's3d-nerf';

export class UsageError extends Error {}

export interface CliIo {
  /** Speech for `live` (default process.stdin). */
  stdin?: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stderr: NodeJS.WritableStream;
  signal?: AbortSignal;
}

export function version(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export const MAIN_HELP = `usage: ${NAME} <command> [options]

One portrait photo + speech -> talking-head video (S3D-NeRF, CPU engine).

commands:
  render      render a video (${NAME} render --help)
  live        speech on stdin -> frames as they are rendered, y4m on stdout
              (| ffplay -) or a .y4m/.mp4 file (${NAME} live --help)
  serve       a local web page: photo + speech (upload or microphone) ->
              the talking head plays while it renders, mp4 to download
              (${NAME} serve --help)
  doctor      check the installation: native binary, CPU/CUDA backends, model,
              1-frame timing (${NAME} doctor --help)

options:
  -h, --help     show this help
  -V, --version  print the version

Exit status: 0 ok, 1 error, 2 usage error, 130 interrupted.
`;

export const RENDER_HELP = `usage: ${NAME} render --image PHOTO --audio SPEECH --out OUT [options]

  --image PHOTO        portrait photo (PNG, JPEG, WebP, ...)
  --audio SPEECH       speech: WAV, or mp3/m4a/aac/ogg/opus/flac/... through ffmpeg
  --out OUT            OUT.mp4 (H.264 + AAC, needs ffmpeg), OUT.y4m (uncompressed,
                       no external tool) or DIR/ (numbered PNG frames)

model and engine:
  --model PATH         .safetensors model (default: the bundled weights)
  --backend B          auto (default), cpu or cuda
  --threads N          CPU worker threads (default: one per core)
  --precision P        fast (default: bf16 products where the CPU has AVX512-BF16) or exact (fp32)

camera (at most one of these; default: the photo's own camera, a still head):
  --yaw D --pitch D --roll D
                       a fixed camera, D degrees from the photo's camera
                       (yaw: to the right of the face, pitch: up, roll: clockwise)
  --orbit              a slow free-view orbit (±20° yaw, ±5° pitch, 4 s period)
  --pose-track FILE    JSON pose track: {"fps": 25, "poses": [[16 numbers] |
                       {"yaw": D, "pitch": D, "roll": D}, ...]} or a bare array;
                       a track shorter than the speech holds its last pose

input and output:
  --aligned            the photo is already a square face crop aligned to the
                       model's template; without it the face is detected and
                       aligned first (face-api, 68 landmarks; docs/ALIGNMENT.md)
  --crop               output only the aligned face crop (the model's image size,
                       e.g. 256x256) instead of the whole photo with the face
                       pasted back (the default; --aligned input is already a crop)
  --frames N           render only the first N frames (the mp4 is cut to them)

  --quiet              no progress bar or summary
  --verbose            details, and stack traces on errors
  -h, --help           show this help

A progress bar (frames, frames/s, ETA) is shown when stdout is a terminal.
Exit status: 0 ok, 1 error, 2 usage error, 130 interrupted (the partial output
is removed). ffmpeg: env S3D_FFMPEG, else the npm package @ffmpeg-installer/ffmpeg,
else ffmpeg on PATH.
`;

interface RenderArgs {
  image: string;
  audio: string;
  out: string;
  model: string | undefined;
  backend: BackendChoice | undefined;
  threads: number | undefined;
  precision: Precision | undefined;
  angles: { yaw?: number; pitch?: number; roll?: number } | undefined;
  orbit: boolean;
  poseTrack: string | undefined;
  crop: boolean;
  frames: number | undefined;
  aligned: boolean;
  quiet: boolean;
  verbose: boolean;
}

function oneLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

/** `--yaw -20` -> `--yaw=-20` (parseArgs takes a dash-led value only in the = form). */
function joinNegativeValues(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i]!;
    const next = argv[i + 1];
    if (names.includes(a) && next !== undefined && /^-(\d|\.\d)/.test(next)) {
      out.push(`${a}=${next}`);
      ++i;
    } else out.push(a);
  }
  return out;
}

function parseRender(argv: string[]): RenderArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, ['--yaw', '--pitch', '--roll']),
      allowPositionals: false,
      options: {
        image: { type: 'string' },
        audio: { type: 'string' },
        out: { type: 'string', short: 'o' },
        model: { type: 'string' },
        backend: { type: 'string' },
        threads: { type: 'string' },
    precision: { type: 'string' },
        yaw: { type: 'string' },
        pitch: { type: 'string' },
        roll: { type: 'string' },
        orbit: { type: 'boolean', default: false },
        'pose-track': { type: 'string' },
        crop: { type: 'boolean', default: false },
        frames: { type: 'string' },
        aligned: { type: 'boolean', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        verbose: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(oneLine(err));
  }
  const v = parsed.values;
  if (v.help) return 'help';
  for (const k of ['image', 'audio', 'out'] as const) if (!v[k]) throw new UsageError(`missing --${k} (see ${NAME} render --help)`);
  const positiveInt = (name: 'threads' | 'frames'): number | undefined => {
    const s = v[name];
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!/^\s*\d+\s*$/.test(s) || !Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(s)}`);
    return n;
  };
  const degrees = (name: 'yaw' | 'pitch' | 'roll', limit: number): number | undefined => {
    const s = v[name];
    if (s === undefined) return undefined;
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n) || Math.abs(n) > limit)
      throw new UsageError(`--${name} must be a number of degrees in [-${limit}, ${limit}], got ${JSON.stringify(s)}`);
    return n;
  };
  const yaw = degrees('yaw', 180);
  const pitch = degrees('pitch', 89);
  const roll = degrees('roll', 180);
  const hasAngles = yaw !== undefined || pitch !== undefined || roll !== undefined;
  const modes = [hasAngles && '--yaw/--pitch/--roll', v.orbit && '--orbit', v['pose-track'] !== undefined && '--pose-track'].filter(Boolean);
  if (modes.length > 1) throw new UsageError(`${modes.join(' and ')} cannot be combined: choose one camera option`);
  const backend = v.backend;
  if (backend !== undefined && !['auto', 'cpu', 'cuda'].includes(backend))
    throw new UsageError(`--backend must be auto, cpu or cuda, got ${JSON.stringify(backend)}`);
  const precision = v.precision;
  if (precision !== undefined && !['fast', 'exact'].includes(precision))
    throw new UsageError(`--precision must be fast or exact, got ${JSON.stringify(precision)}`);
  const out = v.out!;
  if (videoKind(out) === undefined) throw new UsageError(`--out must end in .mp4, .y4m or / (a directory of PNG frames), got ${JSON.stringify(out)}`);
  const angles: RenderArgs['angles'] = {};
  if (yaw !== undefined) angles.yaw = yaw;
  if (pitch !== undefined) angles.pitch = pitch;
  if (roll !== undefined) angles.roll = roll;
  return {
    image: v.image!,
    audio: v.audio!,
    out,
    model: v.model,
    backend: backend as BackendChoice | undefined,
    precision: precision as Precision | undefined,
    threads: positiveInt('threads'),
    angles: hasAngles ? angles : undefined,
    orbit: v.orbit!,
    poseTrack: v['pose-track'],
    crop: v.crop!,
    frames: positiveInt('frames'),
    aligned: v.aligned!,
    quiet: v.quiet!,
    verbose: v.verbose!,
  };
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.max(0, Math.round(s));
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, '0')}`;
}

/** A one-line progress bar on a TTY: [#####.....] 42/105 frames  2.31 frames/s  ETA 0:27 */
export function progressLine(p: VideoProgress, width = 80): string {
  const stats = ` ${p.frame}/${p.total} frames  ${p.framesPerSecond.toFixed(2)} frames/s  ETA ${fmtTime(p.eta)}`;
  const barWidth = Math.max(10, Math.min(40, width - stats.length - 3));
  const filled = Math.round((barWidth * p.frame) / Math.max(1, p.total));
  return `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]${stats}`;
}

async function readable(flag: string, path: string): Promise<void> {
  try {
    await access(path, fsc.R_OK);
    if (!(await stat(path)).isFile()) throw new Error('not a file');
  } catch {
    throw new Error(`cannot read ${flag} ${path}`);
  }
}

async function render(args: RenderArgs, io: CliIo): Promise<void> {
  const signal = io.signal;
  const info = (line: string): void => {
    if (args.verbose) io.stderr.write(`${NAME}: ${line}\n`);
  };
  await readable('--image', args.image);
  await readable('--audio', args.audio);
  if (args.poseTrack !== undefined) await readable('--pose-track', args.poseTrack);
  const kind = videoKind(args.out);
  if (kind === 'mp4') {
    const ff = findFfmpeg();
    if (!ff) throw new Error(`cannot write ${args.out}: ${ffmpegMissingReason()}; or write .y4m or PNG frames (DIR/)`);
    info(`ffmpeg: ${ff.path} (${ff.source})`);
  }

  const session = await createSessionWith(
    { model: args.model, backend: args.backend, threads: args.threads, precision: args.precision, signal },
    { onCudaFallback: (reasons) => info(`CUDA not used (${reasons.join('; ')}); using the CPU`) },
  );
  try {
    info(`model ${session.modelPath} (${session.config.image_size}px), backend ${session.backend}, ${session.threads} threads, precision ${session.precision}`);
    const identity = await session.encodeIdentity(args.image, args.aligned ? { aligned: true, signal } : { signal });
    const audio = await session.prepareAudio(args.audio, { signal });
    const fps = session.config.audio.fps;
    const count = Math.min(audio.frameCount, args.frames ?? Infinity);
    info(`${audio.duration.toFixed(2)} s of speech -> ${count} of ${audio.frameCount} frames at ${fps} fps`);

    let poses: VideoPoses | undefined;
    if (args.angles) poses = offsetPose(identity.pose, args.angles, '--yaw/--pitch/--roll');
    else if (args.orbit) poses = orbitTrack(count, { base: identity.pose, fps });
    else if (args.poseTrack !== undefined) {
      const text = await readFile(args.poseTrack, 'utf8');
      let track;
      try {
        track = parsePoseTrack(text, { base: identity.pose });
      } catch (err) {
        throw new Error(`${args.poseTrack}: ${oneLine(err)}`, { cause: err });
      }
      poses = track;
      if (track.poses.length < count) info(`the pose track has ${track.poses.length} poses for ${count} frames: its last pose is held`);
    }

    const tty = Boolean(io.stdout.isTTY) && !args.quiet;
    let barOpen = false;
    const frames = renderVideo(session, identity, {
      audio,
      frames: count,
      crop: args.crop,
      ...(poses === undefined ? {} : { poses }),
      ...(signal ? { signal } : {}),
      onProgress: tty
        ? (p) => {
            io.stdout.write(`\r${progressLine(p, io.stdout.columns || 80)}`);
            barOpen = true;
          }
        : undefined,
    });
    const t0 = performance.now();
    try {
      const result = await writeVideo(frames, { out: args.out, audio: args.audio, fps, frameCount: count, ...(signal ? { signal } : {}) });
      if (barOpen) io.stdout.write('\n');
      barOpen = false;
      const seconds = (performance.now() - t0) / 1000;
      if (!args.quiet)
        io.stdout.write(
          `wrote ${args.out} (${result.frameCount} frame${result.frameCount === 1 ? '' : 's'}, ${result.width}x${result.height}, ` +
            `${fps} fps, ${result.duration.toFixed(2)} s) in ${seconds.toFixed(1)} s\n`,
        );
    } finally {
      if (barOpen) io.stdout.write('\n');
    }
  } finally {
    await session.dispose();
  }
}

/**
 * Runs the CLI with `argv` (without the node and script paths); resolves to
 * the exit status. Never throws.
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  let verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    const [command, ...rest] = argv;
    if (command === undefined) {
      io.stderr.write(MAIN_HELP);
      return 2;
    }
    if (command === '-h' || command === '--help' || command === 'help') {
      io.stdout.write(MAIN_HELP);
      return 0;
    }
    if (command === '-V' || command === '--version') {
      io.stdout.write(`${version()}\n`);
      return 0;
    }
    if (command === 'doctor') {
      const d = parseDoctor(rest, (msg) => new UsageError(msg));
      if (d === 'help') {
        io.stdout.write(DOCTOR_HELP);
        return 0;
      }
      const report = await doctorReport(d, { name: NAME, version: version() });
      io.stdout.write(d.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctor(report));
      return report.ok ? 0 : 1;
    }
    if (command === 'live') {
      const args = parseLive(rest, (msg) => new UsageError(msg));
      if (args === 'help') {
        io.stdout.write(LIVE_HELP);
        return 0;
      }
      verbose = args.verbose;
      await runLive(args, { stdin: io.stdin ?? process.stdin, stdout: io.stdout, stderr: io.stderr, ...(io.signal ? { signal: io.signal } : {}) });
      return 0;
    }
    if (command === 'serve') {
      const args = parseServe(rest, (msg) => new UsageError(msg));
      if (args === 'help') {
        io.stdout.write(SERVE_HELP);
        return 0;
      }
      verbose = args.verbose;
      await runServe(args, { stdout: io.stdout, stderr: io.stderr, ...(io.signal ? { signal: io.signal } : {}) });
      return 0;
    }
    if (command !== 'render') throw new UsageError(`unknown command ${JSON.stringify(command)} (commands: render, live, serve, doctor; see ${NAME} --help)`);
    const args = parseRender(rest);
    if (args === 'help') {
      io.stdout.write(RENDER_HELP);
      return 0;
    }
    verbose = args.verbose;
    await render(args, io);
    return 0;
  } catch (err) {
    if (io.signal?.aborted) {
      io.stderr.write(`${NAME}: interrupted\n`);
      return 130;
    }
    io.stderr.write(`${NAME}: error: ${oneLine(err)}\n`);
    if (verbose && err instanceof Error && err.stack) io.stderr.write(`${err.stack}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

/** Entry point of bin/s3d-nerf.js: process argv, signals, exit status. */
export async function run(): Promise<void> {
  const controller = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130); // second Ctrl-C: leave now
    interrupted = true;
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const argv = process.argv.slice(2);
  const code = await main(argv, { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
  // Ctrl-C is how `serve` is meant to stop: a clean shutdown exits with 0.
  process.exitCode = interrupted && !(argv[0] === 'serve' && code === 0) ? 130 : code;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}
