#!/usr/bin/env node
// Renders a talking-head video from an aligned portrait and a WAV file.
//
//   node examples/render-video.mjs [--image examples/astronaut.png] [--audio examples/speech.wav]
//                                  [--out out/astronaut] [--frames N] [--threads N] [--model path]
//                                  [--orbit] [--no-mp4]
//
// Writes <out>.y4m (YUV4MPEG2, 4:2:0 JPEG siting, BT.601 full range, 25 fps;
// plays in ffplay/mpv/VLC) without any external tool, frame by frame, and, when
// ffmpeg is found (S3D_FFMPEG, the npm package @ffmpeg-installer/ffmpeg, or
// PATH), also <out>.mp4 (H.264 yuv420p + AAC of the speech), from the same
// frames. A thin wrapper over the library's renderVideo + openY4mWriter +
// openMp4Writer (the `s3d-nerf render` CLI does the same for one output).
// Files are written under temporary names and renamed when complete.
// Progress (frames/s, ETA) is shown on a TTY only. Exit status: 0 ok, 1 error,
// 2 bad arguments, 130 interrupted.
import { constants as fsc } from 'node:fs';
import { access } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = dirname(fileURLToPath(import.meta.url));
const NAME = 'render-video';
const FPS = 25;

class UsageError extends Error {}

function oneLine(err) {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s*\n\s*/g, ' ').trim();
}

function parse() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        image: { type: 'string', default: join(here, 'astronaut.png') },
        audio: { type: 'string', default: join(here, 'speech.wav') },
        out: { type: 'string', default: join('out', 'astronaut') },
        frames: { type: 'string' },
        threads: { type: 'string' },
        model: { type: 'string' },
        orbit: { type: 'boolean', default: false },
        'no-mp4': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError(oneLine(err));
  }
  const v = parsed.values;
  const positiveInt = (name) => {
    if (v[name] === undefined) return undefined;
    const n = Number(v[name]);
    if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(v[name])}`);
    return n;
  };
  let out = v.out;
  if (['.y4m', '.mp4'].includes(extname(out).toLowerCase())) out = out.slice(0, -4);
  if (!basename(out)) throw new UsageError(`--out must name a file (without extension), got ${JSON.stringify(v.out)}`);
  return {
    help: v.help,
    image: v.image,
    audio: v.audio,
    out,
    frames: positiveInt('frames'),
    threads: positiveInt('threads'),
    model: v.model,
    orbit: v.orbit,
    mp4: !v['no-mp4'],
  };
}

const USAGE =
  'usage: node examples/render-video.mjs [--image aligned-face.png] [--audio speech.wav] [--out out/astronaut] ' +
  '[--frames N] [--threads N] [--model path] [--orbit] [--no-mp4]';

// ---- progress ---------------------------------------------------------------

function fmtTime(s) {
  if (!Number.isFinite(s)) return '--:--';
  s = Math.max(0, Math.round(s));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

let lineOpen = false; // a progress line without its newline is on stderr

function progress(enabled) {
  const t0 = performance.now();
  return {
    update(done, total) {
      if (!enabled) return;
      const el = (performance.now() - t0) / 1000;
      const fps = done / el;
      const eta = (total - done) / fps;
      process.stderr.write(`\rframe ${done}/${total}  ${fps.toFixed(2)} frames/s  ETA ${fmtTime(eta)}  `);
      lineOpen = true;
    },
    end() {
      if (lineOpen) process.stderr.write('\n');
      lineOpen = false;
      return (performance.now() - t0) / 1000;
    },
  };
}

// ---- main -------------------------------------------------------------------

async function main(abort) {
  const opts = parse();
  if (opts.help) {
    console.log(USAGE);
    return;
  }
  // Fail fast, before loading the model, on unreadable inputs.
  for (const [flag, path] of [['--image', opts.image], ['--audio', opts.audio]]) {
    try {
      await access(path, fsc.R_OK);
    } catch {
      throw new Error(`cannot read ${flag} ${path}`);
    }
  }

  let api;
  try {
    api = await import('../lib/index.js');
  } catch (err) {
    throw new Error(`cannot load the s3d-nerf library (run \`npm run build\` first): ${oneLine(err)}`);
  }
  const { createSession, renderVideo, orbitTrack, openY4mWriter, openMp4Writer, findFfmpeg } = api;

  const tty = Boolean(process.stderr.isTTY);
  const y4mPath = `${opts.out}.y4m`;
  const mp4Path = `${opts.out}.mp4`;

  const session = await createSession({ model: opts.model, threads: opts.threads, signal: abort.signal });
  const sinks = [];
  try {
    const identity = await session.encodeIdentity(opts.image, { aligned: true, signal: abort.signal });
    const audio = await session.prepareAudio(opts.audio, { signal: abort.signal });
    const count = Math.min(audio.frameCount, opts.frames ?? Infinity);
    const size = identity.size;
    if (tty)
      console.error(
        `${NAME}: model ${session.config.name}, ${session.threads} threads; ` +
          `${audio.duration.toFixed(2)} s of audio -> ${count} frames of ${size}x${size} at ${FPS} fps`,
      );

    const ffmpeg = opts.mp4 ? findFfmpeg() : undefined;
    sinks.push(openY4mWriter({ out: y4mPath, fps: FPS }));
    if (ffmpeg) sinks.push(openMp4Writer({ out: mp4Path, audio: opts.audio, fps: FPS, frameCount: count }));
    else if (opts.mp4 && tty) console.error(`${NAME}: no ffmpeg found; skipping the .mp4 (the .y4m plays in ffplay, mpv, VLC)`);

    const bar = progress(tty);
    // --orbit: a slow free-view camera orbit (orbitTrack) to show the free-view rendering.
    const poses = opts.orbit ? orbitTrack(count, { base: identity.pose, fps: FPS }) : undefined;
    const frames = renderVideo(session, identity, { audio, frames: count, poses, signal: abort.signal, onProgress: (p) => bar.update(p.frame, p.total) });
    for await (const frame of frames) for (const sink of sinks) await sink.write(frame);
    const seconds = bar.end();
    const [y4m, mp4] = await Promise.all(sinks.map((s) => s.finish()));
    sinks.length = 0;
    console.log(`wrote ${y4mPath} (${count} frame${count === 1 ? '' : 's'}, ${size}x${size}, ${FPS} fps) in ${seconds.toFixed(1)} s ` +
      `(${(seconds / count).toFixed(2)} s/frame)`);
    if (mp4) console.log(`wrote ${mp4Path} (H.264 + AAC, ${mp4.duration.toFixed(2)} s)`);
    void y4m;
  } finally {
    await Promise.all(sinks.map((s) => s.abort())); // after a failure: removes the temporary files
    await session.dispose();
  }
}

const abort = new AbortController();
let interrupted = false;
const onSignal = () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  abort.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  await main(abort);
} catch (err) {
  if (lineOpen) process.stderr.write('\n');
  if (interrupted) {
    console.error(`${NAME}: interrupted`);
    process.exitCode = 130;
  } else if (err instanceof UsageError) {
    console.error(`${NAME}: ${err.message}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`${NAME}: error: ${oneLine(err)}`);
    process.exitCode = 1;
  }
}
