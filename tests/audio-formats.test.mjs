// Speech in any common format (ts/audio/ffmpeg.ts): mp3/ogg/opus/flac/m4a made
// from a synthetic tone with the system ffmpeg, decoded through prepareAudio
// (ffmpeg located as S3D_FFMPEG > @ffmpeg-installer/ffmpeg > PATH); duration
// within one video frame and the tone's frequency (zero crossings) preserved.
// WAV variants (stereo, 8/48 kHz, 24-bit) still go through wavefile.
// Run: npm test
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createSession, decodeWithFfmpeg, findFfmpeg, InputAudioError } from '../lib/index.js';
import { decodeWav } from '../lib/internal.js';
import { requireFixture, tinyModel } from './helpers/fixtures.mjs';

const tmp = mkdtempSync(join(tmpdir(), 's3d-audio-formats-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const FRAME = 1 / 25;
const TONE_HZ = 440;
const SECONDS = 1.3;

// The system ffmpeg (PATH) makes the test files; its encoders decide which cases run.
const systemFfmpeg = spawnSync('ffmpeg', ['-hide_banner', '-encoders'], { encoding: 'utf8' });
const encoders = systemFfmpeg.status === 0 ? systemFfmpeg.stdout : '';
const hasEncoder = (name) => new RegExp(`^\\s*A\\S*\\s+${name}\\s`, 'm').test(encoders);

function makeFile(name, args) {
  const path = join(tmp, name);
  const r = spawnSync('ffmpeg', ['-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `sine=frequency=${TONE_HZ}:sample_rate=44100:duration=${SECONDS}`, ...args, path], { encoding: 'utf8' });
  assert.equal(r.status, 0, `ffmpeg could not make ${name}: ${r.stderr}`);
  return path;
}

/** Frequency from positive-going zero crossings over the middle 80 %. */
function toneFrequency(samples, rate) {
  const a = Math.floor(samples.length * 0.1), b = Math.floor(samples.length * 0.9);
  let first = -1, last = -1, n = 0;
  for (let i = a + 1; i < b; i++)
    if (samples[i - 1] < 0 && samples[i] >= 0) {
      if (first < 0) first = i; else n++;
      last = i;
    }
  return (n * rate) / (last - first);
}

const cases = [
  { name: 'tone.mp3', encoder: 'libmp3lame', args: ['-c:a', 'libmp3lame', '-b:a', '128k'] },
  { name: 'tone.ogg', encoder: 'libvorbis', args: ['-c:a', 'libvorbis'] },
  { name: 'tone.opus', encoder: 'libopus', args: ['-c:a', 'libopus', '-b:a', '64k'] },
  { name: 'tone.flac', encoder: 'flac', args: ['-c:a', 'flac'] },
  { name: 'tone.m4a', encoder: 'aac', args: ['-c:a', 'aac', '-b:a', '128k'] },
  // stereo mp3 (down-mixed by ffmpeg, -ac 1)
  { name: 'tone-stereo.mp3', encoder: 'libmp3lame', args: ['-ac', '2', '-c:a', 'libmp3lame'] },
  // WAV variants: wavefile, no ffmpeg involved
  { name: 'tone-stereo.wav', encoder: 'pcm_s16le', args: ['-ac', '2', '-c:a', 'pcm_s16le'], wav: true },
  { name: 'tone-8k.wav', encoder: 'pcm_s16le', args: ['-ar', '8000', '-c:a', 'pcm_s16le'], wav: true },
  { name: 'tone-48k.wav', encoder: 'pcm_s16le', args: ['-ar', '48000', '-c:a', 'pcm_s16le'], wav: true },
  { name: 'tone-24bit.wav', encoder: 'pcm_s24le', args: ['-c:a', 'pcm_s24le'], wav: true },
];

describe('audio formats through prepareAudio', () => {
  let session;
  before(async () => {
    session = await createSession({ model: requireFixture(tinyModel), threads: 2 });
  });
  after(() => session?.dispose());

  test('ffmpeg is found (S3D_FFMPEG, @ffmpeg-installer/ffmpeg or PATH)', () => {
    const ff = findFfmpeg();
    assert.ok(ff, 'no ffmpeg');
    console.log(`# decoding with ${ff.path} (${ff.source})`);
  });

  for (const c of cases) {
    const skip = !encoders ? 'no system ffmpeg to make the test file' : !hasEncoder(c.encoder) ? `the system ffmpeg has no ${c.encoder} encoder` : false;
    test(`${c.name}: duration within a frame, ${TONE_HZ} Hz preserved`, { skip }, async () => {
      const path = makeFile(c.name, c.args);
      const track = await session.prepareAudio(path);
      assert.ok(Math.abs(track.duration - SECONDS) <= FRAME, `duration ${track.duration} s, expected ${SECONDS} ± ${FRAME}`);
      assert.ok(Math.abs(track.frameCount - Math.ceil(SECONDS * 25)) <= 1, `frameCount ${track.frameCount}`);
      // The same through a Buffer (written to a temporary file for ffmpeg).
      const fromBytes = await session.prepareAudio(readFileSync(path));
      assert.equal(fromBytes.sampleCount, track.sampleCount);
      const dec = c.wav ? decodeWav(readFileSync(path)) : await decodeWithFfmpeg(path);
      assert.equal(dec.sampleRate, track.sampleRate);
      const f = toneFrequency(dec.samples, dec.sampleRate);
      assert.ok(Math.abs(f - TONE_HZ) < TONE_HZ * 0.01, `tone at ${f.toFixed(2)} Hz, expected ${TONE_HZ}`);
      let peak = 0;
      for (const v of dec.samples) peak = Math.max(peak, Math.abs(v));
      assert.ok(peak > 0.05 && peak < 1.01, `peak ${peak}`); // sine source amplitude 1/8
      await track.dispose();
      await fromBytes.dispose();
    });
  }

  test('undecodable encoded audio: InputAudioError with ffmpeg\'s last stderr line', async () => {
    const bad = join(tmp, 'broken.mp3');
    writeFileSync(bad, Buffer.concat([Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00', 'latin1'), Buffer.alloc(200, 7)]));
    await assert.rejects(session.prepareAudio(bad), (err) => {
      assert.ok(err instanceof InputAudioError, `${err?.name}: ${err?.message}`);
      assert.match(err.message, /^Cannot decode the audio \(.*broken\.mp3, 210 bytes starting with "ID3"\) with ffmpeg: \S/);
      assert.doesNotMatch(err.message, /\n/);
      return true;
    });
  });

  test('no ffmpeg: a clear InputAudioError (WAV still works)', { skip: !hasEncoder('libmp3lame') && 'no mp3 encoder' }, async () => {
    const mp3 = join(tmp, 'tone.mp3');
    makeFile('tone.mp3', ['-c:a', 'libmp3lame']);
    const saved = process.env.S3D_FFMPEG;
    process.env.S3D_FFMPEG = join(tmp, 'no-such-ffmpeg');
    try {
      assert.equal(findFfmpeg(), undefined);
      await assert.rejects(session.prepareAudio(mp3), (err) => {
        assert.ok(err instanceof InputAudioError);
        assert.match(err.message, /S3D_FFMPEG=.*no-such-ffmpeg is not an executable file/);
        return true;
      });
      const wav = makeFile('plain.wav', ['-c:a', 'pcm_s16le']);
      const track = await session.prepareAudio(wav);
      assert.ok(Math.abs(track.duration - SECONDS) < 1e-3);
      await track.dispose();
    } finally {
      if (saved === undefined) delete process.env.S3D_FFMPEG;
      else process.env.S3D_FFMPEG = saved;
    }
  });

  test('S3D_FFMPEG selects the binary', { skip: !encoders && 'no system ffmpeg' }, () => {
    const which = spawnSync('sh', ['-c', 'command -v ffmpeg'], { encoding: 'utf8' }).stdout.trim();
    const saved = process.env.S3D_FFMPEG;
    process.env.S3D_FFMPEG = which;
    try {
      assert.deepEqual(findFfmpeg(), { path: which, source: 'S3D_FFMPEG' });
    } finally {
      if (saved === undefined) delete process.env.S3D_FFMPEG;
      else process.env.S3D_FFMPEG = saved;
    }
  });
});
