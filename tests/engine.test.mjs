// API tests that need a working engine and the tiny fixture model
// (tests/fixtures/tiny/model.safetensors, image_size 64). They fail, not skip,
// while the engine is missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  createSession, frontalPose, poseFromAngles,
  AbortError, DisposedError, InputImageError, InvalidArgumentError, ModelFormatError, NoFaceError,
} from '../lib/index.js';
import { requireFixture, syntheticImage, tinyModel, tone } from './helpers/fixtures.mjs';

const tmp = mkdtempSync(join(tmpdir(), 's3d-engine-'));

describe('model loading', () => {
  test('a file with a wrong magic -> ModelFormatError naming the path', async () => {
    const p = join(tmp, 'wrong-magic.safetensors');
    writeFileSync(p, Buffer.from('GIF89a this is not a safetensors file at all, but long enough.'));
    await assert.rejects(createSession({ model: p }), (e) => e instanceof ModelFormatError && e.message.includes(p));
  });

  test('a truncated header -> ModelFormatError naming the path', async () => {
    const p = join(tmp, 'short.safetensors');
    writeFileSync(p, readFileSync(requireFixture(tinyModel)).subarray(0, 100));
    await assert.rejects(createSession({ model: p }), (e) => e instanceof ModelFormatError && e.message.includes(p));
    const q = join(tmp, 'tiny.safetensors');
    writeFileSync(q, Buffer.from([1, 2, 3]));
    await assert.rejects(createSession({ model: q }), (e) => e instanceof ModelFormatError && e.message.includes(q));
  });
});

describe('session with the tiny model', () => {
  let session;
  let identity;
  let audio;
  const size = 64;

  before(async () => {
    session = await createSession({ model: requireFixture(tinyModel), threads: 2 });
    identity = await session.encodeIdentity(syntheticImage(size), { aligned: true });
    audio = await session.prepareAudio(tone(0.5));
  });
  after(async () => {
    await session?.dispose();
  });

  test('session properties', () => {
    assert.equal(session.backend, 'cpu');
    assert.equal(session.config.image_size, size);
    assert.equal(session.config.name, 'tiny');
    assert.equal(session.config.audio.fps, 25);
    assert.equal(session.threads, 2);
    assert.equal(session.metadata.format, 's3d-nerf');
  });

  test('backend auto picks cpu', async () => {
    const s = await createSession({ model: tinyModel, backend: 'auto', threads: 1 });
    assert.equal(s.backend, 'cpu');
    await s.dispose();
  });

  test('audio track metadata', () => {
    assert.equal(audio.frameCount, 13); // 0.5 s at 25 fps, partial last frame counts
    assert.equal(audio.sampleRate, 16000);
    assert.equal(audio.duration, 0.5);
  });

  test('encodeIdentity of a photo without a face: NoFaceError', async () => {
    await assert.rejects(session.encodeIdentity(syntheticImage(size)), (e) => {
      assert.ok(e instanceof NoFaceError);
      assert.equal(e.code, 'ERR_NO_FACE');
      assert.match(e.message, /No face found/);
      return true;
    });
  });

  test('bad images through the session', async () => {
    const fake = join(tmp, 'text.png');
    writeFileSync(fake, 'hello');
    await assert.rejects(session.encodeIdentity(fake, { aligned: true }), InputImageError);
    await assert.rejects(session.encodeIdentity(Buffer.alloc(0), { aligned: true }), InputImageError);
    await assert.rejects(
      session.encodeIdentity({ data: new Uint8Array(7), width: size, height: size, channels: 3 }, { aligned: true }),
      /Expected 12288 values/,
    );
    await assert.rejects(session.encodeIdentity(syntheticImage(size), { aligned: true, pose: [1, 2, 3] }), InvalidArgumentError);
    await assert.rejects(session.encodeIdentity(syntheticImage(size), { aligned: true, mask: new Float32Array(3) }), InvalidArgumentError);
  });

  test('renderFrame: uint8 by default, size x size x 3', async () => {
    const f = await session.renderFrame(identity, { audio, frame: 0 });
    assert.equal(f.width, size);
    assert.equal(f.height, size);
    assert.equal(f.channels, 3);
    assert.ok(f.data instanceof Uint8Array);
    assert.equal(f.data.length, size * size * 3);
  });

  test('renderFrame: float32 output is finite, not constant, deterministic and matches the uint8 output', async () => {
    const f = await session.renderFrame(identity, { audio, frame: 3, pose: poseFromAngles({ yaw: 10 }), format: 'float32' });
    assert.ok(f.data instanceof Float32Array);
    assert.equal(f.data.length, size * size * 3);
    let min = Infinity;
    let max = -Infinity;
    for (const v of f.data) {
      assert.ok(Number.isFinite(v));
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    // The fixture model has random weights, so the range is not [0,1]; it must still be an image.
    assert.ok(max - min > 1e-3, `constant image: range [${min}, ${max}]`);
    const again = await session.renderFrame(identity, { audio, frame: 3, pose: poseFromAngles({ yaw: 10 }), format: 'float32' });
    assert.deepEqual(again.data, f.data);
    const u = await session.renderFrame(identity, { audio, frame: 3, pose: poseFromAngles({ yaw: 10 }) });
    for (let i = 0; i < u.data.length; i += 97) assert.equal(u.data[i], Math.min(255, Math.max(0, Math.round(f.data[i] * 255))));
  });

  test('renderFrame argument checks', async () => {
    await assert.rejects(session.renderFrame(identity, { audio, frame: audio.frameCount }), /Expected an integer between 0 and 12 for frame/);
    await assert.rejects(session.renderFrame(identity, { audio, frame: -1 }), InvalidArgumentError);
    await assert.rejects(session.renderFrame(identity, { audio: {}, frame: 0 }), /AudioTrack/);
    await assert.rejects(session.renderFrame({}, { audio, frame: 0 }), /Identity/);
    await assert.rejects(session.renderFrame(identity, { audio, frame: 0, format: 'png' }), /format/);
  });

  test('the event loop keeps ticking during a render', async () => {
    // One engine thread, so a core is left for the event loop on a 2-core machine
    // (with two, the tiny model's ~5 ms render can starve it by itself); a blocking
    // call would give 0 ticks however many cores there are.
    const s1 = await createSession({ model: tinyModel, threads: 1, backend: 'cpu' });
    try {
      const id1 = await s1.encodeIdentity(syntheticImage(size), { aligned: true });
      const audio1 = await s1.prepareAudio(tone(0.5));
      let ticks = 0;
      let running = true;
      const spin = () => {
        if (!running) return;
        ticks++;
        setImmediate(spin);
      };
      setImmediate(spin);
      const t0 = performance.now();
      await s1.renderFrame(id1, { audio: audio1, frame: 1 });
      const ms = performance.now() - t0;
      running = false;
      console.log(`# ${ticks} setImmediate ticks during a ${ms.toFixed(1)} ms render`);
      assert.ok(ticks >= 10, `only ${ticks} ticks: the render blocked the event loop`);
    } finally {
      await s1.dispose();
    }
  });

  test('renderFrames: range, per-frame poses, abort between frames', async () => {
    const frames = await session.renderFrames(identity, { audio, frames: { start: 2, end: 5 } });
    assert.equal(frames.length, 3);
    const poses = [frontalPose(), poseFromAngles({ yaw: 5 })];
    const two = await session.renderFrames(identity, { audio, frames: [0, 1], pose: poses, format: 'float32' });
    assert.equal(two.length, 2);
    assert.ok(two[1].data instanceof Float32Array);
    await assert.rejects(session.renderFrames(identity, { audio, frames: [0, 1], pose: [frontalPose()] }), /one per frame/);

    // Abort once the render has started (the queue has dropped its abort listener,
    // so only the check between frames can reject): AbortError, not a full result.
    const ac = new AbortController();
    const p = session.renderFrames(identity, { audio, signal: ac.signal });
    assert.equal(getEventListeners(ac.signal, 'abort').length, 1, 'queued: the queue listens for an abort');
    for (let i = 0; getEventListeners(ac.signal, 'abort').length > 0; i++) {
      assert.ok(i < 100000, 'the render never started');
      await new Promise((r) => setImmediate(r));
    }
    ac.abort();
    await assert.rejects(p, AbortError);
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(session.renderFrame(identity, { audio, frame: 0, signal: pre.signal }), AbortError);
  });

  test('identities and audio belong to their session', async () => {
    const other = await createSession({ model: tinyModel, threads: 1 });
    await assert.rejects(other.renderFrame(identity, { audio, frame: 0 }), /different session/);
    await other.dispose();
  });
});

describe('dispose', () => {
  test('in-flight render finishes; queued and later calls reject with DisposedError', async () => {
    const s = await createSession({ model: tinyModel, threads: 1 });
    const id = await s.encodeIdentity(syntheticImage(64), { aligned: true });
    const au = await s.prepareAudio(tone(0.2));
    const inflight = s.renderFrame(id, { audio: au, frame: 0 });
    const queued = s.renderFrame(id, { audio: au, frame: 1 });
    await new Promise((r) => setImmediate(r));
    const disposed = s.dispose();
    assert.equal(s.disposed, true);
    const f = await inflight;
    assert.equal(f.data.length, 64 * 64 * 3);
    await assert.rejects(queued, DisposedError);
    await disposed;
    await assert.rejects(s.renderFrame(id, { audio: au, frame: 0 }), DisposedError);
    await assert.rejects(s.encodeIdentity(syntheticImage(64), { aligned: true }), DisposedError);
    await assert.rejects(s.prepareAudio(tone(0.1)), DisposedError);
    assert.throws(() => s.config, DisposedError);
    await s.dispose(); // idempotent
  });

  test('disposed identity and audio throw DisposedError; Symbol.asyncDispose', async () => {
    const s = await createSession({ model: tinyModel, threads: 1 });
    const id = await s.encodeIdentity(syntheticImage(64), { aligned: true });
    const au = await s.prepareAudio(tone(0.2));
    const render = s.renderFrame(id, { audio: au, frame: 0 });
    await id.dispose(); // the render already queued keeps nothing alive in JS...
    await assert.rejects(render, DisposedError); // ...and is rejected when its turn comes
    const id2 = await s.encodeIdentity(syntheticImage(64), { aligned: true });
    await au[Symbol.asyncDispose]();
    assert.equal(au.disposed, true);
    await assert.rejects(s.renderFrame(id2, { audio: au, frame: 0 }), DisposedError);
    await s[Symbol.asyncDispose]();
    assert.equal(s.disposed, true);
  });

  test('a native call in flight keeps its identity alive after dispose (child, --expose-gc)', () => {
    // A full collection runs while the render is in flight and its identity and
    // audio are disposed; the child asserts that gc() exists (--expose-gc).
    const script = `
      import assert from 'node:assert/strict';
      import { createSession } from ${JSON.stringify(new URL('../lib/index.js', import.meta.url).href)};
      import { syntheticImage, tinyModel, tone } from ${JSON.stringify(new URL('./helpers/fixtures.mjs', import.meta.url).href)};
      assert.equal(typeof globalThis.gc, 'function', 'gc() is not exposed (--expose-gc)');
      const s = await createSession({ model: tinyModel, threads: 1 });
      const id = await s.encodeIdentity(syntheticImage(64), { aligned: true });
      const au = await s.prepareAudio(tone(0.2));
      const p = s.renderFrame(id, { audio: au, frame: 0 });
      await new Promise((r) => setImmediate(r)); // let the render start
      await id.dispose();
      await au.dispose();
      gc();
      const f = await p;
      assert.equal(f.data.length, 64 * 64 * 3);
      await s.dispose();
      console.log('ok');
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, `child exited ${r.status ?? r.signal}\n${r.stderr}`);
    assert.equal(r.stdout.trim(), 'ok');
  });
});

