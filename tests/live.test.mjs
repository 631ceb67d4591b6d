// Live rendering (issue 12): session.live() renders frames while the speech
// arrives (ts/live.ts, cpp/audio/audio_stream.h window_features).
// - parity: for the same audio, live frames are byte-identical to
//   prepareAudio + renderFrames, for push sizes from 1 sample to 1 s, awaited
//   or not, at 16 and 44.1 kHz, and the frame count follows prepareAudio's;
// - frames come out before end(); frame t becomes renderable exactly when the
//   last log-mel column of its window is computed (the derived look-ahead);
// - abort and close: the iterator rejects with AbortError once no engine call
//   is left, pushes reject, the session stays usable;
// - backpressure: 'buffer' delivers everything with a bounded buffer and paces
//   pipeFrom; 'drop' reports gaps and a counter;
// - malformed input: NaN, wrong types, rate changes, pushes after end, odd
//   byte counts of raw PCM, non-WAV bytes.
// Uses the tiny fixture model. Run: node --test tests/live.test.mjs
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';

import {
  AbortError, createSession, decodeAudioStream, DisposedError, InputAudioError, InvalidArgumentError, liveLookaheadSeconds, LiveStream,
} from '../lib/index.js';
import { binding } from '../lib/internal.js';
import { deformWindowStart } from '../lib/live.js';
import { requireFixture, speechLike, syntheticImage, tinyModel } from './helpers/fixtures.mjs';

/** speechLike() of a duration in seconds. */
const speechSeconds = (seconds, rate, seed = 1) => speechLike(Math.round(seconds * rate), rate, seed);

/** A 16-bit PCM WAV (interleaved channels), optionally with an unknown (streamed) data size. */
function wavBytes(channels, rate, { streamed = false } = {}) {
  const nc = channels.length, n = channels[0].length;
  const data = Buffer.alloc(n * nc * 2);
  for (let i = 0; i < n; i++)
    for (let c = 0; c < nc; c++) data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(channels[c][i] * 32767))), (i * nc + c) * 2);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(streamed ? 0xffffffff : 36 + data.length, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(nc, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * nc * 2, 28);
  h.writeUInt16LE(nc * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(streamed ? 0xffffffff : data.length, 40);
  return Buffer.concat([h, data]);
}

const same = (a, b) => a.length === b.length && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** Splits bytes into chunks of `size`. */
function* chunks(buf, size) {
  for (let o = 0; o < buf.length; o += size) yield buf.subarray(o, o + size);
}

describe('live rendering', () => {
  let session, identity, other;
  const refs = new Map(); // key -> { frames, frameCount }

  before(async () => {
    session = await createSession({ model: requireFixture(tinyModel), threads: 1, backend: 'cpu' });
    identity = await session.encodeIdentity(syntheticImage(session.config.image_size), { aligned: true });
  });
  after(async () => {
    await other?.dispose();
    await session?.dispose();
  });

  /** Offline reference: prepareAudio + renderFrames (cached per key). */
  async function offline(key, input, options = {}) {
    if (!refs.has(key)) {
      const track = await session.prepareAudio(input);
      const frames = await session.renderFrames(identity, { audio: track, ...options });
      refs.set(key, { frames, frameCount: track.frameCount });
      await track.dispose();
    }
    return refs.get(key);
  }

  /**
   * Pushes `samples` in chunks of `chunk` (awaiting each push when `awaitEach`)
   * while a consumer collects the frames; returns the frames, end()'s count,
   * how many frames arrived before end() was called, and the stats.
   */
  async function liveRun(samples, rate, { chunk, awaitEach = true, options = {}, delayMs = 0 } = {}) {
    const live = session.live(identity, options);
    const frames = [];
    let ended = false;
    let early = 0;
    const consumer = (async () => {
      for await (const f of live) {
        frames.push(f);
        if (!ended) early++;
      }
    })();
    for (let o = 0; o < samples.length; o += chunk) {
      const p = live.push(samples.subarray(o, o + chunk), rate);
      if (awaitEach) await p;
      if (delayMs) await sleep(delayMs);
    }
    ended = true;
    const count = await live.end();
    await consumer;
    return { frames, count, early, stats: live.stats, live };
  }

  function assertFramesEqual(what, got, ref) {
    assert.equal(got.length, ref.frames.length, `${what}: frame count`);
    for (let i = 0; i < got.length; i++) {
      assert.equal(got[i].index, i, `${what}: index`);
      assert.equal(got[i].width, ref.frames[i].width);
      assert.ok(same(got[i].data, ref.frames[i].data), `${what}: frame ${i} differs from the offline render`);
    }
  }

  test('the comparison can fail: the audio changes the pixels', async () => {
    const ref = await offline('speech-1s-16k', { samples: speechSeconds(1, 16000), sampleRate: 16000 });
    let differing = 0;
    for (let i = 1; i < ref.frames.length; i++) if (!same(ref.frames[i].data, ref.frames[i - 1].data)) differing++;
    assert.ok(differing >= ref.frames.length / 2, `only ${differing} of ${ref.frames.length - 1} consecutive frame pairs differ`);
    const silence = await offline('silence-1s-16k', { samples: new Float32Array(16000), sampleRate: 16000 });
    assert.ok(!same(silence.frames[10].data, ref.frames[10].data), 'silence and speech render the same frame 10');
  });

  test('parity: byte-identical to prepareAudio + renderFrames for push sizes from 1 sample to 1 s', async () => {
    const x = speechSeconds(1, 16000);
    const ref = await offline('speech-1s-16k', { samples: x, sampleRate: 16000 });
    for (const chunk of [1, 7, 160, 641, 4000, 16000]) {
      const t0 = performance.now();
      const r = await liveRun(x, 16000, { chunk });
      console.log(`# chunk ${chunk}: ${r.frames.length} frames (${r.early} before end()) in ${(performance.now() - t0).toFixed(0)} ms`);
      assert.equal(r.count, ref.frameCount, `chunk ${chunk}: end() count`);
      assertFramesEqual(`chunk ${chunk}`, r.frames, ref);
      // Many awaited pushes: the consumer gets frames while the audio is still coming.
      if (chunk <= 641) assert.ok(r.early >= 10, `chunk ${chunk}: only ${r.early} frames came out before end()`);
      assert.equal(r.stats.framesDropped, 0);
      assert.equal(r.stats.frameCount, ref.frameCount);
    }
    // Pushes not awaited (merged while the engine is busy), and the naive pattern:
    // everything pushed and ended before iterating ('buffer' never blocks push()).
    const merged = await liveRun(x, 16000, { chunk: 320, awaitEach: false });
    assertFramesEqual('merged pushes', merged.frames, ref);
    const live = session.live(identity);
    await live.push(x, 16000);
    assert.equal(await live.end(), ref.frameCount);
    const late = [];
    for await (const f of live) late.push(f);
    assertFramesEqual('push all, end, then iterate', late, ref);
  });

  test('parity at 44.1 kHz (resampled in the engine), float32 frames and a pose function', async () => {
    const x = speechSeconds(1.03, 44100, 7);
    const yaw = (i) => [1, 0, 0, 0.1 * Math.sin(i), 0, 1, 0, 0, 0, 0, 1, 2.7, 0, 0, 0, 1];
    const ref = await offline('speech-44k-float', { samples: x, sampleRate: 44100 }, { format: 'float32' });
    const r = await liveRun(x, 44100, { chunk: 1000, options: { format: 'float32' } });
    assertFramesEqual('44.1 kHz float32', r.frames, ref);
    assert.ok(r.frames[0].data instanceof Float32Array);
    // A per-frame camera: each frame as renderFrame renders it with that pose.
    const track = await session.prepareAudio({ samples: x, sampleRate: 44100 });
    const posed = await liveRun(x, 44100, { chunk: 4410, options: { pose: yaw } });
    for (const i of [0, 7, posed.frames.length - 1]) {
      const f = await session.renderFrame(identity, { audio: track, frame: i, pose: yaw(i) });
      assert.ok(same(posed.frames[i].data, f.data), `posed frame ${i}`);
    }
    await track.dispose();
  });

  test('frame count follows prepareAudio (partial last frame counts), for any length', async () => {
    for (const [n, rate] of [[1, 16000], [639, 16000], [640, 16000], [641, 16000], [3799, 16000], [16001, 16000], [1763, 44100], [44101, 44100]]) {
      const x = speechSeconds(n / rate, rate, n);
      const ref = await offline(`len-${n}-${rate}`, { samples: x, sampleRate: rate });
      const r = await liveRun(x, rate, { chunk: 333 });
      assert.equal(r.count, ref.frameCount, `${n} samples at ${rate} Hz`);
      assertFramesEqual(`${n} samples at ${rate} Hz`, r.frames, ref);
    }
  });

  test('look-ahead: frame t is ready exactly when the last column of its window is computed', async () => {
    const fe = session.config.audio;
    assert.equal(liveLookaheadSeconds(fe), 0.1975, 'default front end: 3160 samples at 16 kHz past frame 0');
    const x = speechSeconds(1, 16000, 3);
    // Samples (16 kHz) frame t needs: last column c = start(t) + W - 1 reads up to c*hop + n_fft/2.
    const need = (t) => (deformWindowStart(t, fe) + fe.window_frames - 1) * fe.hop + fe.n_fft / 2;
    assert.equal(need(0), 3800);
    const n = binding();
    const stream = n.audioStreamCreate(session._native(), 16000);
    let pushed = 0;
    for (let t = 0; t < 12; t++) {
      const st1 = await n.audioStreamPush(stream, x.subarray(pushed, need(t) - 1));
      pushed = need(t) - 1;
      assert.equal(st1.framesReady, t, `frame ${t} ready one sample early`);
      const st2 = await n.audioStreamPush(stream, x.subarray(pushed, pushed + 1));
      pushed += 1;
      assert.equal(st2.framesReady, t + 1, `frame ${t} not ready at ${need(t)} samples`);
    }
    assert.throws(() => n.audioStreamWindow(stream, 12), /between 0 and 11/);
    stream.dispose();
    // Through the API: nothing before 3800 samples, frame 0 at 3800.
    const live = session.live(identity);
    await live.push(x.subarray(0, 3799), 16000);
    assert.equal(live.stats.framesReady, 0);
    await live.push(x.subarray(3799, 3800), 16000);
    assert.equal(live.stats.framesReady, 1);
    const it = live[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(first.value.index, 0);
    assert.ok(first.value.latencyMs >= 0 && Number.isFinite(first.value.latencyMs));
    assert.ok(first.value.renderMs > 0);
    await it.return();
    assert.equal(live.stats.engineCalls, 0);
    await assert.rejects(live.push(x, 16000), DisposedError);
  });

  test('latency is measured per frame and summarised', async () => {
    // 1 s pushed in 20 ms chunks at twice real time.
    const r = await liveRun(speechSeconds(1, 16000), 16000, { chunk: 320, delayMs: 10 });
    const { latencyMs, renderMs, framesPerSecond } = r.stats;
    console.log(`# latency ms: p50 ${latencyMs.p50.toFixed(1)}, p95 ${latencyMs.p95.toFixed(1)}, max ${latencyMs.max.toFixed(1)}; render ms p50 ${renderMs.p50.toFixed(2)}; ${framesPerSecond.toFixed(1)} frames/s`);
    assert.equal(latencyMs.count, 25);
    assert.equal(renderMs.count, 25);
    for (const f of r.frames) assert.ok(f.latencyMs >= f.renderMs - 1e-6 && f.latencyMs < 10_000, `frame ${f.index}: ${f.latencyMs} ms`);
    // The look-ahead audio arrives at twice real time: ~0.1 s of waiting at least for mid-stream frames.
    const mid = r.frames.slice(2, 15).map((f) => f.latencyMs);
    assert.ok(Math.min(...mid) >= 0.5 * 0.1975 * 1000 * 0.9, `mid-stream latencies ${mid.map((v) => v.toFixed(0))}`);
  });

  test('abort mid-stream: the iterator rejects with AbortError after the engine call in flight; pushes reject; the session goes on', async () => {
    const x = speechSeconds(3, 16000);
    const ac = new AbortController();
    const live = session.live(identity, { signal: ac.signal });
    const got = [];
    let calls;
    const consumer = (async () => {
      for await (const f of live) {
        got.push(f.index);
        if (got.length === 3) ac.abort(new Error('user stop'));
      }
    })().catch((err) => {
      calls = live.stats.engineCalls;
      throw err;
    });
    const pushes = (async () => {
      for (let o = 0; o < x.length; o += 640) await live.push(x.subarray(o, o + 640), 16000);
    })();
    await assert.rejects(consumer, (err) => {
      assert.ok(err instanceof AbortError, String(err));
      assert.equal(err.code, 'ERR_ABORTED');
      assert.equal(err.cause?.message, 'user stop');
      return true;
    });
    assert.equal(calls, 0, 'an engine call was still queued or running when the iterator rejected');
    assert.deepEqual(got, [0, 1, 2]);
    await assert.rejects(pushes, AbortError);
    await assert.rejects(live.push(x.subarray(0, 10), 16000), AbortError);
    await assert.rejects(live.end(), AbortError);
    // Already aborted: the first next() rejects.
    const pre = session.live(identity, { signal: AbortSignal.abort() });
    await assert.rejects(pre[Symbol.asyncIterator]().next(), AbortError);
    // The session is fine.
    const track = await session.prepareAudio({ samples: x.subarray(0, 8000), sampleRate: 16000 });
    const f = await session.renderFrame(identity, { audio: track, frame: 0 });
    assert.equal(f.width, session.config.image_size);
    await track.dispose();
  });

  test("slow consumer, 'buffer': every frame, at most maxBuffered waiting, pipeFrom paced by drain()", async () => {
    const x = speechSeconds(2, 16000, 5);
    const wav = wavBytes([x], 16000);
    const ref = await offline('speech-2s-wav', wav);
    const live = session.live(identity, { backpressure: 'buffer', maxBuffered: 3 });
    const piping = live.pipeFrom(Readable.from(chunks(wav, 1280), { objectMode: true })); // 20 ms per chunk
    const got = [];
    const pushedAt = [];
    for await (const f of live) {
      got.push(f);
      pushedAt.push(live.stats.samplesPushed);
      await sleep(8);
    }
    assert.deepEqual(await piping, { samples: x.length, sampleRate: 16000 });
    assertFramesEqual('buffer mode', got, ref);
    const st = live.stats;
    assert.equal(st.framesDropped, 0);
    assert.ok(st.maxBufferedSeen <= 3, `maxBufferedSeen ${st.maxBufferedSeen}`);
    // Reading waits for the consumer: when frame k is handed out, no more audio was read than
    // the frames waiting allow (k + 1 taken, 3 buffered, 1 rendering, the look-ahead, one chunk).
    for (let k = 0; k < pushedAt.length; k++) {
      const bound = Math.min(x.length, (k + 1 + 3 + 1) * 640 + 3800 + 640);
      assert.ok(pushedAt[k] <= bound, `frame ${k}: ${pushedAt[k]} samples read (bound ${bound}): the source was not paced`);
    }
  });

  test("slow consumer, 'drop': gaps in index, counted, the frames that come are exact", async () => {
    const x = speechSeconds(2, 16000, 6);
    const ref = await offline('speech-2s-drop', { samples: x, sampleRate: 16000 });
    // Everything at once: all but maxBuffered of the ready frames are dropped.
    const r = await liveRun(x, 16000, { chunk: x.length, options: { backpressure: 'drop', maxBuffered: 2 } });
    assert.equal(r.count, ref.frameCount);
    assert.ok(r.frames.length < ref.frameCount / 2, `${r.frames.length} frames delivered`);
    assert.equal(r.stats.framesDropped + r.frames.length, ref.frameCount);
    // Real-time-ish audio (40 ms every 20 ms) and a consumer taking 60 ms per frame.
    const live = session.live(identity, { backpressure: 'drop', maxBuffered: 2 });
    const got = [];
    const consumer = (async () => {
      for await (const f of live) {
        got.push(f);
        await sleep(60);
      }
    })();
    for (let o = 0; o < x.length; o += 640) {
      await live.push(x.subarray(o, o + 640), 16000);
      await sleep(20);
    }
    await live.end();
    await consumer;
    const st = live.stats;
    console.log(`# drop: ${got.length} delivered, ${st.framesDropped} dropped of ${st.frameCount}; latency max ${st.latencyMs.max.toFixed(0)} ms`);
    assert.ok(st.framesDropped > 0, 'nothing dropped');
    assert.equal(st.framesDropped + got.length, ref.frameCount);
    assert.ok(st.maxBufferedSeen <= 2);
    let gaps = 0;
    for (let i = 0; i < got.length; i++) {
      const prev = i === 0 ? -1 : got[i - 1].index;
      assert.ok(got[i].index > prev, 'indices increase');
      gaps += got[i].index - prev - 1;
      assert.equal(got[i].dropped, gaps, `frame ${got[i].index}: dropped counter`);
      assert.ok(same(got[i].data, ref.frames[got[i].index].data), `frame ${got[i].index} differs from the offline render`);
    }
    gaps += ref.frameCount - 1 - got[got.length - 1].index;
    assert.equal(gaps, st.framesDropped);
  });

  test('malformed input: typed errors; a bad chunk is rejected whole and the stream goes on', async () => {
    const x = speechSeconds(0.5, 16000, 9);
    const live = session.live(identity);
    const bad = new Float32Array(100);
    bad[37] = NaN;
    await assert.rejects(live.push(bad, 16000), { name: 'InputAudioError', code: 'ERR_INPUT_AUDIO', message: 'Expected finite audio samples but received NaN at index 37' });
    await assert.rejects(live.push([0.1, 0.2], 16000), { name: 'InvalidArgumentError', message: 'Expected a Float32Array of mono samples for samples but received an array of length 2' });
    await assert.rejects(live.push(new Int16Array(4), 16000), /Expected a Float32Array of mono samples for samples but received a Int16Array of length 4/);
    await assert.rejects(live.push(x, '16000'), InvalidArgumentError);
    await assert.rejects(live.push(x, 4000), { name: 'InputAudioError', message: 'Expected a sample rate between 8000 and 192000 Hz for audio but received 4000' });
    await live.push(x.subarray(0, 4000), 16000);
    await assert.rejects(live.push(x.subarray(4000, 4010), 48000), { name: 'InputAudioError', message: /Expected the stream's sample rate, 16000 Hz, for sampleRate but received 48000/ });
    const inf = x.slice(4000, 4100);
    inf[5] = -Infinity;
    await assert.rejects(live.push(inf, 16000), /received -Infinity at index 4005/);
    await live.push(x.subarray(4000), 16000);
    const count = await live.end();
    await assert.rejects(live.push(x, 16000), { name: 'InvalidArgumentError', message: 'The live stream has ended: push() after end() is not possible' });
    const frames = [];
    for await (const f of live) frames.push(f);
    const ref = await offline('speech-0.5s', { samples: x, sampleRate: 16000 });
    assert.equal(count, ref.frameCount);
    assertFramesEqual('after rejected chunks', frames, ref);
    assert.throws(() => live.frames(), /iterated only once/);

    // end() without audio: InputAudioError, and the iterator rejects with it.
    const empty = session.live(identity);
    await empty.push(new Float32Array(0), 16000);
    await assert.rejects(empty.end(), { name: 'InputAudioError', message: 'Expected at least one audio sample before end() but received none' });
    await assert.rejects(empty[Symbol.asyncIterator]().next(), InputAudioError);

    // Options and arguments.
    assert.throws(() => session.live(identity, { backpressure: 'block' }), /Expected one of 'buffer', 'drop' for backpressure but received "block"/);
    assert.throws(() => session.live(identity, { maxBuffered: 0 }), /Expected an integer between 1 and 100000 for maxBuffered but received 0/);
    assert.throws(() => session.live(identity, { format: 'rgb' }), InvalidArgumentError);
    assert.throws(() => session.live(identity, { pose: [1, 2, 3] }), InvalidArgumentError);
    assert.throws(() => session.live({}), /Expected an Identity/);
    other = await createSession({ model: tinyModel, threads: 1, backend: 'cpu' });
    assert.throws(() => other.live(identity), /different session/);
    assert.ok(session.live(identity) instanceof LiveStream);
  });

  test('pipeFrom: a WAV in 3-byte pieces (stereo, 44.1 kHz, streamed header), raw f32le from a WHATWG ReadableStream', async () => {
    const l = speechSeconds(1, 44100, 11), r = speechSeconds(1, 44100, 12);
    const wav = wavBytes([l, r], 44100, { streamed: true });
    const ref = await offline('stereo-wav', wavBytes([l, r], 44100));
    const live = session.live(identity);
    const [piped, frames] = await Promise.all([
      live.pipeFrom(Readable.from(chunks(wav, 3), { objectMode: true })),
      (async () => {
        const out = [];
        for await (const f of live) out.push(f);
        return out;
      })(),
    ]);
    assert.deepEqual(piped, { samples: 44100, sampleRate: 44100 });
    assertFramesEqual('stereo WAV stream', frames, ref);

    const x = speechSeconds(0.8, 16000, 13);
    const bytes = Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    const web = new ReadableStream({
      start(c) {
        for (const piece of chunks(bytes, 999)) c.enqueue(new Uint8Array(piece));
        c.close();
      },
    });
    const ref2 = await offline('f32le', { samples: x, sampleRate: 16000 });
    const live2 = session.live(identity);
    const piping = live2.pipeFrom(web, { format: 'f32le', sampleRate: 16000 });
    const frames2 = [];
    for await (const f of live2) frames2.push(f);
    await piping;
    assertFramesEqual('f32le ReadableStream', frames2, ref2);
  });

  test('pipeFrom: malformed bytes fail the stream with InputAudioError', async () => {
    const consume = async (live) => {
      for await (const _ of live);
    };
    // s16le with an odd byte count.
    const odd = session.live(identity);
    const p1 = odd.pipeFrom(Readable.from([Buffer.alloc(3201)]), { format: 's16le', sampleRate: 16000 });
    const msg = 'Expected whole samples but the raw audio ended with 1 byte that is not a whole 2-byte s16le sample (3201 bytes in all)';
    await assert.rejects(p1, { name: 'InputAudioError', message: msg });
    await assert.rejects(consume(odd), { name: 'InputAudioError', message: msg });
    // Not awaited: the error comes through the iterator, and is no unhandled rejection.
    const unhandled = [];
    const onUnhandled = (err) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    const loose = session.live(identity);
    loose.pipeFrom(Readable.from([Buffer.alloc(5)]), { format: 'f32le', sampleRate: 16000 });
    await assert.rejects(consume(loose), /ended with 1 byte that is not a whole 4-byte f32le sample/);
    await sleep(20);
    process.off('unhandledRejection', onUnhandled);
    assert.deepEqual(unhandled, []);
    // Not a WAV.
    const notWav = session.live(identity);
    await assert.rejects(notWav.pipeFrom(Readable.from([Buffer.from('ID3\x03 this is an mp3')])), /Expected a WAV stream \(RIFF\/WAVE\) for audio but received bytes starting with "ID3"/);
    await assert.rejects(consume(notWav), InputAudioError);
    // NaN in f32le.
    const nan = new Float32Array([0, 0.5, NaN, 0]);
    await assert.rejects(
      session.live(identity).pipeFrom(Readable.from([Buffer.from(nan.buffer)]), { format: 'f32le', sampleRate: 16000 }),
      /Expected finite audio samples but received NaN at index 2/,
    );
    // A WAV header cut short; strings instead of bytes; bad options.
    await assert.rejects(session.live(identity).pipeFrom(Readable.from([wavBytes([new Float32Array(10)], 16000).subarray(0, 30)])), /ended after 30 bytes, before its 'fmt ' chunk/);
    await assert.rejects(session.live(identity).pipeFrom(['RIFF']), /Expected audio bytes .* but the stream produced "RIFF"/);
    await assert.rejects(session.live(identity).pipeFrom(Readable.from([Buffer.alloc(4)]), { format: 's16le' }), /Expected a positive integer sampleRate for raw s16le PCM/);
    await assert.rejects(session.live(identity).pipeFrom(Readable.from([Buffer.alloc(4)]), { sampleRate: 16000 }), /sampleRate is only for raw PCM/);
    // decodeAudioStream on its own: channels are averaged.
    const st = Buffer.alloc(8);
    st.writeInt16LE(16384, 0);
    st.writeInt16LE(0, 2);
    st.writeInt16LE(-32768, 4);
    st.writeInt16LE(0, 6);
    const out = [];
    for await (const c of decodeAudioStream([st], { format: 's16le', sampleRate: 8000, channels: 2 })) out.push(...c.samples);
    assert.deepEqual(out, [0.25, -0.5]);
  });
});
