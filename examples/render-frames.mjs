#!/usr/bin/env node
// Renders PNG frames of a talking head from an aligned portrait and a WAV file.
//
//   node examples/render-frames.mjs <aligned-face.png> <speech.wav> [out-dir] [--frames N] [--model path]
//
// The portrait must already be a square face crop aligned to the model's
// template (for any photo use `s3d-nerf render --image photo.jpg ... --out dir/`,
// which detects, aligns and pastes back; docs/ALIGNMENT.md). Frames are
// written as out-dir/frame-00000.png ... at 25 fps; turn them into a video with
//   ffmpeg -framerate 25 -i out/frame-%05d.png -i speech.wav -shortest out.mp4
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createSession, poseFromAngles } from '../lib/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    frames: { type: 'string' },
    model: { type: 'string' },
    threads: { type: 'string' },
    orbit: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const [image, wav, outDir = 'out'] = positionals;
const USAGE = 'usage: node examples/render-frames.mjs <aligned-face.png> <speech.wav> [out-dir] [--frames N] [--threads N] [--model path] [--orbit]';
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!image || !wav) {
  console.error(USAGE);
  process.exit(2);
}

const session = await createSession({
  model: values.model,
  threads: values.threads ? Number(values.threads) : undefined,
});
console.log(`model ${session.config.name} (${session.config.image_size}px), ${session.threads} threads, backend ${session.backend}`);
try {
  const identity = await session.encodeIdentity(image, { aligned: true });
  const audio = await session.prepareAudio(wav);
  const count = Math.min(audio.frameCount, values.frames ? Number(values.frames) : Infinity);
  console.log(`${audio.duration.toFixed(2)} s of audio -> rendering ${count} of ${audio.frameCount} frames`);
  await mkdir(outDir, { recursive: true });
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    // --orbit: a slow left-right camera sweep to show the free-view rendering.
    const pose = values.orbit ? poseFromAngles({ yaw: 20 * Math.sin((2 * Math.PI * i) / 100) }) : undefined;
    const frame = await session.renderFrame(identity, { audio, frame: i, pose });
    const file = join(outDir, `frame-${String(i).padStart(5, '0')}.png`);
    await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).png().toFile(file);
    if (i % 25 === 0 || i === count - 1) console.log(`frame ${i + 1}/${count} (${((performance.now() - t0) / (i + 1)).toFixed(0)} ms/frame)`);
  }
  console.log(`wrote ${count} frames to ${outDir}/`);
} finally {
  await session.dispose();
}
