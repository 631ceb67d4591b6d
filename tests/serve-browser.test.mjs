// The page of `s3d-nerf serve` in a real browser: Debian's Chromium, headless,
// driven by playwright-core. The example photo + speech through the page's
// file inputs: preview frames arrive and are drawn on the canvas, the mp4 is
// downloaded through the page's link and checked with ffprobe (duration = the
// speech's within one frame, an audio stream); a photo without a face shows
// the one-line error; the microphone (Chromium's fake device) is recorded with
// MediaRecorder (WebM/Opus) and rendered. Uses the tiny fixture model.
// Skipped, with the reason, when Chromium (/usr/bin/chromium, or env
// S3D_CHROMIUM) or playwright-core is missing; CI installs both (.ci/run).
// Run: node --test tests/serve-browser.test.mjs
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';

import { findFfmpeg } from '../lib/index.js';
import { requireFixture, root, syntheticImage, tinyModel } from './helpers/fixtures.mjs';
import { ffprobe, hasFfprobe, startServe } from './helpers/serve.mjs';

const CHROMIUM = process.env.S3D_CHROMIUM || '/usr/bin/chromium';
const imagePath = join(root, 'examples', 'astronaut.png');
const speechPath = join(root, 'examples', 'speech.wav');
const tiny = requireFixture(tinyModel);

let playwright;
try {
  playwright = await import('playwright-core');
} catch {
  playwright = undefined;
}
const skipReason = !existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install chromium, or set S3D_CHROMIUM)`
  : !playwright
    ? 'playwright-core is not installed (npm ci installs the devDependencies)'
    : !findFfmpeg() || !hasFfprobe
      ? 'needs ffmpeg and ffprobe'
      : undefined;

/** Seconds of a canonical PCM WAV. */
function wavSeconds(buf) {
  const rate = buf.readUInt32LE(24);
  const block = buf.readUInt16LE(32);
  let pos = 12;
  while (pos + 8 <= buf.length) {
    const size = buf.readUInt32LE(pos + 4);
    if (buf.toString('latin1', pos, pos + 4) === 'data') return size / block / rate;
    pos += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}

let server;
let context;
let tmp;
const pageErrors = [];

before(async () => {
  if (skipReason) return;
  tmp = mkdtempSync(join(tmpdir(), 's3d-serve-browser-'));
  server = await startServe(['--model', tiny, '--threads', '1', '--backend', 'cpu']);
  const userDataDir = join(tmp, 'profile'); // a fresh profile
  context = await playwright.chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    permissions: ['microphone'],
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // The microphone test: a fake capture device (a beep), no permission prompt.
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    ],
  });
});

after(async () => {
  await context?.close().catch(() => {});
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function openPage() {
  const page = await context.newPage();
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(server.url);
  await page.waitForFunction(() => /Model 64px/.test(document.getElementById('server-info').textContent));
  return page;
}

async function choosePhoto(page, file) {
  await page.setInputFiles('#photo-input', file);
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.phase), null, { timeout: 60_000 });
}

/** Clicks the page's download link; returns ffprobe's streams of the saved mp4. */
async function downloadMp4(page, name) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  const out = join(tmp, name);
  await download.saveAs(out);
  const info = ffprobe(out);
  return {
    video: info.streams.find((s) => s.codec_type === 'video'),
    audio: info.streams.find((s) => s.codec_type === 'audio'),
  };
}

test('photo + WAV in the page: frames arrive and are drawn at 25 fps while it renders; the mp4 downloads with the speech', { timeout: 180_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const page = await openPage();
  await choosePhoto(page, imagePath);
  assert.equal(await page.evaluate(() => document.body.dataset.phase), 'ready', await page.textContent('#error'));
  assert.match(await page.textContent('#photo-status'), /^Face found \(256×256 photo\)/);

  await page.setInputFiles('#audio-input', speechPath);
  // Frames on the canvas while the render is still going.
  await page.waitForFunction(() => window.s3d.framesDrawn > 0, null, { timeout: 60_000 });
  const live = await page.evaluate(() => {
    const c = document.getElementById('canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let min = 255;
    let max = 0;
    for (let i = 0; i < d.length; i += 4) {
      min = Math.min(min, d[i + 1]);
      max = Math.max(max, d[i + 1]);
    }
    return { w: c.width, h: c.height, min, max, phase: document.body.dataset.phase, status: document.getElementById('status').textContent };
  });
  assert.equal(await page.isVisible('#canvas'), true);
  assert.equal(await page.isVisible('#download'), false, 'no download link before the end');
  t.diagnostic(`first frame drawn: ${JSON.stringify(live)}`);
  assert.deepEqual([live.w, live.h], [256, 256]);
  assert.ok(live.max - live.min > 50, 'the canvas shows a picture, not a flat colour');

  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.phase), null, { timeout: 120_000 });
  const st = await page.evaluate(() => ({ ...window.s3d, job: undefined, photoFile: undefined, status: document.getElementById('status').textContent, error: document.getElementById('error').textContent }));
  t.diagnostic(`end: ${st.status} (${st.framesReceived} frames received, ${st.framesDrawn} drawn)`);
  assert.equal(st.phase, 'done', st.error);
  const speechSeconds = wavSeconds(readFileSync(speechPath));
  const frames = Math.ceil(speechSeconds * 25);
  assert.match(st.status, new RegExp(`^Done: ${frames} frames \\(4\\.20 s\\) rendered in`));
  assert.ok(st.framesReceived > 0 && st.framesReceived <= frames);
  assert.equal(st.framesDrawn, st.framesReceived, 'every frame received was drawn');
  assert.equal(await page.isVisible('#download'), true);
  assert.equal(await page.isVisible('#video'), true);
  assert.equal(await page.isVisible('#canvas'), false, 'the finished video replaces the canvas');

  const { video, audio } = await downloadMp4(page, 'page.mp4');
  assert.ok(audio, 'an audio stream');
  assert.deepEqual([video.codec_name, video.width, video.height, Number(video.nb_frames)], ['h264', 256, 256, frames]);
  assert.ok(Math.abs(Number(video.duration) - speechSeconds) <= 1 / 25 + 1e-6, `video ${video.duration} s vs speech ${speechSeconds} s`);
  assert.ok(Math.abs(Number(audio.duration) - speechSeconds) <= 1 / 25 + 1e-6, `audio ${audio.duration} s vs speech ${speechSeconds} s`);
  await page.close();
  assert.deepEqual(pageErrors, []);
});

test('a photo without a face: the page shows NoFaceError\'s one line', { timeout: 60_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const page = await openPage();
  const { data, width, height } = syntheticImage(200);
  const png = await sharp(Buffer.from(data), { raw: { width, height, channels: 3 } }).png().toBuffer();
  await choosePhoto(page, { name: 'gradient.png', mimeType: 'image/png', buffer: png });
  assert.equal(await page.evaluate(() => document.body.dataset.phase), 'error');
  assert.equal(await page.isVisible('#error'), true);
  const line = await page.textContent('#error');
  assert.match(line, /^No face found in the photo \(200x200\): use a photo where the face is visible/);
  assert.ok(!line.includes('\n'));
  // Speech without a usable photo: told to choose one.
  await page.setInputFiles('#audio-input', speechPath);
  assert.match(await page.textContent('#error'), /^Choose a photo with a face first/);
  await page.close();
  assert.deepEqual(pageErrors, []);
});

test('the microphone: recorded with MediaRecorder (WebM/Opus), decoded by the server, rendered, mp4 with audio', { timeout: 120_000 }, async (t) => {
  if (skipReason) return t.skip(skipReason);
  const page = await openPage();
  await choosePhoto(page, imagePath);
  await page.click('#record');
  await page.waitForFunction(() => /^recording [1-9]/.test(document.getElementById('rec-time').textContent), null, { timeout: 20_000 });
  await page.waitForTimeout(500);
  await page.click('#stop');
  await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.phase), null, { timeout: 90_000 });
  const st = await page.evaluate(() => ({ phase: document.body.dataset.phase, status: document.getElementById('status').textContent, error: document.getElementById('error').textContent, drawn: window.s3d.framesDrawn, rec: document.getElementById('rec-time').textContent }));
  t.diagnostic(`${st.rec}; ${st.status}`);
  assert.equal(st.phase, 'done', st.error);
  assert.ok(st.drawn > 0);
  const { video, audio } = await downloadMp4(page, 'mic.mp4');
  assert.ok(audio, 'an audio stream');
  const frames = Number(video.nb_frames);
  assert.ok(frames >= 25, `${frames} frames for more than a second of recording`);
  assert.ok(Math.abs(Number(video.duration) - Number(audio.duration)) <= 1 / 25 + 0.03, `video ${video.duration} s vs audio ${audio.duration} s`);
  await page.close();
  assert.deepEqual(pageErrors, []);
});
