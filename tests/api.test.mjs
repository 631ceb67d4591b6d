// API validation that needs no working engine (only the TypeScript layer and
// the addon's load). Run: npm test
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import {
  createSession, frontalPose, poseFromAngles, toPoseMatrix, cpuFeatures, templateMask,
  S3DError, InvalidArgumentError, InputImageError, ModelFormatError, BackendUnavailableError,
  DisposedError, AbortError, NotImplementedError, InputAudioError, OutOfMemoryError, InternalError,
} from '../lib/index.js';
import { fromNative } from '../lib/internal.js';
import { decodeImage } from '../lib/image.js';
import { fillPolygon, landmarkPolygon } from '../lib/mask.js';
import { SerialQueue } from '../lib/queue.js';
import { tinyModel } from './helpers/fixtures.mjs';

const tmp = mkdtempSync(join(tmpdir(), 's3d-api-'));

test('threads must be a positive integer', async () => {
  await assert.rejects(createSession({ model: tinyModel, threads: -1 }), {
    name: 'InvalidArgumentError',
    code: 'ERR_INVALID_ARG',
    message: 'Expected a positive integer for threads but received -1',
  });
  await assert.rejects(createSession({ model: tinyModel, threads: 1.5 }), InvalidArgumentError);
  await assert.rejects(createSession({ model: tinyModel, threads: '2' }), /but received "2"/);
});

test('backend must be auto, cpu or cuda', async () => {
  await assert.rejects(createSession({ model: tinyModel, backend: 'gpu' }), {
    code: 'ERR_INVALID_ARG',
    message: "Expected one of 'auto', 'cpu', 'cuda' for backend but received \"gpu\"",
  });
});

test("backend 'cuda' throws BackendUnavailableError", async () => {
  await assert.rejects(createSession({ model: tinyModel, backend: 'cuda' }), (err) => {
    assert.ok(err instanceof BackendUnavailableError);
    assert.ok(err instanceof S3DError);
    assert.equal(err.code, 'ERR_BACKEND_UNAVAILABLE');
    assert.match(err.message, /the CUDA backend is not available: \(1\) /i);
    assert.ok(Array.isArray(err.reasons) && err.reasons.length > 0, 'reasons');
    return true;
  });
});

test('options must be an object', async () => {
  await assert.rejects(createSession(42), /Expected an object for options but received 42/);
  await assert.rejects(createSession({ signal: 'x' }), /Expected an AbortSignal for signal/);
});

test('a misspelt option is an error, not ignored', async () => {
  await assert.rejects(createSession({ model: tinyModel, thread: 2 }), {
    name: 'InvalidArgumentError',
    code: 'ERR_INVALID_ARG',
    message: 'Unknown option "thread" for createSession (known: model, backend, threads, precision, signal)',
  });
  const session = await createSession({ model: tinyModel, threads: 1, backend: 'cpu' });
  try {
    const n = session.config.image_size;
    const image = { data: new Uint8Array(n * n * 3).fill(90), width: n, height: n, channels: 3 };
    await assert.rejects(session.encodeIdentity(image, { aligned: true, align: false }), /Unknown option "align" for encodeIdentity/);
    const identity = await session.encodeIdentity(image, { aligned: true });
    const audio = await session.prepareAudio({ samples: new Float32Array(8000), sampleRate: 16000 });
    await assert.rejects(session.prepareAudio({ samples: new Float32Array(8000), sampleRate: 16000 }, { signl: null }),
      /Unknown option "signl" for prepareAudio \(known: signal\)/);
    await assert.rejects(session.renderFrame(identity, { audio, frame: 0, fromat: 'float32' }), /Unknown option "fromat" for renderFrame/);
    await assert.rejects(session.renderFrames(identity, { audio, frame: [0] }), /Unknown option "frame" for renderFrames/);
    assert.throws(() => session.live(identity, { backPressure: 'drop' }), /Unknown option "backPressure" for live/);
    // The known options still work.
    const f = await session.renderFrame(identity, { audio, frame: 0, format: 'float32' });
    assert.equal(f.data.length, n * n * 3);
  } finally {
    await session.dispose();
  }
});

test('missing model file -> ModelFormatError naming the path', async () => {
  const missing = join(tmp, 'nope.safetensors');
  await assert.rejects(createSession({ model: missing }), (err) => {
    assert.ok(err instanceof ModelFormatError);
    assert.equal(err.code, 'ERR_MODEL_FORMAT');
    assert.ok(err.message.includes(missing), err.message);
    return true;
  });
});

test('an aborted signal rejects with AbortError before loading', async () => {
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(createSession({ model: tinyModel, signal: ac.signal }), (err) => {
    assert.ok(err instanceof AbortError);
    assert.equal(err.code, 'ERR_ABORTED');
    assert.equal(err.cause.message, 'stop');
    return true;
  });
});

test('error classes carry stable codes', () => {
  const cases = [
    [InvalidArgumentError, 'ERR_INVALID_ARG'], [InputImageError, 'ERR_INPUT_IMAGE'],
    [InputAudioError, 'ERR_INPUT_AUDIO'], [ModelFormatError, 'ERR_MODEL_FORMAT'],
    [BackendUnavailableError, 'ERR_BACKEND_UNAVAILABLE'], [DisposedError, 'ERR_DISPOSED'],
    [AbortError, 'ERR_ABORTED'], [NotImplementedError, 'ERR_NOT_IMPLEMENTED'],
    [OutOfMemoryError, 'ERR_OUT_OF_MEMORY'], [InternalError, 'ERR_INTERNAL'],
  ];
  for (const [Ctor, code] of cases) {
    const e = new Ctor('m');
    assert.equal(e.code, code);
    assert.equal(e.name, Ctor.name);
    assert.ok(e instanceof S3DError && e instanceof Error);
    // native errors map by code
    const n = Object.assign(new Error('native'), { code });
    const mapped = fromNative(n, '/some/model');
    assert.ok(mapped instanceof Ctor, code);
    assert.equal(mapped.message, '/some/model: native');
    assert.equal(mapped.cause, n);
  }
  assert.ok(fromNative(new Error('x')) instanceof InternalError);
});

test('the addon loads and reports CPU features', () => {
  const f = cpuFeatures();
  assert.equal(typeof f.avx2, 'boolean');
  assert.equal(typeof f.summary, 'string');
  assert.ok(f.hardwareThreads >= 1);
});

test('pose validation', () => {
  const frontal = [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1];
  assert.deepEqual(frontalPose(), frontal);
  assert.deepEqual(Array.from(toPoseMatrix(frontal)), Array.from(Float32Array.from(frontal)));
  const nested = [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 2.7], [0, 0, 0, 1]];
  assert.deepEqual(Array.from(toPoseMatrix(nested)), Array.from(toPoseMatrix(frontal)));
  assert.deepEqual(Array.from(toPoseMatrix(new Float32Array(frontal))), Array.from(toPoseMatrix(frontal)));

  const bad = (p, re) => assert.throws(() => toPoseMatrix(p), (e) => e instanceof InvalidArgumentError && re.test(e.message));
  bad(frontal.slice(0, 15), /15 values/);
  bad([...frontal.slice(0, 15), NaN], /non-finite/);
  bad([...frontal.slice(0, 12), 0, 0, 1, 1], /last row/);
  bad([2, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1], /not orthonormal/);
  bad([-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1], /reflection/);
  bad('frontal', /received "frontal"/);
  bad([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]], /rows/);
  // within 1e-3 is accepted
  toPoseMatrix([1.0004, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1]);
});

test('poseFromAngles orbits at radius 2.7 and aims at the look-at point', () => {
  const close = (a, b) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) < 1e-9, `${i}: ${v} vs ${b[i]}`));
  close(poseFromAngles({}), frontalPose());
  close(poseFromAngles({ yaw: 0, pitch: 0, roll: 0 }), frontalPose());
  for (const a of [{ yaw: 30 }, { pitch: -20 }, { yaw: -45, pitch: 10, roll: 15 }]) {
    const p = poseFromAngles(a);
    toPoseMatrix(p); // valid rotation
    const pos = [p[3], p[7], p[11]];
    assert.ok(Math.abs(Math.hypot(...pos) - 2.7) < 1e-9);
    const fwd = [p[2], p[6], p[10]];
    const to = [0 - pos[0], 0 - pos[1], 0.2 - pos[2]];
    const n = Math.hypot(...to);
    close(fwd, to.map((v) => v / n));
  }
  assert.ok(poseFromAngles({ yaw: 30 })[3] > 0, 'positive yaw moves the camera to +x');
  assert.ok(poseFromAngles({ pitch: 20 })[7] > 0, 'positive pitch moves the camera up (+y)');
  assert.throws(() => poseFromAngles({ pitch: 90 }), InvalidArgumentError);
  assert.throws(() => poseFromAngles({ yaw: NaN }), InvalidArgumentError);
});

test('bad images are rejected with InputImageError', async () => {
  const fake = join(tmp, 'not-an-image.png');
  writeFileSync(fake, 'this is text, not a PNG\n');
  await assert.rejects(decodeImage(fake, 64), (e) => e instanceof InputImageError && e.message.includes(fake));
  await assert.rejects(decodeImage(Buffer.alloc(0), 64), (e) => e instanceof InputImageError && /empty/.test(e.message));
  await assert.rejects(decodeImage(join(tmp, 'missing.png'), 64), /Cannot read the image file/);
  await assert.rejects(decodeImage({ data: new Uint8Array(100), width: 64, height: 64, channels: 3 }, 64), {
    code: 'ERR_INPUT_IMAGE',
    message: 'Expected 12288 values for a 64x64x3 raw image but received 100',
  });
  await assert.rejects(decodeImage({ data: new Uint8Array(30 * 20 * 3), width: 30, height: 20, channels: 3 }, 64), /square/);
  await assert.rejects(decodeImage({ data: new Uint8Array(12), width: 2, height: 2, channels: 2 }, 64), /channels/);
  await assert.rejects(decodeImage(12, 64), InputImageError);
});

test('raw and encoded images decode to size*size*3 floats in [0,1]', async () => {
  const raw = { data: new Uint8Array(32 * 32 * 4).fill(255), width: 32, height: 32, channels: 4 };
  const d = await decodeImage(raw, 64);
  assert.equal(d.rgb.length, 64 * 64 * 3);
  assert.ok(d.rgb.every((v) => v >= 0 && v <= 1));
  const sharp = (await import('sharp')).default;
  const png = await sharp({ create: { width: 64, height: 64, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 1 } } }).png().toBuffer();
  const e = await decodeImage(png, 64);
  assert.deepEqual(Array.from(e.rgb.slice(0, 3)), [1, 0, 0]);
});

test('masks: template ellipse and landmark polygon', () => {
  const m = templateMask(256);
  assert.equal(m.length, 256 * 256);
  assert.equal(m[Math.round(0.6 * 256) * 256 + 128], 1, 'centre of the face is inside');
  assert.equal(m[5 * 256 + 5], 0, 'corner is outside');
  // A square "face": jaw 0..16 along the bottom/sides, brows 17..26 along the top.
  const pts = Array.from({ length: 68 }, () => [0, 0]);
  for (let i = 0; i <= 16; i++) pts[i] = [10 + (i / 16) * 40, 50];   // jaw: left to right at y=50
  for (let i = 17; i <= 26; i++) pts[i] = [10 + ((i - 17) / 9) * 40, 10]; // brows: left to right at y=10
  const poly = landmarkPolygon(pts);
  assert.equal(poly.length, 27);
  const mask = fillPolygon(poly, 64);
  let area = 0;
  for (const v of mask) area += v;
  assert.ok(Math.abs(area - 40 * 40) <= 80, `area ${area}`);
  assert.throws(() => landmarkPolygon(pts.slice(0, 10)), InvalidArgumentError);
});

test('serial queue: one at a time, in order; abort before start; close', async () => {
  const q = new SerialQueue(() => new DisposedError('closed'));
  const log = [];
  let running = 0;
  const job = (name, ms) => async () => {
    running++;
    assert.equal(running, 1, 'never two at once');
    log.push(`start ${name}`);
    await new Promise((r) => setTimeout(r, ms));
    log.push(`end ${name}`);
    running--;
    return name;
  };
  const ac = new AbortController();
  const a = q.run(job('a', 30));
  const b = q.run(job('b', 5), ac.signal);
  const c = q.run(job('c', 5));
  ac.abort();
  await assert.rejects(b, AbortError);
  assert.deepEqual(await Promise.all([a, c]), ['a', 'c']);
  assert.deepEqual(log, ['start a', 'end a', 'start c', 'end c']);

  const inflight = q.run(job('d', 20));
  const queued = q.run(job('e', 1));
  await new Promise((r) => setImmediate(r));
  const closed = q.close();
  await assert.rejects(q.run(job('f', 1)), DisposedError);
  assert.equal(await inflight, 'd', 'the task in flight finishes');
  await assert.rejects(queued, DisposedError);
  await closed;
  assert.ok(!log.includes('start e') && !log.includes('start f'));
});
