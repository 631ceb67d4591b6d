// Audio front end through Node: parity of the engine's resampler, log-mel and
// deformation windows with the torchaudio reference (tests/fixtures/audio.safetensors,
// written by train/fixtures_audio.py; relative-error tolerances stored per case),
// the public prepareAudio frame counts for those cases, and WAV decoding
// (ts/audio/wav.ts) of every supported sample format plus its errors.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createSession, InputAudioError } from '../lib/index.js';
import { decodeWav, runStage } from '../lib/internal.js';
import { relativeError } from './helpers/metrics.mjs';
import { readSafetensors } from './helpers/safetensors.mjs';
import { requireFixture, root, tinyModel } from './helpers/fixtures.mjs';

const audioFixture = join(root, 'tests', 'fixtures', 'audio.safetensors');
const fixtures = readSafetensors(requireFixture(audioFixture));
const cases = JSON.parse(fixtures.metadata.cases);
const frontEnd = JSON.parse(fixtures.metadata.audio);


function tensor(name) {
  const t = fixtures.tensors.get(name);
  assert.ok(t, `audio fixture lacks ${name}`);
  return { shape: t.shape, data: t.data };
}

const scalar = (v) => ({ shape: [1], data: Float32Array.of(v) });

function expectClose(what, got, ref, tol) {
  assert.ok(got, `${what}: no output`);
  assert.deepEqual(got.shape, ref.shape, `${what} shape`);
  const err = relativeError(got.data, ref.data);
  console.log(`# ${what}: relative error ${err.toExponential(3)} (tolerance ${tol})`);
  assert.ok(err <= tol, `${what}: relative error ${err} > ${tol}`);
}

test('the audio fixture lists cases', () => {
  assert.ok(cases.length >= 6);
  for (const c of cases) assert.ok(c.name && c.sample_rate && c.windows.length && c.tol_resample && c.tol_logmel);
});

describe('audio front end parity with torchaudio', () => {
  let session;
  before(async () => {
    session = await createSession({ model: requireFixture(tinyModel), threads: 2 });
    // The stages use the model's front-end config: it must be the fixture's.
    for (const [k, v] of Object.entries(frontEnd)) assert.equal(session.config.audio[k], v, `audio.${k}`);
  });
  after(() => session?.dispose());

  for (const c of cases) {
    test(`case ${c.name} (${c.sample_rate} Hz, ${c.samples} samples)`, async () => {
      const input = tensor(`${c.name}/input`);
      const resampled = tensor(`${c.name}/resampled`);
      const logmel = tensor(`${c.name}/logmel`);
      assert.deepEqual(logmel.shape, [frontEnd.n_mels, c.mel_frames]);

      const rs = await runStage(session, 'resample', { samples: input, sample_rate: scalar(c.sample_rate) });
      expectClose(`${c.name} resample`, rs.samples16k, resampled, c.tol_resample);

      // Log-mel and windows on the reference 16 kHz signal isolate them from resampling.
      const lm = await runStage(session, 'log_mel', { samples16k: resampled });
      expectClose(`${c.name} log_mel`, lm.logmel, logmel, c.tol_logmel);
      for (const t of c.windows) {
        const w = await runStage(session, 'deform_window', { samples16k: resampled, frame: scalar(t) });
        expectClose(`${c.name} deform_window t=${t}`, w.window, tensor(`${c.name}/window_${t}`), c.tol_logmel);
      }

      // The whole prepareAudio path (resample + log-mel) in one stage.
      const af = await runStage(session, 'audio_features', { samples: input, sample_rate: scalar(c.sample_rate) });
      expectClose(`${c.name} audio_features`, af.logmel, logmel, c.tol_logmel);
      assert.equal(af.frame_count.data[0], c.frame_count);
      assert.equal(af.sample_count16k.data[0], c.samples16k);

      // Public API: samples, and the same samples as a float32 WAV.
      const track = await session.prepareAudio({ samples: input.data, sampleRate: c.sample_rate });
      assert.equal(track.frameCount, c.frame_count);
      assert.equal(track.sampleCount, c.samples);
      const wavTrack = await session.prepareAudio(makeWav({ kind: 'f32', rate: c.sample_rate, channels: [input.data] }));
      assert.equal(wavTrack.frameCount, c.frame_count);
      assert.equal(wavTrack.sampleRate, c.sample_rate);
    });
  }

  test('the audio parity test can fail', async () => {
    const c = cases[0];
    const resampled = tensor(`${c.name}/resampled`);
    const louder = { shape: resampled.shape, data: resampled.data.map((v) => v * 1.01) };
    const lm = await runStage(session, 'log_mel', { samples16k: louder });
    const err = relativeError(lm.logmel.data, tensor(`${c.name}/logmel`).data);
    assert.ok(err > c.tol_logmel, `a 1% louder signal still passes (${err})`);
    const input = tensor(`${c.name}/input`);
    const rs = await runStage(session, 'resample', { samples: input, sample_rate: scalar(c.sample_rate + 50) });
    assert.notDeepEqual(rs.samples16k.shape, resampled.shape);
  });

  test('audio stages validate their inputs', async () => {
    const x = { shape: [4], data: new Float32Array(4) };
    await assert.rejects(runStage(session, 'resample', { samples: x, sample_rate: scalar(4000) }),
      /Expected an integer between 8000 and 192000 for stage input "sample_rate" but received 4000/);
    await assert.rejects(runStage(session, 'resample', { samples: x }), /missing stage input "sample_rate"/);
    await assert.rejects(runStage(session, 'log_mel', { samples16k: { shape: [2, 2], data: new Float32Array(4) } }),
      /Expected shape \(n\) with n >= 1 for stage input "samples16k"/);
    await assert.rejects(runStage(session, 'deform_window', { samples16k: tensor('sr16000/resampled'), frame: scalar(13) }),
      /Expected an integer between 0 and 12 for stage input "frame"/);
    const nan = Float32Array.of(0, 0, NaN, 0);
    await assert.rejects(runStage(session, 'log_mel', { samples16k: { shape: [4], data: nan } }),
      (err) => err instanceof InputAudioError && /received NaN at index 2/.test(err.message));
  });
});

// ---- WAV decoding -----------------------------------------------------------

const FORMAT = { u8: [1, 8], i16: [1, 16], i24: [1, 24], i32: [1, 32], f32: [3, 32], f64: [3, 64] };

/** Source values (as stored in the file) for n samples, from a seeded generator. */
function sourceValues(kind, n, seed) {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const ints = (lo, hi) => Array.from({ length: n }, (_, i) => (i < 2 ? [lo, hi][i] : lo + Math.floor(rand() * (hi - lo + 1))));
  switch (kind) {
    case 'u8': return ints(0, 255);
    case 'i16': return ints(-32768, 32767);
    case 'i24': return ints(-8388608, 8388607);
    case 'i32': return ints(-2147483648, 2147483647);
    default: return Array.from({ length: n }, () => rand() * 2 - 1);
  }
}

/** What the decoder must return for one stored value (before down-mixing). */
function expectedValue(kind, v) {
  switch (kind) {
    case 'u8': return (v - 128) / 128;
    case 'i16': return v / 32768;
    case 'i24': return v / 8388608;
    case 'i32': return v / 2147483648;
    case 'f32': return Math.fround(v);
    default: return v;
  }
}

/**
 * A WAV file: kind in FORMAT, channels = per-channel arrays of stored values.
 * Written by hand (not by wavefile) so the decoder is checked against the spec.
 */
function makeWav({ kind, rate, channels, extensible = false, formatOverride, dataBytes }) {
  const [format, bits] = FORMAT[kind];
  const nc = channels.length;
  const frames = channels[0].length;
  const bps = bits / 8;
  const data = Buffer.alloc(dataBytes ?? frames * nc * bps);
  for (let i = 0; i < frames && (i + 1) * nc * bps <= data.length; i++)
    for (let c = 0; c < nc; c++) {
      const o = (i * nc + c) * bps;
      const v = channels[c][i];
      if (kind === 'u8') data.writeUInt8(v, o);
      else if (kind === 'i16') data.writeInt16LE(v, o);
      else if (kind === 'i24') data.writeIntLE(v, o, 3);
      else if (kind === 'i32') data.writeInt32LE(v, o);
      else if (kind === 'f32') data.writeFloatLE(v, o);
      else data.writeDoubleLE(v, o);
    }
  const fmt = Buffer.alloc(extensible ? 40 : 16);
  fmt.writeUInt16LE(formatOverride ?? (extensible ? 0xfffe : format), 0);
  fmt.writeUInt16LE(nc, 2);
  fmt.writeUInt32LE(rate, 4);
  fmt.writeUInt32LE(rate * nc * bps, 8);
  fmt.writeUInt16LE(nc * bps, 12);
  fmt.writeUInt16LE(bits, 14);
  if (extensible) {
    fmt.writeUInt16LE(22, 16); // cbSize
    fmt.writeUInt16LE(bits, 18); // valid bits
    fmt.writeUInt32LE(nc === 1 ? 4 : 3, 20); // channel mask
    // KSDATAFORMAT_SUBTYPE_{PCM,IEEE_FLOAT}: {0000000X-0000-0010-8000-00AA00389B71}
    Buffer.from([format, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71]).copy(fmt, 24);
  }
  const chunk = (id, body) => {
    const h = Buffer.alloc(8);
    h.write(id, 0, 'ascii');
    h.writeUInt32LE(body.length, 4);
    return Buffer.concat([h, body, Buffer.alloc(body.length % 2)]);
  };
  const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), chunk('data', data)]);
  const riff = Buffer.alloc(8);
  riff.write('RIFF', 0, 'ascii');
  riff.writeUInt32LE(body.length, 4);
  return Buffer.concat([riff, body]);
}

/** Expected mono float32 samples: channel average of the decoded values. */
function expectedMono(kind, channels) {
  return Float32Array.from({ length: channels[0].length }, (_, i) => {
    let acc = 0;
    for (const ch of channels) acc += expectedValue(kind, ch[i]);
    return channels.length === 1 ? acc : acc * (1 / channels.length);
  });
}

function assertSamples(got, want, what) {
  assert.equal(got.length, want.length, `${what}: sample count`);
  for (let i = 0; i < want.length; i++)
    if (got[i] !== want[i]) assert.fail(`${what}: sample ${i} is ${got[i]}, expected ${want[i]}`);
}

/** Video frames covered by n samples at `rate` (engine: ceil(ceil(16000 n / rate) * 25 / 16000)). */
function frameCount(n, rate) {
  const n16k = Math.ceil((16000 * n) / rate);
  return Math.ceil((n16k * 25) / 16000);
}

describe('WAV decoding', () => {
  let session;
  before(async () => {
    session = await createSession({ model: requireFixture(tinyModel), threads: 2 });
  });
  after(() => session?.dispose());

  const layouts = [
    { channels: 1, rate: 16000 },
    { channels: 2, rate: 44100 },
  ];
  for (const kind of Object.keys(FORMAT))
    for (const { channels: nc, rate } of layouts) {
      test(`${kind} ${nc === 1 ? 'mono' : 'stereo (down-mixed by averaging)'} at ${rate} Hz`, async () => {
        const n = 4410 + 7;
        const channels = Array.from({ length: nc }, (_, c) => sourceValues(kind, n, 1000 + 17 * c));
        const wav = makeWav({ kind, rate, channels });
        const want = expectedMono(kind, channels);
        const dec = decodeWav(wav);
        assert.equal(dec.sampleRate, rate);
        assert.equal(dec.channels, nc);
        assertSamples(dec.samples, want, kind);
        const track = await session.prepareAudio(wav);
        assert.equal(track.sampleRate, rate);
        assert.equal(track.sampleCount, n);
        assert.equal(track.frameCount, frameCount(n, rate));
        assert.equal(track.duration, n / rate);
        await track.dispose();
      });
    }

  test('WAVE_FORMAT_EXTENSIBLE float and integer PCM', async () => {
    for (const kind of ['f32', 'i16']) {
      const channels = [sourceValues(kind, 500, 5), sourceValues(kind, 500, 6)];
      const dec = decodeWav(makeWav({ kind, rate: 48000, channels, extensible: true }));
      assertSamples(dec.samples, expectedMono(kind, channels), `extensible ${kind}`);
    }
  });

  test('the stereo down-mix is the average of the channels', () => {
    const left = sourceValues('i16', 64, 1);
    const right = left.map((v) => (v === -32768 ? 32767 : -v));
    const dec = decodeWav(makeWav({ kind: 'i16', rate: 8000, channels: [left, right] }));
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(dec.samples[i]) <= 1 / 65536, `sample ${i}: ${dec.samples[i]}`);
  });

  test('a truncated last frame is dropped', () => {
    const channels = [sourceValues('i16', 10, 3), sourceValues('i16', 10, 4)];
    const dec = decodeWav(makeWav({ kind: 'i16', rate: 16000, channels, dataBytes: 10 * 4 - 1 }));
    assertSamples(dec.samples, expectedMono('i16', channels).subarray(0, 9), 'truncated');
  });

  const isAudioError = (re) => (err) => {
    assert.ok(err instanceof InputAudioError, `expected InputAudioError, got ${err?.name}: ${err?.message}`);
    assert.equal(err.code, 'ERR_INPUT_AUDIO');
    assert.match(err.message, re);
    return true;
  };

  test('empty buffer', async () => {
    await assert.rejects(session.prepareAudio(Buffer.alloc(0)), isAudioError(/^Expected WAV data but received an empty buffer$/));
  });

  test('text bytes', async () => {
    await assert.rejects(session.prepareAudio(Buffer.from('hello, this is not a WAV file')),
      isAudioError(/^Expected a WAV file \(RIFF\/WAVE\) for audio but received 29 bytes starting with "hell"$/));
    await assert.rejects(session.prepareAudio(Buffer.from('ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00', 'latin1')),
      isAudioError(/starting with "ID3"/));
    await assert.rejects(session.prepareAudio(Buffer.from([0, 1, 0xab, 0xcd, 9, 9, 9, 9, 9, 9, 9, 9])),
      isAudioError(/received 12 bytes starting with 0x0001ABCD$/));
  });

  test('truncated header', async () => {
    const wav = makeWav({ kind: 'i16', rate: 16000, channels: [sourceValues('i16', 100, 1)] });
    for (const len of [4, 11]) // too short for the RIFF/WAVE tags
      await assert.rejects(session.prepareAudio(wav.subarray(0, len)),
        isAudioError(new RegExp(`^Expected a WAV file \\(RIFF/WAVE\\) for audio but received ${len} bytes starting with "RIFF"$`)));
    for (const len of [12, 20, 30]) // RIFF/WAVE present, 'fmt ' chunk cut short or missing
      await assert.rejects(session.prepareAudio(wav.subarray(0, len)),
        isAudioError(/^Expected a readable WAV file for audio but parsing failed: .+/));
  });

  test('0 samples', async () => {
    const wav = makeWav({ kind: 'i16', rate: 16000, channels: [[]] });
    await assert.rejects(session.prepareAudio(wav),
      isAudioError(/^Expected audio samples in the WAV file but received 0 bytes of sample data$/));
    const stereoOneByte = makeWav({ kind: 'i16', rate: 16000, channels: [[1], [2]], dataBytes: 3 });
    await assert.rejects(session.prepareAudio(stereoOneByte), isAudioError(/received 3 bytes of sample data/));
  });

  test('NaN and infinite float samples', async () => {
    const s = [0.1, -0.2, 0.3, NaN, 0.5];
    await assert.rejects(session.prepareAudio(makeWav({ kind: 'f32', rate: 16000, channels: [s] })),
      isAudioError(/^Expected finite audio samples but received NaN at index 3$/));
    const inf = [0.1, -Infinity, 0.3];
    await assert.rejects(session.prepareAudio(makeWav({ kind: 'f64', rate: 16000, channels: [inf, inf] })),
      isAudioError(/^Expected finite audio samples but received -Infinity at index 1$/));
  });

  test('unsupported sample formats', async () => {
    const alaw = makeWav({ kind: 'u8', rate: 8000, channels: [[1, 2, 3]], formatOverride: 6 });
    await assert.rejects(session.prepareAudio(alaw),
      isAudioError(/^Expected WAV audio as 8\/16\/24\/32-bit integer PCM or 32\/64-bit float but received format code 6 \(8-bit\)$/));
  });
});
