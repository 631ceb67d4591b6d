// The s3d-nerf CLI (bin/s3d-nerf.js -> lib/cli/main.js) as a child process:
// help, version, usage errors (exit 2), runtime errors (exit 1, one line),
// real renders with the tiny fixture model (mp4 checked with ffprobe when
// available, y4m, PNG), and SIGINT (exit 130, no output, no temporary file).
// Run: npm test
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import sharp from 'sharp';

import { findFfmpeg, frontalPose } from '../lib/index.js';
import { requireFixture, root, tinyModel } from './helpers/fixtures.mjs';

const bin = join(root, 'bin', 's3d-nerf.js');
const image = join(root, 'examples', 'astronaut.png');
const speech = join(root, 'examples', 'speech.wav');
const tiny = requireFixture(tinyModel);
const tmp = mkdtempSync(join(tmpdir(), 's3d-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const hasFfprobe = spawnSync('ffprobe', ['-version'], { stdio: 'ignore' }).status === 0;
const noMp4 = !findFfmpeg() && 'no ffmpeg';
const ls = (dir) => (existsSync(dir) ? readdirSync(dir).sort() : []);

function cli(args, options = {}) {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: 120_000, ...options }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const render = (...extra) => ['render', '--image', image, '--audio', speech, '--model', tiny, ...extra];

/** Exit status `code` and exactly one stderr line "s3d-nerf: error: ..." matching re. */
function assertError(r, code, re) {
  assert.equal(r.code, code, `exit ${r.code}, expected ${code}; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one stderr line, got: ${r.stderr}`);
  assert.match(lines[0], /^s3d-nerf: error: /);
  assert.match(lines[0], re);
}

test('--help, render --help, --version', async () => {
  const h = await cli(['--help']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /^usage: s3d-nerf <command>/);
  assert.match(h.stdout, /render/);
  const rh = await cli(['render', '--help']);
  assert.equal(rh.code, 0);
  for (const flag of ['--image', '--audio', '--out', '--backend', '--threads', '--precision', '--model', '--yaw', '--pitch', '--roll', '--orbit', '--pose-track', '--crop', '--frames', '--aligned', '--quiet', '--verbose'])
    assert.ok(rh.stdout.includes(flag), `render --help lacks ${flag}`);
  assert.match(rh.stdout, /face\s+pasted back/);
  const v = await cli(['--version']);
  assert.equal(v.code, 0);
  assert.equal(v.stdout, `${pkg.version}\n`);
  assert.equal(pkg.bin['s3d-nerf'], 'bin/s3d-nerf.js');
});

test('usage errors: exit 2, one line', async () => {
  const none = await cli([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /^usage: s3d-nerf/);
  assertError(await cli(['paint']), 2, /unknown command "paint"/);
  assertError(await cli(['render', '--bogus']), 2, /Unknown option '--bogus'/);
  assertError(await cli(['render', '--audio', speech, '--out', 'x.mp4']), 2, /missing --image/);
  assertError(await cli(['render', '--image', image, '--audio', speech]), 2, /missing --out/);
  assertError(await cli(render('--out', join(tmp, 'x.avi'))), 2, /--out must end in \.mp4, \.y4m or \//);
  assertError(await cli(render('--out', 'x.mp4', '--threads', '0')), 2, /--threads must be a positive integer, got "0"/);
  assertError(await cli(render('--out', 'x.mp4', '--frames', '2.5')), 2, /--frames must be a positive integer/);
  assertError(await cli(render('--out', 'x.mp4', '--yaw', 'left')), 2, /--yaw must be a number of degrees/);
  assertError(await cli(render('--out', 'x.mp4', '--yaw', '10', '--orbit')), 2, /--yaw\/--pitch\/--roll and --orbit cannot be combined/);
  assertError(await cli(render('--out', 'x.mp4', '--backend', 'gpu')), 2, /--backend must be auto, cpu or cuda/);
  assertError(await cli(render('--out', 'x.mp4', '--precision', 'bf16')), 2, /--precision must be fast or exact/);
});

test('runtime errors: exit 1, one line (stack only with --verbose)', async () => {
  const dir = join(tmp, 'errors');
  assertError(await cli(['render', '--image', join(tmp, 'no-face.png'), '--audio', speech, '--out', join(dir, 'x.mp4')]), 1, /cannot read --image .*no-face\.png/);
  await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 200, g: 200, b: 200 } } }).png().toFile(join(tmp, 'blank.png'));
  assertError(await cli(['render', '--image', join(tmp, 'blank.png'), '--audio', speech, '--model', tiny, '--out', join(dir, 'x.y4m')]), 1,
    /No face found in .*blank\.png/);
  assertError(await cli(render('--out', join(dir, 'x.y4m'), '--aligned', '--backend', 'cuda')), 1, /CUDA backend is not available/);
  const track = join(tmp, 'bad-track.json');
  writeFileSync(track, JSON.stringify({ fps: 25, poses: [frontalPose(), frontalPose(), frontalPose(), frontalPose().slice(0, 15)] }));
  assertError(await cli(render('--out', join(dir, 'x.y4m'), '--aligned', '--pose-track', track)), 1,
    /bad-track\.json: Expected 16 finite numbers for poses\[3\] but received 15$/);
  const verbose = await cli(render('--out', join(dir, 'x.y4m'), '--aligned', '--backend', 'cuda', '--verbose'));
  assert.equal(verbose.code, 1);
  assert.match(verbose.stderr, /s3d-nerf: error: The CUDA backend/);
  assert.match(verbose.stderr, /\n\s+at /, 'a stack trace with --verbose');
  assert.deepEqual(ls(dir), [], 'no output on errors');
});

test('render --aligned --frames 3 to .mp4: h264 yuv420p 25 fps + aac, 3 frames long', { skip: noMp4 }, async (t) => {
  const dir = join(tmp, 'mp4');
  const out = join(dir, 'astronaut.mp4');
  const r = await cli(render('--aligned', '--frames', '3', '--out', out));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^wrote .*astronaut\.mp4 \(3 frames, 64x64, 25 fps, 0\.12 s\)/);
  assert.ok(!r.stdout.includes('\r'), 'no progress bar when stdout is not a TTY');
  assert.deepEqual(ls(dir), ['astronaut.mp4']);
  if (!hasFfprobe) return t.skip('no ffprobe: the mp4 streams and duration are not checked');
  const p = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', out], { encoding: 'utf8' });
  const info = JSON.parse(p.stdout);
  const v = info.streams.find((s) => s.codec_type === 'video');
  const a = info.streams.find((s) => s.codec_type === 'audio');
  console.log(`# ffprobe: ${info.format.duration} s; ${v.codec_name} ${v.pix_fmt} ${v.r_frame_rate} ${v.nb_frames} frames; ${a.codec_name} ${a.sample_rate} Hz ${a.duration} s`);
  assert.equal(v.codec_name, 'h264');
  assert.equal(v.pix_fmt, 'yuv420p');
  assert.equal(v.r_frame_rate, '25/1');
  assert.equal(Number(v.nb_frames), 3);
  assert.equal(a.codec_name, 'aac');
  assert.ok(Math.abs(Number(info.format.duration) - 0.12) <= 0.04 + 1e-6, `duration ${info.format.duration}`);
});

test('render to .y4m (quiet) and to DIR/ (PNG), with camera options', async () => {
  const dir = join(tmp, 'y4m');
  const r = await cli(render('--aligned', '--frames', '2', '--quiet', '--yaw', '-10', '--pitch', '5', '--out', join(dir, 'x.y4m')));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '');
  const y4m = readFileSync(join(dir, 'x.y4m'));
  assert.equal(y4m.length, y4m.indexOf(0x0a) + 1 + 2 * (6 + 64 * 64 * 1.5));
  const track = join(tmp, 'track.json');
  writeFileSync(track, JSON.stringify([{ yaw: 5 }, frontalPose()]));
  const png = await cli(render('--aligned', '--frames', '3', '--pose-track', track, '--out', join(tmp, 'png') + '/'));
  assert.equal(png.code, 0, png.stderr);
  assert.deepEqual(ls(join(tmp, 'png')), ['frame-00000.png', 'frame-00001.png', 'frame-00002.png']);
  const orbit = await cli(render('--aligned', '--frames', '2', '--orbit', '--crop', '--out', join(dir, 'o.y4m')));
  assert.equal(orbit.code, 0, orbit.stderr);
});

test('SIGINT while rendering: exit 130, no output, no temporary file', async () => {
  // 60 s of speech (1500 frames with the tiny model): long enough to interrupt.
  const long = join(tmp, 'long.wav');
  const n = 16000 * 60;
  const wav = Buffer.alloc(44 + 2 * n);
  wav.write('RIFF', 0, 'latin1'); wav.writeUInt32LE(36 + 2 * n, 4); wav.write('WAVEfmt ', 8, 'latin1');
  wav.writeUInt32LE(16, 16); wav.writeUInt16LE(1, 20); wav.writeUInt16LE(1, 22); wav.writeUInt32LE(16000, 24);
  wav.writeUInt32LE(32000, 28); wav.writeUInt16LE(2, 32); wav.writeUInt16LE(16, 34); wav.write('data', 36, 'latin1'); wav.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) wav.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / 16000)), 44 + 2 * i);
  writeFileSync(long, wav);
  const dir = join(tmp, 'sigint');
  const out = join(dir, noMp4 ? 'x.y4m' : 'x.mp4');
  const child = spawn(process.execPath, [bin, 'render', '--image', image, '--audio', long, '--model', tiny, '--aligned', '--threads', '1', '--out', out], { cwd: root });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  // Wait until the temporary output exists (rendering has started), then interrupt.
  const t0 = Date.now();
  while (!ls(dir).some((f) => f.includes('.tmp-')) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ls(dir).some((f) => f.includes('.tmp-')), `no temporary output appeared; stderr: ${stderr}`);
  child.kill('SIGINT');
  const { code } = await exited;
  assert.equal(code, 130, `exit ${code}; stderr: ${stderr}`);
  assert.match(stderr, /s3d-nerf: interrupted/);
  assert.deepEqual(ls(dir), [], 'output or temporary file left behind');
});

test('a photo without --aligned: the face is aligned and pasted back at the photo size; --crop gives the crop', async () => {
  // the example portrait placed off-centre in a larger, odd-sized canvas
  const photo = join(tmp, 'in-canvas.png');
  await sharp({ create: { width: 481, height: 360, channels: 3, background: { r: 90, g: 120, b: 150 } } })
    .composite([{ input: image, left: 170, top: 60 }])
    .png()
    .toFile(photo);
  const header = (file) => readFileSync(file).subarray(0, 64).toString('latin1').split('\n')[0];
  const full = join(tmp, 'photo', 'full.y4m');
  const r1 = await cli(['render', '--image', photo, '--audio', speech, '--model', tiny, '--frames', '2', '--quiet', '--out', full]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(header(full), /^YUV4MPEG2 W480 H360 /, 'photo size, trimmed to even width');
  const crop = join(tmp, 'photo', 'crop.y4m');
  const r2 = await cli(['render', '--image', photo, '--audio', speech, '--model', tiny, '--frames', '2', '--quiet', '--crop', '--out', crop]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(header(crop), /^YUV4MPEG2 W64 H64 /, 'the tiny model renders 64x64 crops');
});
