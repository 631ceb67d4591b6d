#!/usr/bin/env node
// Regenerates the example media shipped in examples/ from Debian packages
// (provenance and licences: examples/README.md):
//
//   examples/astronaut.png  NASA portrait of Eileen Collins (public domain), from
//                           python3-skimage, cropped around the face and resized
//                           to 256x256 (sharp, lanczos3)
//   examples/speech.wav     English speech synthesised by espeak-ng, resampled by
//                           sox to 16 kHz mono 16-bit PCM
//
//   sudo apt-get install -y python3-skimage espeak-ng sox
//   npm ci && node examples/make-media.mjs
//
// Output is deterministic for the same package versions (Debian 12:
// python3-skimage 0.19.3-8, espeak-ng 1.51+dfsg-10+deb12u2, sox 14.4.2+git20190427-3.5).
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const here = dirname(fileURLToPath(import.meta.url));

export const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
// Square crop of the 512x512 source around the face, chosen by eye so the face
// sits on the aligned template (ts/mask.ts TEMPLATE_ELLIPSE): eyes ~40% from the
// top, cheek to cheek ~53% of the width, chin ~85% down.
export const CROP = { left: 140, top: 34, width: 170, height: 170 };
export const SIZE = 256;
export const TEXT = 'Hello! I was animated by a speech-driven neural radiance field.';
export const VOICE = ['-v', 'en-us', '-s', '165'];

function fail(msg) {
  console.error(`make-media: ${msg}`);
  process.exit(1);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.error) fail(`cannot run ${cmd} (${r.error.code}); install it: sudo apt-get install -y espeak-ng sox`);
  if (r.status !== 0) fail(`${cmd} exited with status ${r.status}`);
}

// 1. Portrait.
if (!existsSync(ASTRONAUT)) fail(`${ASTRONAUT} not found; install it: sudo apt-get install -y python3-skimage`);
const png = join(here, 'astronaut.png');
await sharp(ASTRONAUT)
  .extract(CROP)
  .resize(SIZE, SIZE, { kernel: 'lanczos3' })
  .removeAlpha()
  .toColourspace('srgb')
  .png({ compressionLevel: 9 }) // no metadata (the source's ICC profile is sRGB)
  .toFile(png);
console.log(`wrote ${png} (${SIZE}x${SIZE}, crop ${JSON.stringify(CROP)} of ${ASTRONAUT})`);

// 2. Speech: espeak-ng writes 22050 Hz mono 16-bit; sox resamples to 16 kHz
// (-D: no dither, so the output is reproducible).
const raw = join(here, `.speech-22050-${process.pid}.wav`);
const wav = join(here, 'speech.wav');
try {
  run('espeak-ng', [...VOICE, '-w', raw, TEXT]);
  run('sox', ['-D', raw, '-r', '16000', '-c', '1', '-b', '16', '-e', 'signed-integer', wav]);
} finally {
  rmSync(raw, { force: true });
}
console.log(`wrote ${wav} (16 kHz mono 16-bit): "${TEXT}"`);
