// Issue 7 ("never crash, never lose work"), engine level: every bad input is
// rejected with the right typed error and a one-line message naming what was
// wrong; nothing takes the process down. The nastiest cases also run in a
// child process that must exit normally. Runs in a few seconds.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';

import {
  createSession, frontalPose,
  InputAudioError, InputImageError, InvalidArgumentError, ModelFormatError, S3DError,
} from '../lib/index.js';
import { NoFaceError, OutOfMemoryError, fromNative } from '../lib/errors.js';
import { decodeImage, MAX_INPUT_PIXELS } from '../lib/image.js';
import { binding } from '../lib/internal.js';
import { root, requireFixture, syntheticImage, tinyModel, tone } from './helpers/fixtures.mjs';
import { joinSafetensors, splitSafetensors } from './helpers/safetensors.mjs';

const tmp = mkdtempSync(join(tmpdir(), 's3d-robust-'));
const SIZE = 64;

// ---------------------------------------------------------------- helpers

async function encoded(format) {
  const img = syntheticImage(SIZE);
  return sharp(Buffer.from(img.data), { raw: { width: SIZE, height: SIZE, channels: 3 } })[format]().toBuffer();
}

function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A valid-looking PNG whose header declares width x height (RGB 8-bit), with a tiny IDAT. */
function pngDeclaring(width, height) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(Buffer.alloc(4096))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A JPEG whose SOF0 frame header is rewritten to declare width x height. */
function jpegDeclaring(jpg, width, height) {
  const b = Buffer.from(jpg);
  for (let i = 2; i < b.length - 9; i++)
    if (b[i] === 0xff && (b[i + 1] === 0xc0 || b[i + 1] === 0xc2)) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      return b;
    }
  throw new Error('no SOF marker');
}

/** A RIFF/WAVE file: fmt fields and the data bytes. */
function wav({ format = 1, channels = 1, rate = 16000, bits = 16, data = Buffer.alloc(0), blockAlign, riffSize, dataSize } = {}) {
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(format, 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(rate, 4);
  const ba = blockAlign ?? channels * (bits / 8);
  fmt.writeUInt32LE(rate * ba, 8);
  fmt.writeUInt16LE(ba, 12);
  fmt.writeUInt16LE(bits, 14);
  const dh = Buffer.alloc(8);
  dh.write('data', 0, 'latin1');
  dh.writeUInt32LE(dataSize ?? data.length, 4);
  const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), Buffer.from('fmt ', 'latin1'), Buffer.from([16, 0, 0, 0]), fmt, dh, data]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(riffSize ?? body.length, 4);
  return Buffer.concat([head, body]);
}

function pcm16(samples) {
  const b = Buffer.alloc(samples.length * 2);
  samples.forEach((v, i) => b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), 2 * i));
  return b;
}

// Model surgery on the tiny fixture: header JSON edits keep the data section.
const tinyBytes = readFileSync(requireFixture(tinyModel));
const splitModel = () => splitSafetensors(tinyBytes);
/** Writes a variant of the tiny model: edit(header, data) may mutate the header or return new data. */
function variant(name, edit) {
  const { header, data } = splitModel();
  const out = edit(header, data) ?? data;
  const p = join(tmp, `${name}.safetensors`);
  writeFileSync(p, joinSafetensors(header, out));
  return p;
}
function editConfig(edit) {
  return (h) => {
    const c = JSON.parse(h.__metadata__.config);
    edit(c);
    h.__metadata__.config = JSON.stringify(c);
  };
}
const tensorNames = Object.keys(splitModel().header).filter((k) => k !== '__metadata__').sort();
const firstTensor = tensorNames[0];

async function rejectsWith(promise, Cls, re) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof Cls, `expected ${Cls.name} but got ${e?.name}: ${e?.message}`);
    assert.ok(e instanceof S3DError);
    if (re) assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), `message is not one line: ${JSON.stringify(e.message)}`);
    return true;
  });
}

// ---------------------------------------------------------------- errors

test('typed error set: every code and class, NoFaceError, bad_alloc -> OutOfMemoryError', () => {
  const e = new NoFaceError();
  assert.equal(e.code, 'ERR_NO_FACE');
  assert.ok(e instanceof S3DError);
  assert.match(e.message, /No face was found.*: /);
  for (const code of ['ERR_INPUT_IMAGE', 'ERR_INPUT_AUDIO', 'ERR_NO_FACE', 'ERR_MODEL_FORMAT', 'ERR_BACKEND_UNAVAILABLE',
    'ERR_OUT_OF_MEMORY', 'ERR_DISPOSED', 'ERR_ABORTED']) {
    const err = fromNative(Object.assign(new Error('x'), { code }));
    assert.equal(err.code, code);
    assert.notEqual(err.name, 'InternalError');
  }
  // cpp/napi/errors.cc maps std::bad_alloc to { code: 'ERR_OUT_OF_MEMORY', message: 'out of memory' }.
  const oom = fromNative(Object.assign(new Error('out of memory'), { code: 'ERR_OUT_OF_MEMORY' }));
  assert.ok(oom instanceof OutOfMemoryError);
  assert.match(oom.message, /ran out of memory: dispose unused sessions/);
  assert.match(new OutOfMemoryError().message, /ran out of memory/);
});

// ---------------------------------------------------------------- images

describe('bad images -> InputImageError', () => {
  let png;
  let jpg;
  before(async () => {
    png = await encoded('png');
    jpg = await encoded('jpeg');
  });

  test('empty, truncated and corrupt PNG / JPEG buffers', async () => {
    await rejectsWith(decodeImage(Buffer.alloc(0), SIZE), InputImageError, /empty/);
    await rejectsWith(decodeImage(png.subarray(0, 8), SIZE), InputImageError);
    await rejectsWith(decodeImage(png.subarray(0, png.length >> 1), SIZE), InputImageError);
    await rejectsWith(decodeImage(jpg.subarray(0, 2), SIZE), InputImageError);
    await rejectsWith(decodeImage(jpg.subarray(0, jpg.length >> 1), SIZE), InputImageError, /premature end/);
    await rejectsWith(decodeImage(jpg.subarray(0, jpg.length - 2), SIZE), InputImageError);
    const badCrc = Buffer.from(png);
    badCrc[png.indexOf('IDAT') + 10] ^= 0xff; // damaged compressed data
    await rejectsWith(decodeImage(badCrc, SIZE), InputImageError);
    const badJpg = Buffer.from(jpg);
    for (let i = 200; i < badJpg.length - 2; i += 7) badJpg[i] ^= 0x5a;
    await rejectsWith(decodeImage(badJpg, SIZE), InputImageError);
    await rejectsWith(decodeImage(Buffer.from('not an image at all'), SIZE), InputImageError);
    await rejectsWith(decodeImage(new Uint8Array(1000), SIZE), InputImageError);
  });

  test('a text file named .png, a directory, a missing file', async () => {
    const txt = join(tmp, 'notes.png');
    writeFileSync(txt, 'hello, I am a text file\n');
    await rejectsWith(decodeImage(txt, SIZE), InputImageError, /notes\.png/);
    const dir = join(tmp, 'dir.png');
    mkdirSync(dir, { recursive: true });
    await rejectsWith(decodeImage(dir, SIZE), InputImageError, /dir\.png/);
    await rejectsWith(decodeImage(join(tmp, 'missing.png'), SIZE), InputImageError, /missing\.png/);
  });

  test(`decompression bombs are refused from the header (cap ${MAX_INPUT_PIXELS / (1 << 20)} Mpx)`, async () => {
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    await rejectsWith(decodeImage(pngDeclaring(100000, 100000), SIZE), InputImageError, /100000x100000 .*64 Mpx limit/);
    await rejectsWith(decodeImage(pngDeclaring(65535, 65535), SIZE), InputImageError, /Mpx limit/);
    await rejectsWith(decodeImage(jpegDeclaring(jpg, 60000, 60000), SIZE), InputImageError, /60000x60000 .*Mpx limit/);
    await rejectsWith(decodeImage({ data: new Uint8Array(3), width: 100000, height: 100000, channels: 3 }, SIZE),
      InputImageError, /Mpx limit/);
    // Under the cap but lying about its size: libvips fails on the missing pixel data.
    await rejectsWith(decodeImage(pngDeclaring(4096, 4096), SIZE), InputImageError);
    assert.ok(performance.now() - t0 < 5000, 'bomb checks must not decode the pixels');
    const grew = (process.memoryUsage().rss - before) / 2 ** 20;
    assert.ok(grew < 200, `RSS grew ${grew.toFixed(0)} MiB on header-only bombs`);
  });

  test('raw images: bad sizes, NaN/Inf pixels', async () => {
    const nan = new Float32Array(SIZE * SIZE * 3).fill(0.5);
    nan[7] = NaN;
    await rejectsWith(decodeImage({ data: nan, width: SIZE, height: SIZE, channels: 3 }, SIZE), InputImageError, /finite/);
    nan[7] = Infinity;
    await rejectsWith(decodeImage({ data: nan, width: SIZE, height: SIZE, channels: 3 }, SIZE), InputImageError, /finite/);
    await rejectsWith(decodeImage({ data: new Uint8Array(10), width: 0, height: 0, channels: 3 }, SIZE), InputImageError);
    await rejectsWith(decodeImage({ data: new Uint8Array(10), width: -1, height: 2.5, channels: 3 }, SIZE), InputImageError);
    await rejectsWith(decodeImage({ data: new Uint8Array(12), width: 2, height: 2, channels: 2 }, SIZE), InputImageError);
    await rejectsWith(decodeImage({ data: [1, 2, 3], width: 1, height: 1, channels: 3 }, SIZE), InputImageError);
    await rejectsWith(decodeImage(42, SIZE), InputImageError);
    await rejectsWith(decodeImage(null, SIZE), InputImageError);
  });
});

// ---------------------------------------------------------------- session inputs

describe('bad audio, poses and frame indices through a session', () => {
  let session;
  let identity;
  let audio;
  before(async () => {
    session = await createSession({ model: tinyModel, threads: 1 });
    identity = await session.encodeIdentity(syntheticImage(SIZE), { aligned: true });
    audio = await session.prepareAudio(tone(0.3));
  });
  after(() => session?.dispose());

  test('0-length, truncated and corrupt WAV -> InputAudioError', async () => {
    const good = wav({ data: pcm16(tone(0.2).samples) });
    await rejectsWith(session.prepareAudio(Buffer.alloc(0)), InputAudioError, /empty/);
    await rejectsWith(session.prepareAudio(wav({ data: Buffer.alloc(0) })), InputAudioError, /0 bytes of sample data/);
    await rejectsWith(session.prepareAudio({ samples: new Float32Array(0), sampleRate: 16000 }), InputAudioError, /at least one audio sample/);
    await rejectsWith(session.prepareAudio(good.subarray(0, 11)), InputAudioError, /Expected a WAV file/);
    await rejectsWith(session.prepareAudio(good.subarray(0, 30)), InputAudioError);
    await rejectsWith(session.prepareAudio(wav({ channels: 0, data: pcm16([0, 0]) })), InputAudioError);
    await rejectsWith(session.prepareAudio(wav({ bits: 12, data: pcm16([0, 0]) })), InputAudioError);
    await rejectsWith(session.prepareAudio(wav({ format: 0x55, data: pcm16([0, 0]) })), InputAudioError, /format code 85/);
    await rejectsWith(session.prepareAudio(wav({ rate: 0, data: pcm16([0, 0]) })), InputAudioError);
    await rejectsWith(session.prepareAudio(wav({ rate: 4, data: pcm16(new Array(400).fill(0)) })), InputAudioError, /sample rate/);
    const nanF32 = Buffer.alloc(8);
    nanF32.writeFloatLE(NaN, 4);
    await rejectsWith(session.prepareAudio(wav({ format: 3, bits: 32, data: nanF32 })), InputAudioError, /NaN/);
    await rejectsWith(session.prepareAudio({ samples: new Float32Array([0, Infinity]), sampleRate: 16000 }), InputAudioError, /finite/);
    await rejectsWith(session.prepareAudio(join(tmp, 'missing.wav')), InputAudioError, /missing\.wav/);
    const txt = join(tmp, 'speech.wav');
    writeFileSync(txt, 'not a wav file, just text');
    await rejectsWith(session.prepareAudio(txt), InputAudioError, /Expected a WAV file/);
    // A data chunk that declares more bytes than the file holds, or a huge RIFF size: take what is there.
    const cut = wav({ data: pcm16(tone(0.2).samples), dataSize: 0xffffffff, riffSize: 0xffffffff });
    const t = await session.prepareAudio(cut.subarray(0, cut.length - 101));
    assert.ok(t.frameCount >= 4);
    await t.dispose();
  });

  test('silent and very short audio render fine', async () => {
    const silent = await session.prepareAudio({ samples: new Float32Array(16000), sampleRate: 16000 });
    assert.equal(silent.frameCount, 25);
    const f = await session.renderFrame(identity, { audio: silent, frame: 24, format: 'float32' });
    assert.ok(f.data.every(Number.isFinite));
    const one = await session.prepareAudio({ samples: new Float32Array(1), sampleRate: 16000 });
    assert.equal(one.frameCount, 1);
    await session.renderFrame(identity, { audio: one, frame: 0 });
    const silentWav = await session.prepareAudio(wav({ data: Buffer.alloc(3200) }));
    assert.equal(silentWav.frameCount, 3); // 0.1 s: 2.5 frames, the partial one counts
    await Promise.all([silent.dispose(), one.dispose(), silentWav.dispose()]);
  });

  test('NaN / Inf / malformed poses -> InvalidArgumentError', async () => {
    const nan = frontalPose().slice();
    nan[3] = NaN;
    const inf = frontalPose().slice();
    inf[0] = Infinity;
    for (const pose of [nan, inf, new Array(16).fill(0), [1, 2, 3], 'frontal', null, new Float32Array(16).fill(NaN)]) {
      await rejectsWith(session.renderFrame(identity, { audio, frame: 0, pose }), InvalidArgumentError, /pose/);
      // (encodeIdentity reads a null pose as "default", like undefined)
      if (pose !== null)
        await rejectsWith(session.encodeIdentity(syntheticImage(SIZE), { aligned: true, pose }), InvalidArgumentError, /pose/);
    }
    await rejectsWith(session.renderFrames(identity, { audio, frames: [0, 1], pose: [frontalPose(), nan] }), InvalidArgumentError, /pose\[1\]/);
  });

  test('frame indices out of range or not integers -> InvalidArgumentError', async () => {
    const n = audio.frameCount;
    for (const frame of [-1, n, n + 1e9, 0.5, NaN, Infinity, -Infinity, 2 ** 53, '0', null, undefined, 1n]) {
      await rejectsWith(session.renderFrame(identity, { audio, frame }), InvalidArgumentError, /frame/);
    }
    for (const frames of [[0, -1], [0, 1.5], [NaN], { start: 2, end: 1 }, { start: 0, end: n + 1 }, { start: -1, end: 2 }, { start: 0.5, end: 2 }, 'all', 7]) {
      await rejectsWith(session.renderFrames(identity, { audio, frames }), InvalidArgumentError, /frames/);
    }
  });

  test('the native layer checks its own arguments (no crash on garbage)', async () => {
    const b = binding();
    const h = session._native();
    const pose = Float32Array.from(frontalPose());
    const calls = [
      () => b.loadModel(),
      () => b.loadModel(123, 1),
      () => b.loadModel(tinyModel, -1),
      () => b.config(42),
      () => b.threads({}),
      () => b.renderFrame({}, 1, 2, 3, 4),
      () => b.renderFrame(h, h, h, 0, pose),
      () => b.renderFrame(h, identity._handleFor(session), audio._handleFor(session), 1e12, pose),
      () => b.renderFrame(h, identity._handleFor(session), audio._handleFor(session), 0, new Float32Array(15)),
      () => b.renderFrame(h, identity._handleFor(session), audio._handleFor(session), 0, new Float32Array(16).fill(NaN)),
      () => b.encodeIdentity(h, new Float32Array(5), new Float32Array(SIZE * SIZE), pose),
      () => b.encodeIdentity(h, new Float32Array(SIZE * SIZE * 3), new Float32Array(SIZE * SIZE), new Float64Array(16)),
      () => b.prepareAudio(h, new Float32Array(0), 16000),
      () => b.prepareAudio(h, new Float32Array(10), 1e12),
      () => b.prepareAudio(h, [1, 2, 3], 16000),
      () => b.runStage(h, 'nope', {}),
      () => b.runStage(h, 'encoder', { image: { shape: [1e9, 1e9, 1e9], data: new Float32Array(3) } }),
      () => b.runStage(h, 'encoder', { image: { shape: [2 ** 32, 2 ** 32, 1], data: new Float32Array(0) } }),
    ];
    for (const [i, call] of calls.entries()) {
      await assert.rejects((async () => call())(), (e) => {
        assert.equal(typeof e.code, 'string', `call ${i}: ${e}`);
        assert.notEqual(e.code, 'ERR_INTERNAL', `call ${i}: ${e.message}`);
        return true;
      }, `call ${i} did not fail`);
    }
  });
});

// ---------------------------------------------------------------- model files

describe('bad model files -> ModelFormatError naming the tensor or key', () => {
  const cases = [
    ['empty file', () => { const p = join(tmp, 'empty.safetensors'); writeFileSync(p, ''); return p; }, /too small/],
    ['truncated in the data', () => { const p = join(tmp, 'trunc-data.safetensors'); writeFileSync(p, tinyBytes.subarray(0, tinyBytes.length - 1)); return p; }, /past the end of the data section/],
    ['truncated in the header', () => { const p = join(tmp, 'trunc-head.safetensors'); writeFileSync(p, tinyBytes.subarray(0, 500)); return p; }, /runs past the end of the file/],
    ['wrong magic (PNG bytes)', () => { const p = join(tmp, 'magic.safetensors'); writeFileSync(p, Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n'), tinyBytes.subarray(8)])); return p; }, /larger than the limit|not a safetensors/],
    ['header that is not JSON', () => { const p = join(tmp, 'notjson.safetensors'); const b = Buffer.from(tinyBytes); b[8] = 0x5b; b[9] = 0x5b; return (writeFileSync(p, b), p); }, /invalid JSON/],
    ['wrong dtype I64', () => variant('i64', (h) => { h[firstTensor].dtype = 'I64'; }), new RegExp(`tensor "${firstTensor.replace(/\./g, '\\.')}".*unsupported dtype "I64"`)],
    ['dtype not a string', () => variant('dtype-num', (h) => { h[firstTensor].dtype = 4; }), /dtype must be a string/],
    ['shape not matching the byte count', () => variant('shape-bytes', (h) => { h[firstTensor].shape = [...h[firstTensor].shape, 2]; }), new RegExp(`tensor "${firstTensor.replace(/\./g, '\\.')}".*needs`)],
    ['shape transposed (same bytes, wrong layout)', () => variant('shape-swap', (h) => {
      const name = tensorNames.find((n) => h[n].shape.length >= 2 && h[n].shape[0] !== h[n].shape[1]);
      h[name].shape = [h[name].shape[1], h[name].shape[0], ...h[name].shape.slice(2)];
    }), /Expected shape \[.*\] for tensor ".*" but received/],
    ['negative / fractional / huge dims', () => variant('shape-neg', (h) => { h[firstTensor].shape = [-1, 4]; }), /non-negative integers/],
    ['dims whose product overflows', () => variant('shape-overflow', (h) => { h[firstTensor].shape = [2 ** 40, 2 ** 40, 2 ** 40]; }), /overflows/],
    ['overlapping data_offsets', () => variant('overlap', (h) => {
      const [a, b] = [tensorNames[0], tensorNames[1]];
      const len = h[b].data_offsets[1] - h[b].data_offsets[0];
      h[b].data_offsets = [h[a].data_offsets[0], h[a].data_offsets[0] + len];
    }), /overlap those of tensor/],
    ['data_offsets past the end of the file', () => variant('oob', (h, d) => {
      const len = h[firstTensor].data_offsets[1] - h[firstTensor].data_offsets[0];
      h[firstTensor].data_offsets = [d.length, d.length + len];
    }), /past the end of the data section/],
    ['data_offsets begin after end', () => variant('reversed', (h) => { h[firstTensor].data_offsets.reverse(); }), /is after end/],
    ['data_offsets not a pair', () => variant('offs3', (h) => { h[firstTensor].data_offsets = [0, 4, 8]; }), /data_offsets must be \[begin, end\]/],
    ['missing data_offsets', () => variant('nooffs', (h) => { delete h[firstTensor].data_offsets; }), /missing "data_offsets"/],
    ['unknown format_version', () => variant('version', (h) => { h.__metadata__.format_version = '2'; }), /Unsupported model format version "2"/],
    ['not an s3d-nerf file (format)', () => variant('format', (h) => { h.__metadata__.format = 'gguf'; }), /metadata "format" is "gguf"/],
    ['missing metadata key "config"', () => variant('noconfig', (h) => { delete h.__metadata__.config; }), /metadata key "config" is missing/],
    ['no metadata at all', () => variant('nometa', (h) => { delete h.__metadata__; }), /metadata key "format" is missing/],
    ['metadata value not a string', () => variant('metanum', (h) => { h.__metadata__.seed = 5; }), /__metadata__ value for key "seed"/],
    ['config not JSON', () => variant('configjson', (h) => { h.__metadata__.config = '{"image_size": 64,'; }), /config: invalid JSON/],
    ['missing config key image_size', () => variant('noimagesize', editConfig((c) => { delete c.image_size; })), /config\.image_size/],
    ['missing config key audio.fps', () => variant('nofps', editConfig((c) => { delete c.audio.fps; })), /config\.audio\.fps/],
    ['config value of the wrong type', () => variant('heads-str', editConfig((c) => { c.heads = '2'; })), /config\.heads/],
    ['config cross-field mismatch', () => variant('render-size', editConfig((c) => { c.render_size = 17; })), /config\.render_size/],
    ['config sizes the weights do not match', () => variant('enc-ch', editConfig((c) => { c.enc_channels = [8, 16, 24, 15]; c.plane_channels = 5; })), /tensor "/],
    ['provenance not JSON', () => variant('prov', (h) => { h.__metadata__.provenance = 'made by hand'; }), /provenance/],
    ['missing tensor', () => variant('missing', (h, d) => { delete h[tensorNames.at(-1)]; }), new RegExp(`missing tensor "${tensorNames.at(-1).replace(/\./g, '\\.')}"`)],
    ['unexpected extra tensor', () => variant('extra', (h, d) => {
      h['zzz.extra'] = { dtype: 'F32', shape: [1], data_offsets: [d.length, d.length + 4] };
      return Buffer.concat([d, Buffer.alloc(4)]);
    }), /unexpected tensor "zzz\.extra"/],
    ['duplicate key in the header', () => {
      const p = join(tmp, 'dup.safetensors');
      const { header, data } = splitModel();
      const json = JSON.stringify(header).replace('{"__metadata__"', '{"__metadata__":{},"__metadata__"');
      writeFileSync(p, joinSafetensors(json, data));
      return p;
    }, /duplicate key "__metadata__"/],
    ['a directory', () => { const p = join(tmp, 'dir.safetensors'); mkdirSync(p, { recursive: true }); return p; }, /not a file/],
  ];

  for (const [name, make, re] of cases)
    test(name, async () => {
      const path = make();
      await rejectsWith(createSession({ model: path, threads: 1 }), ModelFormatError, re);
      await assert.rejects(createSession({ model: path, threads: 1 }), (e) => e.message.includes(path));
    });

  test('non-finite weights load and render without crashing', async () => {
    const p = variant('nan-weights', (h, d) => {
      const out = Buffer.from(d);
      for (let i = 0; i < out.length; i += 64) out.writeFloatLE(i % 128 ? NaN : Infinity, i & ~3);
      return out;
    });
    const s = await createSession({ model: p, threads: 1 });
    const id = await s.encodeIdentity(syntheticImage(SIZE), { aligned: true });
    const au = await s.prepareAudio(tone(0.1));
    const f = await s.renderFrame(id, { audio: au, frame: 0 });
    assert.equal(f.data.length, SIZE * SIZE * 3);
    await s.dispose();
  });
});

// ---------------------------------------------------------------- child process

test('the nastiest inputs in a child process: it exits normally', () => {
  const script = `
    import { readFileSync, writeFileSync } from 'node:fs';
    import { createSession } from ${JSON.stringify(join(root, 'lib/index.js'))};
    import { binding } from ${JSON.stringify(join(root, 'lib/internal.js'))};
    import { decodeImage } from ${JSON.stringify(join(root, 'lib/image.js'))};
    const dir = ${JSON.stringify(tmp)};
    const models = ${JSON.stringify(['i64', 'overlap', 'oob', 'shape-overflow', 'shape-swap', 'enc-ch', 'dup', 'nan-weights'])};
    let typed = 0;
    const expectTyped = async (p) => { try { await p; } catch (e) { if (typeof e.code !== 'string' || e.code === 'ERR_INTERNAL') throw e; typed++; } };
    for (const m of models) await expectTyped(createSession({ model: dir + '/' + m + '.safetensors', threads: 1 }));
    const tiny = readFileSync(${JSON.stringify(tinyModel)});
    for (let cut = 0; cut < tiny.length; cut += 4099) {
      writeFileSync(dir + '/cut.safetensors', tiny.subarray(0, cut));
      await expectTyped(createSession({ model: dir + '/cut.safetensors', threads: 1 }));
    }
    const s = await createSession({ model: ${JSON.stringify(tinyModel)}, threads: 1 });
    const b = binding();
    const junk = [undefined, null, 0, -1, 2 ** 64, NaN, 'x', {}, [], new Float32Array(0), new Float32Array(16).fill(NaN), s._native()];
    for (const fn of ['renderFrame', 'encodeIdentity', 'prepareAudio', 'runStage', 'config', 'threads', 'metadata', 'lastTimings'])
      for (let i = 0; i < 60; i++) {
        const args = Array.from({ length: 5 }, (_, k) => junk[(i * 7 + k * 5 + fn.length) % junk.length]);
        await expectTyped((async () => b[fn](...args))());
      }
    await expectTyped(decodeImage(Buffer.from(${JSON.stringify(pngDeclaring(100000, 100000).toString('base64'))}, 'base64'), 64));
    await s.dispose();
    console.log('typed errors: ' + typed);
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.signal, null, `child killed by ${r.signal}\n${r.stderr}`);
  assert.equal(r.status, 0, `child exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  const n = Number(/typed errors: (\d+)/.exec(r.stdout)?.[1]);
  assert.ok(n > 100, r.stdout);
});
