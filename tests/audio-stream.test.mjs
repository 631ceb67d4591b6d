// Streaming audio (issue 7): files are read and decoded in chunks and pushed to
// the engine's streaming front end (cpp/audio/audio_stream.h), so memory is
// bounded by the log-mel track, not by the expanded source.
// - chunked pushes of any size give the one-shot log-mel bit for bit (every
//   float equal; the relative error is printed) at 44.1 and 48 kHz, through the binding and
//   through files (WAV read in 1 MiB chunks, AU decoded by ffmpeg from a pipe);
// - a 1.2 GB sparse WAV (48 kHz stereo 16-bit, 1.74 hours of silence; 2.4 GB
//   as float at the source rate) prepares in a child process with a peak RSS
//   far below that;
// - an AbortSignal fired mid-stream rejects with AbortError.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { AbortError, createSession, findFfmpeg, InputAudioError } from '../lib/index.js';
import { audioLogMel, binding, runStage } from '../lib/internal.js';
import { relativeError } from './helpers/metrics.mjs';
import { requireFixture, root, speechLike, tinyModel } from './helpers/fixtures.mjs';

const tmp = mkdtempSync(join(tmpdir(), 's3d-audio-stream-'));
after(() => rmSync(tmp, { recursive: true, force: true }));


/** A canonical 44-byte-header WAV: f32 mono, or i16 with 1 or 2 channels (interleaved from `channels`). */
function wavBytes(kind, rate, channels) {
  const nc = channels.length, n = channels[0].length, bps = kind === 'f32' ? 4 : 2;
  const data = Buffer.alloc(n * nc * bps);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < nc; c++) {
      const o = (i * nc + c) * bps;
      if (kind === 'f32') data.writeFloatLE(channels[c][i], o);
      else data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(channels[c][i] * 32767))), o);
    }
  return Buffer.concat([wavHeader(kind === 'f32' ? 3 : 1, nc, rate, bps * 8, data.length), data]);
}

function wavHeader(format, nc, rate, bits, dataBytes) {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(format, 20);
  h.writeUInt16LE(nc, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE((rate * nc * bits) / 8, 28);
  h.writeUInt16LE((nc * bits) / 8, 32);
  h.writeUInt16LE(bits, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A Sun .au file (16-bit big-endian PCM): decoded by ffmpeg's built-in pcm_s16be, no encoder needed. */
function auBytes(rate, samples) {
  const h = Buffer.alloc(24);
  h.write('.snd', 0, 'ascii');
  h.writeUInt32BE(24, 4);
  h.writeUInt32BE(samples.length * 2, 8);
  h.writeUInt32BE(3, 12); // 16-bit linear PCM
  h.writeUInt32BE(rate, 16);
  h.writeUInt32BE(1, 20);
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) data.writeInt16BE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), 2 * i);
  return Buffer.concat([h, data]);
}

/** A sparse file: the header, then zeros (holes) up to `size` bytes. */
function sparseFile(path, header, size) {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** Video frames for n source samples at `rate` (engine: ceil(ceil(16000 n / rate) * 25 / 16000)). */
function frameCount(n, rate) {
  const n16k = Math.ceil((16000 * n) / rate);
  return Math.ceil((n16k * 25) / 16000);
}

function expectSameLogMel(what, got, ref) {
  assert.deepEqual(got.shape, ref.shape, `${what}: shape`);
  const err = relativeError(got.data, ref.data);
  let differing = 0;
  for (let i = 0; i < ref.data.length; i++) if (got.data[i] !== ref.data[i]) differing++;
  console.log(`# ${what}: log-mel relative error ${err.toExponential(3)}, ${differing} of ${ref.data.length} values differ`);
  assert.equal(differing, 0, `${what}: ${differing} of ${ref.data.length} values differ (relative error ${err})`);
}

/** Engine layout (T, M) from runStage's PyTorch layout (M, T). */
function fromTorch(t) {
  const [M, T] = t.shape;
  const data = new Float32Array(M * T);
  for (let m = 0; m < M; m++) for (let k = 0; k < T; k++) data[k * M + m] = t.data[m * T + k];
  return { shape: [T, M], data };
}

describe('streaming audio', () => {
  let session;
  before(async () => {
    session = await createSession({ model: requireFixture(tinyModel), threads: 2 });
  });
  after(() => session?.dispose());

  for (const rate of [44100, 48000]) {
    test(`chunked pushes give the one-shot log-mel at ${rate} Hz`, async () => {
      const n = rate * 4 + 331;
      const x = speechLike(n, rate, rate);
      const oneShot = await session.prepareAudio({ samples: x, sampleRate: rate });
      const ref = audioLogMel(oneShot);
      // The one-shot engine path is the audio_features stage (torchaudio parity, tests/audio.test.mjs).
      const stage = await runStage(session, 'audio_features', { samples: { shape: [n], data: x }, sample_rate: { shape: [1], data: Float32Array.of(rate) } });
      expectSameLogMel(`${rate} Hz prepareAudio vs audio_features stage`, ref, fromTorch(stage.logmel));

      const b = binding();
      for (const sizes of [[1, 2, 3, 5, 7, 11, 13], [441, 4097, 1], [100003, 7919], [n]]) {
        const stream = b.audioStreamCreate(session._native(), rate);
        let k = 0;
        for (let p = 0; p < n; k++) {
          const len = Math.min(n - p, sizes[k % sizes.length] * (k % 3 === 2 ? 37 : 1));
          await b.audioStreamPush(stream, x.subarray(p, p + len));
          p += len;
        }
        const audio = await b.audioStreamFinish(stream);
        assert.equal(audio.frameCount, oneShot.frameCount);
        assert.equal(audio.sampleCount, n);
        expectSameLogMel(`${rate} Hz, ${k} pushes of sizes from [${sizes.slice(0, 4)}...]`, b.audioLogMel(audio), ref);
        audio.dispose();
      }
      await oneShot.dispose();
    });
  }

  test('a WAV file read in 1 MiB chunks gives what its bytes give in one call', async () => {
    for (const [kind, rate, nc] of [['i16', 48000, 2], ['f32', 44100, 1]]) {
      const n = rate * 7 + 13; // 2.7 MiB and 1.2 MiB of samples: several chunks, a partial last one
      const channels = Array.from({ length: nc }, (_, c) => speechLike(n, rate, 7 + c));
      const bytes = wavBytes(kind, rate, channels);
      const path = join(tmp, `chunks-${kind}.wav`);
      writeFileSync(path, bytes);
      const streamed = await session.prepareAudio(path);
      const oneShot = await session.prepareAudio(bytes);
      assert.equal(streamed.sampleCount, n);
      assert.equal(streamed.sampleRate, rate);
      assert.equal(streamed.frameCount, frameCount(n, rate));
      expectSameLogMel(`${kind} ${nc}-channel WAV at ${rate} Hz, file vs buffer`, audioLogMel(streamed), audioLogMel(oneShot));
      await streamed.dispose();
      await oneShot.dispose();
    }
  });

  test('a header claiming more data than the file holds: what is there is used', async () => {
    const rate = 44100, n = 5000;
    const bytes = wavBytes('i16', rate, [speechLike(n, rate, 3)]);
    bytes.writeUInt32LE(0x7ffffff0, 40); // data size far past the end of the file
    bytes.writeUInt32LE(0x7ffffff0 + 36, 4);
    const path = join(tmp, 'overclaim.wav');
    writeFileSync(path, bytes);
    const streamed = await session.prepareAudio(path);
    const oneShot = await session.prepareAudio(bytes);
    assert.equal(streamed.sampleCount, n);
    assert.equal(oneShot.sampleCount, n);
    expectSameLogMel('over-claiming WAV, file vs buffer', audioLogMel(streamed), audioLogMel(oneShot));
    // A truncated last frame is dropped, as in memory.
    writeFileSync(path, bytes.subarray(0, bytes.length - 1));
    const cut = await session.prepareAudio(path);
    assert.equal(cut.sampleCount, n - 1);
  });

  test('streamed WAV errors match the in-memory decoder', async () => {
    const nan = wavBytes('f32', 16000, [Float32Array.of(0.1, 0.2, NaN, 0.3)]);
    const path = join(tmp, 'nan.wav');
    writeFileSync(path, nan);
    await assert.rejects(session.prepareAudio(path),
      (err) => err instanceof InputAudioError && /^Expected finite audio samples but received NaN at index 2$/.test(err.message));
    writeFileSync(path, Buffer.concat([wavHeader(1, 1, 4000, 16, 2000), Buffer.alloc(2000)]));
    await assert.rejects(session.prepareAudio(path),
      (err) => err instanceof InputAudioError && /between 8000 and 192000 Hz for audio but received 4000$/.test(err.message));
    writeFileSync(path, wavHeader(1, 2, 16000, 16, 0));
    await assert.rejects(session.prepareAudio(path),
      (err) => err instanceof InputAudioError && /^Expected audio samples in the WAV file but received 0 bytes of sample data$/.test(err.message));
  });

  test('ffmpeg output is pushed as it is decoded, same log-mel as decoding it whole', { skip: !findFfmpeg() && 'no ffmpeg' }, async () => {
    const rate = 44100, n = rate * 9 + 5; // 1.6 MiB of float32 from the pipe: two chunks
    const x = speechLike(n, rate, 5);
    const path = join(tmp, 'speech.au');
    writeFileSync(path, auBytes(rate, x));
    const streamed = await session.prepareAudio(path);
    assert.equal(streamed.sampleCount, n);
    assert.equal(streamed.sampleRate, rate);
    // The samples ffmpeg decodes are x rounded to 16 bits.
    const q = x.map((v) => Math.max(-32768, Math.min(32767, Math.round(v * 32767))) / 32768);
    const oneShot = await session.prepareAudio({ samples: q, sampleRate: rate });
    expectSameLogMel('AU through ffmpeg, streamed vs samples', audioLogMel(streamed), audioLogMel(oneShot));
  });

  // WAV is streamed by the WAV reader, AU (pcm_s16be, size unknown) through ffmpeg's pipe.
  for (const ext of ['wav', 'au']) {
    test(`aborting mid-stream rejects with AbortError (${ext === 'wav' ? 'WAV reader' : 'AU through ffmpeg'})`,
      { skip: ext === 'au' && !findFfmpeg() && 'no ffmpeg' }, async () => {
        let header;
        if (ext === 'wav') header = wavHeader(1, 2, 48000, 16, 400e6 - 44);
        else {
          header = Buffer.alloc(24);
          header.write('.snd', 0, 'ascii');
          header.writeUInt32BE(24, 4);
          header.writeUInt32BE(0xffffffff, 8); // size unknown: to the end of the file
          header.writeUInt32BE(3, 12);
          header.writeUInt32BE(48000, 16);
          header.writeUInt32BE(2, 20);
        }
        const path = join(tmp, `abort.${ext}`);
        sparseFile(path, header, 400e6); // about 35 minutes: seconds of work
        const ac = new AbortController();
        const t0 = performance.now();
        setTimeout(() => ac.abort(new Error('stop')), 300);
        await assert.rejects(session.prepareAudio(path, { signal: ac.signal }), (err) => {
          assert.ok(err instanceof AbortError, `${ext}: ${err?.name}: ${err?.message}`);
          assert.equal(err.cause?.message, 'stop');
          return true;
        });
        const ms = performance.now() - t0;
        console.log(`# ${ext}: aborted after ${ms.toFixed(0)} ms`);
        assert.ok(ms < 2500, `${ext}: the abort took ${ms} ms to land`);
        rmSync(path);
        // The session is still usable.
        const track = await session.prepareAudio({ samples: speechLike(16000, 16000), sampleRate: 16000 });
        assert.equal(track.frameCount, 25);
      });
  }
});

test('a 1.2 GB WAV (1.7 h, 2.4 GB as float) streams with a bounded peak RSS', () => {
  const size = 1_200_000_044;
  const path = join(tmp, 'long.wav');
  sparseFile(path, wavHeader(1, 2, 48000, 16, size - 44), size);
  const n = (size - 44) / 4;
  const child = `
    import { createSession } from ${JSON.stringify(join(root, 'lib', 'index.js'))};
    const session = await createSession({ model: ${JSON.stringify(tinyModel)}, threads: 2 });
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    const track = await session.prepareAudio(${JSON.stringify(path)});
    const ms = performance.now() - t0;
    console.log(JSON.stringify({ frameCount: track.frameCount, sampleCount: track.sampleCount, ms,
      baseMB: before / 2 ** 20, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
    await session.dispose();
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child], { encoding: 'utf8', timeout: 120_000 });
  rmSync(path);
  assert.equal(r.status, 0, `child failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  console.log(`# ${(n / 48000 / 3600).toFixed(2)} h at 48 kHz stereo: ${(res.ms / 1000).toFixed(1)} s, peak RSS ${res.maxRssMB.toFixed(0)} MB ` +
    `(${res.baseMB.toFixed(0)} MB before; the source as float would be ${((n * 2 * 4) / 2 ** 20).toFixed(0)} MB)`);
  assert.equal(res.sampleCount, n);
  assert.equal(res.frameCount, frameCount(n, 48000));
  assert.ok(res.maxRssMB < 900, `peak RSS ${res.maxRssMB} MB`);
});
