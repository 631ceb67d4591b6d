// Bounded randomised robustness test (issue 7): random mutations of the tiny
// model file and of WAV files. Every mutant must load, or fail with the typed
// error of its kind (ModelFormatError / InputAudioError) and a one-line
// message; the process must never crash. Deterministic: the seed is printed,
// S3D_FUZZ_SEED=<n> reproduces a run, S3D_FUZZ_ITER=<n> sets the mutants per
// kind (default 250 model files + 250 WAV files, a few seconds).
// The unbounded, coverage-guided version is scripts/fuzz.sh (libFuzzer).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { createSession, InputAudioError, ModelFormatError } from '../lib/index.js';
import { requireFixture, syntheticImage, tinyModel, tone } from './helpers/fixtures.mjs';
import { joinSafetensors, splitSafetensors } from './helpers/safetensors.mjs';

const SEED = Number(process.env.S3D_FUZZ_SEED ?? 0x5eed7);
const ITER = Number(process.env.S3D_FUZZ_ITER ?? 250);
const tmp = mkdtempSync(join(tmpdir(), 's3d-random-'));

/** mulberry32: small, seedable PRNG. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  const pick = (arr) => arr[int(arr.length)];
  return { next, int, pick };
}

const weird = [0, -1, 1, 2, 3, 7, 1.5, -0.5, 1e9, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 64, 1e308, '3', '', 'x', null, true, [], {}, [1], [-1, 2]];

// ---------------------------------------------------------------- model mutants

const tiny = readFileSync(requireFixture(tinyModel));
const { header, dataStart, data } = splitSafetensors(tiny);
const headerLen = dataStart - 8;
const names = Object.keys(header).filter((k) => k !== '__metadata__');
const config = JSON.parse(header.__metadata__.config);

function configPaths(c, prefix = []) {
  return Object.entries(c).flatMap(([k, v]) =>
    v && typeof v === 'object' && !Array.isArray(v) ? configPaths(v, [...prefix, k]) : [[...prefix, k]]);
}
const cfgPaths = configPaths(config);

function mutateModel(r) {
  const kind = r.int(6);
  if (kind === 0) {
    // bit flips, mostly in the length prefix + header
    const b = Buffer.from(tiny);
    const flips = 1 + r.int(8);
    for (let i = 0; i < flips; i++) {
      const pos = r.next() < 0.75 ? r.int(8 + headerLen) : r.int(b.length);
      b[pos] ^= 1 << r.int(8);
    }
    return ['bitflip', b];
  }
  if (kind === 1) return ['truncate', tiny.subarray(0, r.int(tiny.length))];
  if (kind === 2) {
    // byte edits inside the header text, with a consistent length prefix
    let text = tiny.subarray(8, 8 + headerLen).toString('latin1');
    const edits = 1 + r.int(4);
    for (let i = 0; i < edits; i++) {
      const at = r.int(text.length);
      const ch = r.pick(['"', '{', '}', '[', ']', ',', ':', '0', '9', '-', 'e', '\\', ' ', '\u00ff', '\u0000', 'n']);
      const op = r.int(3);
      text = op === 0 ? text.slice(0, at) + ch + text.slice(at) : op === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + ch + text.slice(at + 1);
    }
    return ['header-bytes', joinSafetensors(Buffer.from(text, 'latin1'), data)];
  }
  if (kind === 3) {
    // structured header edits
    const h = structuredClone(header);
    const name = r.pick(names);
    const op = r.int(7);
    if (op === 0) h[name].dtype = r.pick(['F32', 'F16', 'BF16', 'I64', 'U8', 'F64', 'f32', '', null, 7]);
    else if (op === 1) {
      const s = h[name].shape;
      if (s.length === 0 || r.next() < 0.2) s.push(r.pick(weird));
      else s[r.int(s.length)] = r.next() < 0.5 ? r.pick(weird) : s[r.int(s.length)] + r.pick([-1, 1]);
    } else if (op === 2) h[name].data_offsets[r.int(2)] = r.next() < 0.5 ? r.pick(weird) : h[name].data_offsets[r.int(2)] + r.pick([-4, -1, 1, 4]);
    else if (op === 3) delete h[name][r.pick(['dtype', 'shape', 'data_offsets'])];
    else if (op === 4) delete h[name];
    else if (op === 5) {
      const other = r.pick(names);
      [h[name].data_offsets, h[other].data_offsets] = [h[other].data_offsets, h[name].data_offsets];
    } else h[name] = r.pick(weird);
    return ['header-json', joinSafetensors(h, data)];
  }
  if (kind === 4) {
    // metadata and config edits
    const h = structuredClone(header);
    const op = r.int(4);
    if (op === 0) h.__metadata__[r.pick(['format', 'format_version', 'config', 'provenance'])] = r.pick(['', '1', '2', 's3d-nerf', '{}', '[]', 'null', '{"a":1}']);
    else if (op === 1) delete h.__metadata__[r.pick(['format', 'format_version', 'config', 'provenance'])];
    else {
      const c = structuredClone(config);
      const edits = 1 + r.int(2);
      for (let i = 0; i < edits; i++) {
        const path = r.pick(cfgPaths);
        let o = c;
        for (const k of path.slice(0, -1)) o = o[k];
        const k = path.at(-1);
        if (op === 2) o[k] = r.pick(weird);
        else if (typeof o[k] === 'number') o[k] = r.pick([o[k] * 2, o[k] + 1, o[k] - 1, Math.floor(o[k] / 2), -o[k]]);
        else delete o[k];
      }
      h.__metadata__.config = JSON.stringify(c);
    }
    return ['metadata', joinSafetensors(h, data)];
  }
  // the length prefix
  const b = Buffer.from(tiny);
  b.writeBigUInt64LE(BigInt(r.pick([0, 1, 7, headerLen - 1, headerLen + 1, tiny.length - 8, tiny.length, 100 * 2 ** 20 + 1, 2 ** 53])), 0);
  return ['length', b];
}

// ---------------------------------------------------------------- WAV mutants

function wavFile({ format, channels, rate, bits, samples }) {
  const bps = bits / 8;
  const d = Buffer.alloc(samples.length * channels * bps);
  samples.forEach((v, i) => {
    for (let c = 0; c < channels; c++) {
      const o = (i * channels + c) * bps;
      if (format === 3) d.writeFloatLE(v, o);
      else d.writeInt16LE(Math.round(v * 32767), o);
    }
  });
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'latin1');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(format, 8);
  fmt.writeUInt16LE(channels, 10);
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE(rate * channels * bps, 16);
  fmt.writeUInt16LE(channels * bps, 20);
  fmt.writeUInt16LE(bits, 22);
  const dh = Buffer.alloc(8);
  dh.write('data', 0, 'latin1');
  dh.writeUInt32LE(d.length, 4);
  const riff = Buffer.alloc(12);
  riff.write('RIFF', 0, 'latin1');
  riff.writeUInt32LE(4 + fmt.length + dh.length + d.length, 4);
  riff.write('WAVE', 8, 'latin1');
  return Buffer.concat([riff, fmt, dh, d]);
}
const s16 = tone(0.2, 16000).samples;
const wavs = [
  wavFile({ format: 1, channels: 1, rate: 16000, bits: 16, samples: s16 }),
  wavFile({ format: 3, channels: 2, rate: 22050, bits: 32, samples: tone(0.1, 22050).samples }),
];
// byte offsets of the header fields: RIFF size 4, fmt size 16, format 20, channels 22,
// rate 24, byte rate 28, block align 32, bits 34, data size 40
const fields = [[4, 4], [16, 4], [20, 2], [22, 2], [24, 4], [28, 4], [32, 2], [34, 2], [40, 4]];

function mutateWav(r) {
  const base = r.pick(wavs);
  const kind = r.int(5);
  const b = Buffer.from(base);
  if (kind === 0) {
    const flips = 1 + r.int(6);
    for (let i = 0; i < flips; i++) b[r.next() < 0.8 ? r.int(44) : r.int(b.length)] ^= 1 << r.int(8);
    return ['bitflip', b];
  }
  if (kind === 1) return ['truncate', base.subarray(0, r.int(base.length))];
  if (kind === 2) {
    const [off, size] = r.pick(fields);
    const v = r.pick([0, 1, 2, 3, 8, 12, 24, 0xfffe, 0xffff, 0x7fffffff, 0xffffffff, 4e9, 7, 44100, 1e6]);
    if (size === 2) b.writeUInt16LE(v & 0xffff, off);
    else b.writeUInt32LE(v >>> 0, off);
    return ['field', b];
  }
  if (kind === 3) {
    // an extra chunk (odd size, huge declared size) before the data chunk
    const junk = Buffer.alloc(8 + 5);
    junk.write(r.pick(['LIST', 'junk', 'fact', 'data', 'fmt ']), 0, 'latin1');
    junk.writeUInt32LE(r.pick([5, 0, 0xffffffff, 1000000]), 4);
    return ['chunk', Buffer.concat([b.subarray(0, 36), junk, b.subarray(36)])];
  }
  // samples: NaN / Inf floats in the float file, random bytes in the data
  for (let i = 0; i < 4; i++) b[44 + r.int(b.length - 44)] = r.pick([0x7f, 0xff, 0x80, 0x00]);
  return ['data', b];
}

// ---------------------------------------------------------------- the test

let session;
let identity;
before(async () => {
  session = await createSession({ model: tinyModel, threads: 1 });
  identity = await session.encodeIdentity(syntheticImage(64), { aligned: true });
});
after(() => session?.dispose());

function checkTyped(err, Cls, what) {
  assert.ok(err instanceof Cls, `${what}: expected ${Cls.name} but got ${err?.name} (${err?.code}): ${err?.message}`);
  assert.ok(!String(err.message).includes('\n'), `${what}: message is not one line: ${err.message}`);
}

test(`${ITER} mutated model files load or fail with ModelFormatError (seed ${SEED})`, async () => {
  const r = prng(SEED);
  const path = join(tmp, 'mutant.safetensors');
  const outcome = {};
  for (let i = 0; i < ITER; i++) {
    const [kind, bytes] = mutateModel(r);
    writeFileSync(path, bytes);
    let result = 'rejected';
    try {
      const s = await createSession({ model: path, threads: 1 });
      assert.equal(typeof s.config.image_size, 'number');
      result = 'loaded';
      await s.dispose();
    } catch (err) {
      checkTyped(err, ModelFormatError, `mutant ${i} (${kind}, seed ${SEED})`);
    }
    outcome[`${kind}/${result}`] = (outcome[`${kind}/${result}`] ?? 0) + 1;
  }
  console.log(`# model mutants: ${JSON.stringify(outcome)}`);
});

test(`${ITER} mutated WAV files decode or fail with InputAudioError (seed ${SEED})`, async () => {
  const r = prng(SEED ^ 0x9e3779b9);
  const outcome = {};
  for (let i = 0; i < ITER; i++) {
    const [kind, bytes] = mutateWav(r);
    let result = 'rejected';
    try {
      const audio = await session.prepareAudio(bytes);
      assert.ok(audio.frameCount >= 1);
      result = 'decoded';
      if (i % 10 === 0) await session.renderFrame(identity, { audio, frame: audio.frameCount - 1 });
      await audio.dispose();
    } catch (err) {
      checkTyped(err, InputAudioError, `WAV mutant ${i} (${kind}, seed ${SEED})`);
    }
    outcome[`${kind}/${result}`] = (outcome[`${kind}/${result}`] ?? 0) + 1;
  }
  console.log(`# WAV mutants: ${JSON.stringify(outcome)}`);
});
