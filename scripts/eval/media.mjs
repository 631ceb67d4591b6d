// ffmpeg for `npm run eval`: the source photo (frame 0), the clip's speech as
// 16 kHz mono WAV, any audio as 16 kHz mono float32, and a video's frames as
// 8-bit RGB at 25 fps. ffmpeg is found the way the package finds it
// (S3D_FFMPEG, @ffmpeg-installer/ffmpeg, PATH).
import { spawn } from 'node:child_process';
import { findFfmpeg } from '../../lib/index.js';
import { ffmpegMissingReason, lastLine } from '../../lib/audio/ffmpeg.js';
import { decodePhoto } from '../../lib/image.js';
import { FPS, SAMPLE_RATE } from './metrics.mjs';

/** The ffmpeg binary, or a clear error saying how to provide one. */
export function ffmpegPath() {
  const found = findFfmpeg();
  if (!found) throw new Error(`ffmpeg is needed to extract frames and audio: ${ffmpegMissingReason()}`);
  return found.path;
}

/** Runs ffmpeg to completion; resolves with stdout (a Buffer), rejects with its last stderr line. */
function ffmpeg(args, what) {
  return new Promise((resolve, reject) => {
    const proc = spawn(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'error', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    proc.stdout.on('data', (d) => out.push(d));
    proc.stderr.on('data', (d) => (err += d));
    proc.on('error', (e) => reject(new Error(`Cannot run ffmpeg for ${what}: ${e.message}`)));
    proc.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`ffmpeg failed on ${what}: ${lastLine(err) || `exit code ${code}`}`));
    });
  });
}

/** Frame 0 of `video` as a PNG file (lossless: it is the source photo). */
export async function extractFirstFrame(video, pngPath) {
  await ffmpeg(['-y', '-i', video, '-frames:v', '1', '-an', pngPath], `frame 0 of ${video}`);
}

/** The audio of `video` as 16 kHz mono 16-bit WAV (what the render is driven by). */
export async function extractSpeechWav(video, wavPath) {
  await ffmpeg(['-y', '-i', video, '-vn', '-ac', '1', '-ar', String(SAMPLE_RATE), '-c:a', 'pcm_s16le', wavPath], `the audio of ${video} (does it have an audio track?)`);
}

/** Any audio file as 16 kHz mono float32 samples. */
export async function decodeSpeech(file) {
  const buf = await ffmpeg(['-i', file, '-vn', '-ac', '1', '-ar', String(SAMPLE_RATE), '-f', 'f32le', '-'], `the audio of ${file}`);
  return new Float32Array(buf.buffer, buf.byteOffset, Math.floor(buf.length / 4)).slice();
}

/** Width and height of `video`'s frames as ffmpeg decodes them (rotation applied). */
async function videoSize(video) {
  const png = await ffmpeg(['-i', video, '-frames:v', '1', '-an', '-f', 'image2pipe', '-c:v', 'png', '-'], `frame 0 of ${video}`);
  if (png.length === 0) throw new Error(`No video frame in ${video}`);
  const { width, height } = await decodePhoto(png);
  return { width, height };
}

/**
 * The frames of `video` at 25 fps (frame t shows time t/25, the timing of the
 * speech envelope) as { data, width, height } 8-bit RGB, at most `maxFrames`.
 * Decoding waits while the consumer is busy (the pipe applies back-pressure).
 */
export async function* videoFrames(video, maxFrames = Infinity) {
  const { width, height } = await videoSize(video);
  const frameBytes = width * height * 3;
  const limit = Number.isFinite(maxFrames) ? ['-frames:v', String(maxFrames)] : [];
  const args = ['-hide_banner', '-nostdin', '-v', 'error', '-i', video, '-an', '-vf', `fps=${FPS}`, ...limit, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'];
  const proc = spawn(ffmpegPath(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  const exited = new Promise((resolve, reject) => {
    proc.on('error', (e) => reject(new Error(`Cannot run ffmpeg to decode ${video}: ${e.message}`)));
    proc.on('close', (code) => resolve(code));
  });
  let pending = Buffer.alloc(0);
  try {
    for await (const chunk of proc.stdout) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= frameBytes) {
        yield { data: new Uint8Array(pending.subarray(0, frameBytes)), width, height };
        pending = pending.subarray(frameBytes);
      }
    }
    const code = await exited;
    if (code !== 0) throw new Error(`ffmpeg failed decoding ${video}: ${lastLine(err) || `exit code ${code}`}`);
  } finally {
    if (proc.exitCode === null) proc.kill();
  }
}
