// `s3d-nerf live` (ts/cli/live.ts) as a child process with speech on stdin:
// y4m frames on stdout (4 s of speech -> 100 frames), raw PCM with --rate,
// .y4m and .mp4 files (audio muxed), --backpressure drop keeping one frame per
// 40 ms, malformed input (exit 1, one error line), usage errors (exit 2) and
// SIGINT (exit 130, no partial file). Uses the tiny fixture model.
// Run: node --test tests/live-cli.test.mjs
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import { findFfmpeg } from '../lib/index.js';
import { requireFixture, root, tinyModel } from './helpers/fixtures.mjs';

const bin = join(root, 'bin', 's3d-nerf.js');
const image = join(root, 'examples', 'astronaut.png');
const tiny = requireFixture(tinyModel);
const tmp = mkdtempSync(join(tmpdir(), 's3d-live-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const ffmpeg = findFfmpeg();
const ls = (dir) => (existsSync(dir) ? readdirSync(dir).sort() : []);
const FRAME_BYTES = 6 + 64 * 64 * 1.5; // "FRAME\n" + I420 of the tiny model's 64x64 crop

/** Runs the CLI with `input` on stdin; resolves { code, stdout (Buffer), stderr }. */
function live(args, input, { timeout = 120_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, 'live', ...args], { cwd: root });
    const out = [];
    let stderr = '';
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

const base = ['--image', image, '--aligned', '--model', tiny, '--threads', '1'];

/** 16-bit mono PCM of a speech-like signal (n samples at rate). */
function pcm16(n, rate) {
  const data = Buffer.alloc(2 * n);
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const v = (t % 0.7 < 0.5 ? 0.3 : 0.02) * Math.sin(2 * Math.PI * (150 + 50 * Math.sin(3 * t)) * t);
    data.writeInt16LE(Math.round(v * 32767), 2 * i);
  }
  return data;
}

function wav(data, rate, channels = 1) {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2 * channels, 28);
  h.writeUInt16LE(2 * channels, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

/** Parses a y4m stream: header line and frame count (every frame checked for its FRAME tag and size). */
function parseY4m(buf) {
  const nl = buf.indexOf(0x0a);
  assert.ok(nl > 0, 'no y4m header');
  const header = buf.subarray(0, nl).toString('latin1');
  let frames = 0;
  for (let o = nl + 1; o < buf.length; o += FRAME_BYTES) {
    assert.equal(buf.subarray(o, o + 6).toString('latin1'), 'FRAME\n', `frame ${frames}: no FRAME tag`);
    assert.ok(o + FRAME_BYTES <= buf.length, `frame ${frames} is cut short`);
    frames++;
  }
  return { header, frames };
}

/** One stderr line "s3d-nerf: error: ..." matching re, and exit `code`. */
function assertError(r, code, re) {
  assert.equal(r.code, code, `exit ${r.code}, expected ${code}; stderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `expected one stderr line, got: ${r.stderr}`);
  assert.match(lines[0], /^s3d-nerf: error: /);
  assert.match(lines[0], re);
}

test('4 s of WAV speech on stdin -> 100 y4m frames on stdout, summary on stderr', async () => {
  const r = await live(base, wav(pcm16(64000, 16000), 16000));
  assert.equal(r.code, 0, r.stderr);
  const y = parseY4m(r.stdout);
  assert.match(y.header, /^YUV4MPEG2 W64 H64 F25:1 /);
  assert.equal(y.frames, 100);
  assert.match(r.stderr, /^s3d-nerf: live: 100 frames, 64x64, 25 fps, 4\.00 s in [\d.]+ s; latency p50 \d+ ms, p95 \d+ ms, max \d+ ms; 0 dropped\n$/);
});

test('raw s16le at 44.1 kHz with --rate (stereo with --channels), --quiet: frame count as the audio gives', async () => {
  // 1.5 s at 44.1 kHz: ceil(ceil(1.5 * 16000) * 25 / 16000) = 38 frames.
  const mono = pcm16(66150, 44100);
  const r = await live([...base, '--format', 's16le', '--rate', '44100', '--quiet'], mono);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.equal(parseY4m(r.stdout).frames, 38);
  const stereo = Buffer.alloc(mono.length * 2);
  for (let i = 0; i < mono.length / 2; i++) {
    stereo.writeInt16LE(mono.readInt16LE(2 * i), 4 * i);
    stereo.writeInt16LE(0, 4 * i + 2);
  }
  const s = await live([...base, '--format', 's16le', '--rate', '44100', '--channels', '2', '--quiet'], stereo);
  assert.equal(s.code, 0, s.stderr);
  assert.equal(parseY4m(s.stdout).frames, 38);
});

test('--out FILE.y4m, and --backpressure drop keeps one frame per 40 ms of speech', async () => {
  const out = join(tmp, 'y4m', 'live.y4m');
  const r = await live([...base, '--out', out], wav(pcm16(32000, 16000), 16000));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /^wrote .*live\.y4m \(50 frames, 64x64, 25 fps, 2\.00 s in /);
  assert.equal(r.stderr, '');
  assert.equal(parseY4m(readFileSync(out)).frames, 50);
  assert.deepEqual(ls(join(tmp, 'y4m')), ['live.y4m']);
  // All the audio arrives at once: frames are dropped, their places filled with the previous frame.
  const d = await live([...base, '--backpressure', 'drop', '--max-buffered', '2'], wav(pcm16(32000, 16000), 16000));
  assert.equal(d.code, 0, d.stderr);
  assert.equal(parseY4m(d.stdout).frames, 50);
  const dropped = Number(/; (\d+) dropped/.exec(d.stderr)?.[1]);
  assert.ok(dropped > 0, `nothing dropped: ${d.stderr}`);
});

test('--out FILE.mp4: H.264 frames with the speech muxed as AAC', { skip: !ffmpeg && 'no ffmpeg' }, async () => {
  const dir = join(tmp, 'mp4');
  const out = join(dir, 'live.mp4');
  const r = await live([...base, '--out', out], wav(pcm16(48000, 16000), 16000));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout.toString(), /^wrote .*live\.mp4 \(75 frames, 64x64, 25 fps, 3\.00 s/);
  assert.deepEqual(ls(dir), ['live.mp4'], 'temporary files left behind');
  const probe = spawnSync(ffmpeg.path, ['-hide_banner', '-i', out, '-map', '0', '-f', 'null', '-'], { encoding: 'utf8' });
  assert.equal(probe.status, 0, probe.stderr);
  assert.match(probe.stderr, /Video: h264/);
  assert.match(probe.stderr, /Audio: aac.*48000 Hz/);
  const frames = [...probe.stderr.matchAll(/frame=\s*(\d+)/g)].map((m) => Number(m[1]));
  assert.equal(frames[frames.length - 1], 75);
  const duration = /Duration: 00:00:(\d+\.\d+)/.exec(probe.stderr)?.[1];
  assert.ok(Math.abs(Number(duration) - 3) <= 0.05, `duration ${duration}`);
});

test('malformed speech: exit 1 with one error line, no output file', async () => {
  const dir = join(tmp, 'bad');
  assertError(await live([...base, '--format', 's16le', '--rate', '16000', '--out', join(dir, 'x.y4m')], Buffer.alloc(3201)), 1,
    /Expected whole samples but the raw audio ended with 1 byte that is not a whole 2-byte s16le sample \(3201 bytes in all\)$/);
  assertError(await live(base, Buffer.from('ID3\x03 not a wav at all')), 1, /Expected a WAV stream \(RIFF\/WAVE\) for audio but received bytes starting with "ID3"/);
  assertError(await live(base, Buffer.alloc(0)), 1, /Expected a WAV stream .* but received no bytes/);
  const nan = Buffer.alloc(4000 * 4);
  nan.writeFloatLE(NaN, 4 * 1234);
  assertError(await live([...base, '--format', 'f32le', '--rate', '16000', '--out', join(dir, 'y.y4m')], nan), 1, /Expected finite audio samples but received NaN at index 1234/);
  assertError(await live(['--image', join(tmp, 'missing.png'), '--model', tiny], wav(pcm16(1600, 16000), 16000)), 1, /cannot read --image .*missing\.png/);
  assert.deepEqual(ls(dir), [], 'output left behind');
});

test('usage errors: exit 2, one line; live --help', async () => {
  const speech = wav(pcm16(1600, 16000), 16000);
  assertError(await live(['--model', tiny], speech), 2, /missing --image/);
  assertError(await live([...base, '--rate', '16000'], speech), 2, /--rate is only for raw PCM/);
  assertError(await live([...base, '--format', 's16le'], speech), 2, /--format s16le needs --rate N/);
  assertError(await live([...base, '--format', 'mp3'], speech), 2, /--format must be wav, f32le or s16le, got "mp3"/);
  assertError(await live([...base, '--format', 'f32le', '--rate', '4000'], speech), 2, /--rate must be an integer between 8000 and 192000, got "4000"/);
  assertError(await live([...base, '--out', 'x.avi'], speech), 2, /--out must be - \(stdout\), a \.y4m or a \.mp4 file/);
  assertError(await live([...base, '--backpressure', 'wait'], speech), 2, /--backpressure must be buffer or drop/);
  assertError(await live([...base, '--max-buffered', '0'], speech), 2, /--max-buffered must be an integer between 1 and 100000/);
  assertError(await live([...base, '--bogus'], speech), 2, /Unknown option '--bogus'/);
  const h = await live(['--help'], Buffer.alloc(0));
  assert.equal(h.code, 0);
  for (const flag of ['--image', '--out', '--format', '--rate', '--channels', '--model', '--backend', '--threads', '--precision', '--aligned', '--crop', '--backpressure', '--max-buffered', '--quiet', '--verbose'])
    assert.ok(h.stdout.toString().includes(flag), `live --help lacks ${flag}`);
  const main = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.match(main.stdout, /\n  live  /);
});

test('SIGINT while the speech is still coming: exit 130, the partial .y4m is removed', async () => {
  const dir = join(tmp, 'sigint');
  const out = join(dir, 'x.y4m');
  const child = spawn(process.execPath, [bin, 'live', ...base, '--out', out], { cwd: root });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  // The header and 1 s of speech; stdin stays open (more speech could come).
  const speech = wav(pcm16(16000 * 30, 16000), 16000);
  child.stdin.write(speech.subarray(0, 44 + 32000));
  const t0 = Date.now();
  while (!ls(dir).some((f) => f.includes('.tmp-')) && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 20));
  assert.ok(ls(dir).some((f) => f.includes('.tmp-')), `no temporary output appeared; stderr: ${stderr}`);
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, `exit ${code}; stderr: ${stderr}`);
  assert.match(stderr, /s3d-nerf: interrupted/);
  assert.deepEqual(ls(dir), [], 'output or temporary file left behind');
});
