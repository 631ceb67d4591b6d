#!/usr/bin/env node
// Renders a talking-head video from an aligned portrait and a WAV file.
//
//   node examples/render-video.mjs [--image examples/astronaut.png] [--audio examples/speech.wav]
//                                  [--out out/astronaut] [--frames N] [--threads N] [--model path]
//                                  [--orbit] [--no-mp4]
//
// Writes <out>.y4m (YUV4MPEG2, 4:2:0 JPEG siting, BT.601 full range, 25 fps;
// plays in ffplay/mpv/VLC) without any external tool, frame by frame, and, when
// `ffmpeg` is on PATH, also <out>.mp4 (H.264 yuv420p + AAC of the speech).
// Files are written under temporary names and renamed when complete.
// Progress (frames/s, ETA) is shown on a TTY only. Exit status: 0 ok, 1 error,
// 2 bad arguments, 130 interrupted.
import { spawn, spawnSync } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { access, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
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

// ---- Y4M (YUV4MPEG2) writer -------------------------------------------------

/** Y4M stream header: 4:2:0 with JPEG (centred) chroma siting, full range. */
export function y4mHeader(width, height, fps = FPS) {
  return `YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=FULL\n`;
}

/**
 * Interleaved RGB (uint8) -> planar Y, Cb, Cr 4:2:0 (BT.601 full range, as
 * JPEG/JFIF), chroma = mean of each 2x2 block (edge pixels repeated for odd sizes).
 */
export function rgbToI420(rgb, width, height, out) {
  const cw = (width + 1) >> 1;
  const ch = (height + 1) >> 1;
  const size = width * height + 2 * cw * ch;
  const buf = out ?? new Uint8Array(size);
  const yp = buf.subarray(0, width * height);
  const up = buf.subarray(width * height, width * height + cw * ch);
  const vp = buf.subarray(width * height + cw * ch, size);
  const clamp = (x) => (x <= 0 ? 0 : x >= 255 ? 255 : Math.round(x));
  for (let i = 0, n = width * height; i < n; ++i) {
    const r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
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
          r += rgb[p]; g += rgb[p + 1]; b += rgb[p + 2];
        }
      r /= 4; g /= 4; b /= 4;
      up[cy * cw + cx] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b);
      vp[cy * cw + cx] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b);
    }
  return buf;
}

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

// ---- mp4 via ffmpeg (optional) ---------------------------------------------

function haveFfmpeg() {
  const r = spawnSync('ffmpeg', ['-version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function runFfmpeg(args, signal) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'], signal });
    let err = '';
    child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code, sig) => {
      if (code === 0) resolvePromise();
      else {
        const last = err.trim().split('\n').pop() || `status ${code ?? sig}`;
        reject(new Error(`ffmpeg failed: ${last}`));
      }
    });
  });
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
  const { createSession, poseFromAngles } = api;

  const tty = Boolean(process.stderr.isTTY);
  const y4mPath = `${opts.out}.y4m`;
  const mp4Path = `${opts.out}.mp4`;
  const tmpY4m = join(dirname(y4mPath), `.${basename(y4mPath)}.tmp-${process.pid}`);
  const tmpMp4 = join(dirname(mp4Path), `.${basename(opts.out)}.tmp-${process.pid}.mp4`);

  const session = await createSession({ model: opts.model, threads: opts.threads, signal: abort.signal });
  let fh;
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

    await mkdir(dirname(resolve(y4mPath)), { recursive: true });
    fh = await open(tmpY4m, 'w');
    await fh.write(y4mHeader(size, size));
    const yuv = new Uint8Array(size * size + 2 * ((size + 1) >> 1) ** 2);
    const frameTag = Buffer.from('FRAME\n');
    const bar = progress(tty);
    for (let i = 0; i < count; ++i) {
      // --orbit: a slow left-right camera sweep to show the free-view rendering.
      const pose = opts.orbit ? poseFromAngles({ yaw: 20 * Math.sin((2 * Math.PI * i) / 100) }) : undefined;
      const frame = await session.renderFrame(identity, { audio, frame: i, pose, signal: abort.signal });
      rgbToI420(frame.data, frame.width, frame.height, yuv);
      await fh.write(frameTag);
      await fh.write(yuv);
      bar.update(i + 1, count);
    }
    const seconds = bar.end();
    await fh.close();
    fh = undefined;
    await rename(tmpY4m, y4mPath);
    console.log(`wrote ${y4mPath} (${count} frame${count === 1 ? '' : 's'}, ${size}x${size}, ${FPS} fps) in ${seconds.toFixed(1)} s ` +
      `(${(seconds / count).toFixed(2)} s/frame)`);

    if (opts.mp4 && haveFfmpeg()) {
      try {
        await runFfmpeg(
          ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
            '-i', y4mPath, '-i', opts.audio,
            '-map', '0:v:0', '-map', '1:a:0',
            // full-range 4:2:0 in, standard limited-range yuv420p H.264 out
            '-vf', 'scale=in_range=full:out_range=limited,format=yuv420p', '-color_range', 'tv',
            '-c:v', 'libx264', '-preset', 'medium', '-crf', '18',
            '-c:a', 'aac', '-b:a', '128k',
            '-shortest', '-movflags', '+faststart', tmpMp4],
          abort.signal,
        );
        await rename(tmpMp4, mp4Path);
      } finally {
        await rm(tmpMp4, { force: true });
      }
      console.log(`wrote ${mp4Path} (H.264 + AAC)`);
    } else if (opts.mp4 && tty) {
      console.error(`${NAME}: ffmpeg not found on PATH; skipped the .mp4 (the .y4m plays in ffplay, mpv, VLC)`);
    }
  } finally {
    if (fh) await fh.close().catch(() => {});
    await rm(tmpY4m, { force: true });
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
