// Video output (ts/video/): renderVideo's lazy frames and poses, the mp4
// (ffmpeg), y4m and PNG writers, durations (ffprobe when available), and
// atomic output: aborted and failing runs leave no partial or temporary file.
// Uses the tiny fixture model (64x64 frames, a few ms each). Run: npm test
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  createSession, renderVideo, writeMp4, writeY4m, writePngSequence, writeVideo, openY4mWriter,
  offsetPose, findFfmpeg, AbortError, InvalidArgumentError, InputAudioError, BackendUnavailableError,
} from '../lib/index.js';
import { requireFixture, root, tinyModel } from './helpers/fixtures.mjs';

const image = join(root, 'examples', 'astronaut.png');
const speech = join(root, 'examples', 'speech.wav');
const FRAME = 1 / 25;
const tmp = mkdtempSync(join(tmpdir(), 's3d-video-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const hasFfprobe = spawnSync('ffprobe', ['-version'], { stdio: 'ignore' }).status === 0;
const ffmpeg = findFfmpeg();
const noMp4 = !ffmpeg && 'no ffmpeg';

function probe(path) {
  const r = spawnSync('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ffprobe ${path}: ${r.stderr}`);
  const info = JSON.parse(r.stdout);
  const s = info.streams.map((x) => `${x.codec_type}:${x.codec_name}${x.pix_fmt ? '/' + x.pix_fmt : ''} ` +
    `${x.codec_type === 'video' ? x.r_frame_rate + ' fps' : x.sample_rate + ' Hz'} ${x.duration} s (${x.nb_frames} frames)`).join(', ');
  console.log(`# ffprobe ${path.slice(tmp.length + 1)}: format ${info.format.format_name} ${info.format.duration} s; ${s}`);
  return info;
}

/** Checks the mp4's streams with ffprobe; without ffprobe, marks test `t` skipped with the reason. */
function checkMp4(t, path, seconds, frames) {
  if (!hasFfprobe) return t.skip('no ffprobe: the mp4 streams and duration are not checked');
  const info = probe(path);
  const v = info.streams.find((s) => s.codec_type === 'video');
  const a = info.streams.find((s) => s.codec_type === 'audio');
  assert.equal(v?.codec_name, 'h264');
  assert.equal(v.pix_fmt, 'yuv420p');
  assert.equal(v.r_frame_rate, '25/1');
  if (frames !== undefined) assert.equal(Number(v.nb_frames), frames, 'video frame count');
  assert.equal(a?.codec_name, 'aac');
  const d = Number(info.format.duration);
  assert.ok(Math.abs(d - seconds) <= FRAME + 1e-6, `mp4 duration ${d} s, expected ${seconds} ± ${FRAME}`);
  assert.ok(Math.abs(Number(a.duration) - seconds) <= FRAME + 1e-6, `audio stream ${a.duration} s`);
}

/** Files in dir (hidden temporaries included). */
const ls = (dir) => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe('renderVideo and the writers', () => {
  let session, identity, audio;
  before(async () => {
    session = await createSession({ model: requireFixture(tinyModel), threads: 2 });
    identity = await session.encodeIdentity(image, { aligned: true });
    audio = await session.prepareAudio(speech);
  });
  after(() => session?.dispose());

  test('frames are rendered lazily, in order, with progress', async () => {
    const progress = [];
    const frames = renderVideo(session, identity, { audio, frames: 4, onProgress: (p) => progress.push(p) });
    assert.equal(frames.frameCount, 4);
    assert.equal(frames.fps, 25);
    assert.equal(frames.width, 64);
    assert.equal(frames.duration, 0.16);
    assert.equal(progress.length, 0, 'nothing rendered before iterating');
    const seen = [];
    for await (const f of frames) {
      seen.push(f.index);
      assert.equal(progress.length, f.index + 1, 'one frame at a time');
      assert.equal(f.data.length, 64 * 64 * 3);
      assert.ok(f.data instanceof Uint8Array);
    }
    assert.deepEqual(seen, [0, 1, 2, 3]);
    assert.deepEqual(progress.map((p) => p.frame), [1, 2, 3, 4]);
    assert.ok(progress.every((p) => p.total === 4 && p.framesPerSecond > 0 && p.eta >= 0));
    assert.equal(progress[3].eta, 0);
    const all = renderVideo(session, identity, { audio });
    assert.equal(all.frameCount, audio.frameCount);
  });

  test('poses: a short list holds its last pose; tracks are resampled by fps; functions', async () => {
    const p1 = offsetPose(identity.pose, { yaw: 15 });
    const p2 = offsetPose(identity.pose, { yaw: -15 });
    const want = async (i, pose) => (await session.renderFrame(identity, { audio, frame: i, pose })).data;
    const got = [];
    for await (const f of renderVideo(session, identity, { audio, frames: 4, poses: [p1, p2] })) got.push(f.data);
    assert.deepEqual(got[0], await want(0, p1));
    assert.deepEqual(got[1], await want(1, p2));
    assert.deepEqual(got[3], await want(3, p2), 'last pose held');
    // a 12.5 fps track: each pose covers two video frames
    const half = [];
    for await (const f of renderVideo(session, identity, { audio, frames: 3, poses: { fps: 12.5, poses: [p1, p2] } })) half.push(f.data);
    assert.deepEqual(half[1], await want(1, p1));
    assert.deepEqual(half[2], await want(2, p2));
    const fn = [];
    for await (const f of renderVideo(session, identity, { audio, frames: 2, poses: (i) => (i === 0 ? undefined : p1) })) fn.push(f.data);
    assert.deepEqual(fn[0], await want(0, identity.pose));
    assert.deepEqual(fn[1], await want(1, p1));
    assert.throws(() => renderVideo(session, identity, { audio, poses: [] }), /at least one pose/);
    assert.throws(() => renderVideo(session, identity, { audio, poses: [p1, [1, 2]] }), /for poses\[1\] but received 2 values/);
    assert.throws(() => renderVideo(session, identity, { audio, frames: 0 }), InvalidArgumentError);
    assert.throws(() => renderVideo(session, identity, { audio: 'speech.wav' }), /AudioTrack/);
  });

  test('mp4 of the first 3 frames: h264 yuv420p 25 fps + aac, as long as the frames', { skip: noMp4 }, async (t) => {
    const out = join(tmp, 'three', 'x.mp4');
    const r = await writeMp4(renderVideo(session, identity, { audio, frames: 3 }), { out, audio: speech });
    assert.deepEqual(r, { path: out, frameCount: 3, width: 64, height: 64, fps: 25, duration: 0.12 });
    assert.deepEqual(ls(join(tmp, 'three')), ['x.mp4']);
    checkMp4(t, out, 0.12, 3);
  });

  test('full-length mp4: duration = audio duration ± 1 frame', { skip: noMp4 }, async (t) => {
    const out = join(tmp, 'full', 'x.mp4');
    const r = await writeMp4(renderVideo(session, identity, { audio }), { out, audio: speech });
    assert.equal(r.frameCount, audio.frameCount);
    assert.ok(Math.abs(r.duration - audio.duration) <= FRAME);
    checkMp4(t, out, audio.duration, audio.frameCount);
    assert.deepEqual(ls(join(tmp, 'full')), ['x.mp4']);
  });

  test('mp4 from float samples (a temporary WAV, removed afterwards) and silent mp4', { skip: noMp4 }, async (t) => {
    const dir = join(tmp, 'samples');
    const samples = new Float32Array(8000).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 440 * i) / 16000));
    await writeMp4(renderVideo(session, identity, { audio, frames: 5 }), { out: join(dir, 'a.mp4'), audio: { samples, sampleRate: 16000 } });
    await writeMp4(renderVideo(session, identity, { audio, frames: 2 }), { out: join(dir, 'silent.mp4') });
    assert.deepEqual(ls(dir), ['a.mp4', 'silent.mp4']);
    checkMp4(t, join(dir, 'a.mp4'), 0.2, 5);
    if (hasFfprobe) assert.equal(probe(join(dir, 'silent.mp4')).streams.length, 1); // else skipped by checkMp4
  });

  test('y4m: header and frame records; PNG sequence', async () => {
    const out = join(tmp, 'y4m', 'x.y4m');
    await writeY4m(renderVideo(session, identity, { audio, frames: 2 }), { out });
    const y4m = readFileSync(out);
    const nl = y4m.indexOf(0x0a);
    assert.equal(y4m.subarray(0, nl).toString('latin1'), 'YUV4MPEG2 W64 H64 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG XCOLORRANGE=FULL');
    assert.equal(y4m.length, nl + 1 + 2 * (6 + 64 * 64 * 3 / 2));
    assert.deepEqual(ls(join(tmp, 'y4m')), ['x.y4m']);

    const dir = join(tmp, 'png', 'frames');
    const r = await writePngSequence(renderVideo(session, identity, { audio, frames: 3 }), { dir });
    assert.equal(r.path, dir);
    assert.deepEqual(ls(dir), ['frame-00000.png', 'frame-00001.png', 'frame-00002.png']);
    assert.deepEqual(ls(join(tmp, 'png')), ['frames']);
    // writeVideo picks the writer from the path
    const r2 = await writeVideo(renderVideo(session, identity, { audio, frames: 1 }), { out: join(tmp, 'png', 'v.y4m') });
    assert.equal(r2.frameCount, 1);
    await assert.rejects(writeVideo([], { out: join(tmp, 'x.avi') }), /\.mp4, \.y4m or \//);
  });

  // Aborted after the first frame: AbortError, and nothing is left in the directory.
  for (const kind of ['mp4', 'y4m', 'png']) {
    test(`abort after one frame leaves nothing (${kind})`, { skip: kind === 'mp4' && noMp4 }, async () => {
      const dir = join(tmp, `abort-${kind}`);
      const ac = new AbortController();
      const frames = renderVideo(session, identity, { audio, signal: ac.signal, onProgress: (p) => p.frame === 1 && ac.abort() });
      const out = kind === 'png' ? join(dir, 'frames/') : join(dir, `x.${kind}`);
      let rendered = 0;
      const counted = { async *[Symbol.asyncIterator]() { for await (const f of frames) { rendered++; yield f; } } };
      await assert.rejects(writeVideo(counted, { out, audio: speech, frameCount: frames.frameCount, signal: ac.signal }), AbortError);
      assert.ok(rendered <= 1, `${rendered} frames rendered after the abort`);
      assert.deepEqual(ls(dir), [], `left behind: ${ls(dir)}`);
    });
  }

  test('a failing run leaves no partial or temporary file', async () => {
    const dir = join(tmp, 'fail');
    mkdirSync(dir, { recursive: true });
    async function* failing() {
      let n = 0;
      for await (const f of renderVideo(session, identity, { audio, frames: 5 })) {
        if (n++ === 2) throw new Error('boom');
        yield f;
      }
    }
    await assert.rejects(writeY4m(failing(), { out: join(dir, 'x.y4m') }), /boom/);
    await assert.rejects(writePngSequence(failing(), { dir: join(dir, 'png') }), /boom/);
    // frames of different sizes
    const f64 = { width: 64, height: 64, channels: 3, data: new Uint8Array(64 * 64 * 3) };
    const f32 = { width: 32, height: 32, channels: 3, data: new Uint8Array(32 * 32 * 3) };
    await assert.rejects(writeY4m([f64, f32], { out: join(dir, 'size.y4m') }), /Expected a 64x64 frame for frames\[1\] \(like frames\[0\]\) but received 32x32/);
    await assert.rejects(writeY4m([], { out: join(dir, 'none.y4m') }), /at least one frame/);
    assert.deepEqual(ls(dir), [], `left behind: ${ls(dir)}`);
  });

  test('a failing mp4 run leaves no partial file; ffmpeg\'s own failure is reported', { skip: noMp4 }, async () => {
    const dir = join(tmp, 'fail-mp4');
    mkdirSync(dir, { recursive: true });
    async function* failing() {
      let n = 0;
      for await (const f of renderVideo(session, identity, { audio, frames: 5 })) {
        if (n++ === 2) throw new Error('boom');
        yield f;
      }
    }
    await assert.rejects(writeMp4(failing(), { out: join(dir, 'x.mp4'), audio: speech }), /boom/);
    // ffmpeg itself fails (an audio file it cannot read): its last stderr line in the message
    const junk = join(tmp, 'junk.wav');
    writeFileSync(junk, 'not audio at all');
    await assert.rejects(writeMp4(renderVideo(session, identity, { audio, frames: 2 }), { out: join(dir, 'y.mp4'), audio: junk }),
      (err) => err.name === 'InternalError' && /^ffmpeg failed .*: \S/.test(err.message));
    await assert.rejects(writeMp4(renderVideo(session, identity, { audio, frames: 2 }), { out: join(dir, 'z.mp4'), audio: join(tmp, 'missing.wav') }), InputAudioError);
    assert.deepEqual(ls(dir), [], `left behind: ${ls(dir)}`);
  });

  test('writer sinks: abort() removes the temporary file', async () => {
    const dir = join(tmp, 'sink');
    const sink = openY4mWriter({ out: join(dir, 'x.y4m') });
    const f = { width: 4, height: 2, channels: 3, data: new Float32Array(24).fill(0.5) };
    await sink.write(f);
    assert.equal(ls(dir).length, 1);
    assert.match(ls(dir)[0], /^\.x\.y4m\.tmp-/);
    await sink.abort();
    assert.deepEqual(ls(dir), []);
  });

  test('no ffmpeg: writeMp4 throws BackendUnavailableError before rendering', async () => {
    const saved = process.env.S3D_FFMPEG;
    process.env.S3D_FFMPEG = join(tmp, 'no-ffmpeg');
    try {
      await assert.rejects(writeMp4([], { out: join(tmp, 'none.mp4') }), (err) => err instanceof BackendUnavailableError && /S3D_FFMPEG=/.test(err.message));
    } finally {
      if (saved === undefined) delete process.env.S3D_FFMPEG;
      else process.env.S3D_FFMPEG = saved;
    }
  });
});
