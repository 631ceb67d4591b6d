// Face preparation for any photo (ts/face/): agreement with the training-side
// alignment (train/s3d_nerf/alignment.py), detection + alignment of synthetic
// variants of examples/astronaut.png (canvas, scale, rotation, greyscale,
// alpha, EXIF-rotated JPEG), NoFaceError, encodeIdentity without
// { aligned: true }, and paste-back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { createSession, NoFaceError, pasteBack, InvalidArgumentError } from '../lib/index.js';
import { alignPhoto } from '../lib/face/index.js';
import { alignMatrix, lipBox, maskPolygon } from '../lib/face/align.js';
import { applyAffine, applyAffineAll, composeAffine, invertAffine } from '../lib/face/geometry.js';
import { warpAffine } from '../lib/face/warp.js';
import { estimatePose } from '../lib/face/head-pose.js';
import { fillPolygon } from '../lib/mask.js';
import { root, tinyModel } from './helpers/fixtures.mjs';

const astronautPath = join(root, 'examples', 'astronaut.png');
const fixtureDir = join(root, 'tests', 'fixtures', 'face');

/** Expected alignment.py values: regenerated with /usr/bin/python3 when it has cv2 + scipy, else the committed copy. */
function expectedAlignment() {
  const r = spawnSync('/usr/bin/python3', [join(fixtureDir, 'make_alignment_expected.py')], { encoding: 'utf8', timeout: 30000 });
  if (r.status === 0 && r.stdout.trim().startsWith('{')) return { source: 'python', data: JSON.parse(r.stdout) };
  return { source: 'fixture', data: JSON.parse(readFileSync(join(fixtureDir, 'alignment-expected.json'), 'utf8')) };
}

test('crop transform, crop landmarks, lip box, mask and pose agree with train/s3d_nerf/alignment.py', () => {
  const { source, data } = expectedAlignment();
  const S = data.image_size;
  assert.ok(data.cases.length >= 5);
  for (const c of data.cases) {
    const M = alignMatrix(c.landmarks, S);
    const Me = c.matrix.flat();
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(M[i] - Me[i]) < 1e-9 * (1 + Math.abs(Me[i])), `${source} ${c.angles}: matrix[${i}] ${M[i]} vs ${Me[i]}`);
    const lmc = applyAffineAll(M, c.landmarks);
    for (let i = 0; i < 68; i++) {
      assert.ok(Math.abs(lmc[i][0] - c.crop_landmarks[i][0]) < 1e-7);
      assert.ok(Math.abs(lmc[i][1] - c.crop_landmarks[i][1]) < 1e-7);
    }
    lipBox(lmc, S).forEach((v, i) => assert.ok(Math.abs(v - c.lip_box[i]) < 1e-7));
    const P = estimatePose(lmc, S);
    const Pe = c.pose.flat();
    const err = Math.max(...P.map((v, i) => Math.abs(v - Pe[i])));
    assert.ok(err < 1e-4, `${source} ${c.angles}: pose differs by ${err}`);
    // alignment.fill_mask uses the same pixel-centre rule: the counts agree exactly
    let n = 0;
    for (const v of fillPolygon(maskPolygon(lmc), S)) n += v;
    assert.equal(n, c.mask_pixels, `mask ${n} vs ${c.mask_pixels} pixels`);
  }
});

// ---- synthetic photos from the astronaut ---------------------------------

let astro; // { data, width, height } RGB of examples/astronaut.png
let ref; // alignPhoto of the astronaut itself

async function rawRgb(input) {
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** The astronaut placed into a W x H photo by the similarity T (astronaut px -> photo px), grey border. */
async function placed(T, W, H) {
  // pad the 256 crop with a neutral grey so the replicated border of the warp is flat
  const pad = 200;
  const big = await rawRgb(await sharp(astronautPath).extend({ top: pad, bottom: pad, left: pad, right: pad, background: { r: 120, g: 120, b: 120 } }).png().toBuffer());
  const Tp = composeAffine(T, [1, 0, -pad, 0, 1, -pad]);
  return { data: await warpAffine(big, Tp, W, H), width: W, height: H };
}

function similarity(s, deg, tx, ty) {
  const a = (deg * Math.PI) / 180;
  return [s * Math.cos(a), -s * Math.sin(a), tx, s * Math.sin(a), s * Math.cos(a), ty];
}

/** Max distance (crop px) between where the recovered and the expected crop transforms send the template's face region. */
function cropError(M, Mexpected) {
  let worst = 0;
  const inv = invertAffine(Mexpected);
  for (const q of [[64, 64], [192, 64], [64, 220], [192, 220], [128, 128]]) {
    const p = applyAffine(inv, q); // photo point the expected crop sends to q
    const r = applyAffine(M, p);
    worst = Math.max(worst, Math.hypot(r[0] - q[0], r[1] - q[1]));
  }
  return worst;
}

function yawPitch(P) {
  return [(Math.atan2(-P[2], -P[10]) * 180) / Math.PI, (Math.asin(Math.max(-1, Math.min(1, P[6]))) * 180) / Math.PI];
}

before(async () => {
  astro = await rawRgb(astronautPath);
  ref = await alignPhoto(astronautPath);
});

test('the astronaut itself: one face, pose roughly frontal, the crop framing of the template', () => {
  assert.equal(ref.detection.faceCount, 1);
  const [yaw, pitch] = yawPitch(ref.pose);
  assert.ok(Math.abs(yaw) < 10, `yaw ${yaw}`);
  assert.ok(Math.abs(pitch) < 25, `pitch ${pitch}`);
  // examples/astronaut.png is itself a roughly aligned crop: the transform is near identity
  const s = Math.hypot(ref.matrix[0], ref.matrix[3]);
  assert.ok(s > 0.8 && s < 1.1, `scale ${s}`);
  assert.ok(Math.abs(ref.matrix[3]) < 0.1);
  assert.equal(ref.crop.length, 256 * 256 * 3);
  assert.ok(ref.lipBox[1] > 130 && ref.lipBox[3] < 230, `lip box ${ref.lipBox}`);
});

const variants = [
  { name: 'in a larger canvas, scaled 1.7x', W: 900, H: 700, T: similarity(1.7, 0, 230, 90) },
  { name: 'scaled down 0.6x', W: 400, H: 300, T: similarity(0.6, 0, 120, 60) },
  { name: 'rotated 20 degrees', W: 700, H: 700, T: similarity(1.5, 20, 300, 50) },
];

for (const v of variants)
  test(`astronaut ${v.name}: the recovered crop transform matches the synthetic one`, async () => {
    const photo = await placed(v.T, v.W, v.H);
    const a = await alignPhoto({ ...photo, channels: 3 });
    const expected = composeAffine(ref.matrix, invertAffine(v.T));
    const err = cropError(a.matrix, expected);
    assert.ok(err < 4, `crop transform off by ${err.toFixed(2)} px`);
    const [yaw, pitch] = yawPitch(a.pose);
    assert.ok(Math.abs(yaw) < 10 && Math.abs(pitch) < 25, `pose yaw ${yaw} pitch ${pitch}`);
  });

test('greyscale PNG, PNG with alpha, and a 1000x1500 JPEG stored sideways with an EXIF orientation tag', async () => {
  const T = similarity(2.2, 0, 220, 380);
  const photo = await placed(T, 1000, 1500);
  const expected = composeAffine(ref.matrix, invertAffine(T));
  const rawOpts = { raw: { width: 1000, height: 1500, channels: 3 } };
  const grey = await sharp(photo.data, rawOpts).toColourspace('b-w').png().toBuffer();
  assert.equal((await sharp(grey).metadata()).channels, 1);
  // alpha: the outer 100 px fully transparent
  const rgba = new Uint8Array(1000 * 1500 * 4);
  for (let i = 0; i < 1000 * 1500; i++) {
    const x = i % 1000, y = Math.floor(i / 1000);
    rgba.set(photo.data.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = x < 100 || y < 100 ? 0 : 255;
  }
  const alpha = await sharp(rgba, { raw: { width: 1000, height: 1500, channels: 4 } }).png().toBuffer();
  // stored 1500x1000 (turned 90 degrees counter-clockwise), orientation 6 = display turned 90 degrees clockwise
  const exif = await sharp(photo.data, rawOpts).rotate(270).jpeg({ quality: 92 }).withMetadata({ orientation: 6 }).toBuffer();
  const meta = await sharp(exif).metadata();
  assert.deepEqual([meta.width, meta.height, meta.orientation], [1500, 1000, 6]);
  for (const [name, buf] of [['greyscale', grey], ['alpha', alpha], ['exif', exif]]) {
    const a = await alignPhoto(buf);
    assert.deepEqual([a.photo.width, a.photo.height], [1000, 1500], name);
    const err = cropError(a.matrix, expected);
    assert.ok(err < 4, `${name}: crop transform off by ${err.toFixed(2)} px`);
  }
});

test('faceIndex picks faces by size; a missing face is a NoFaceError', async () => {
  // two astronauts, the right one larger
  const W = 900, H = 500;
  const small = await placed(similarity(0.9, 0, 40, 120), W, H);
  const large = await placed(similarity(1.6, 0, 470, 50), W, H);
  const both = new Uint8Array(W * H * 3);
  for (let i = 0; i < W * H; i++) {
    const x = i % W;
    both.set((x < 400 ? small : large).data.subarray(i * 3, i * 3 + 3), i * 3);
  }
  const img = { data: both, width: W, height: H, channels: 3 };
  const a0 = await alignPhoto(img);
  const a1 = await alignPhoto(img, { faceIndex: 1 });
  assert.equal(a0.detection.faceCount, 2);
  assert.ok(a0.detection.box.x > 400 && a1.detection.box.x < 400);
  assert.ok(a0.detection.box.width > a1.detection.box.width);
  await assert.rejects(alignPhoto(img, { faceIndex: 2 }), (e) => e instanceof NoFaceError && /only 2 faces/.test(e.message));
  await assert.rejects(alignPhoto(img, { faceIndex: -1 }), InvalidArgumentError);
});

// ---- through the session --------------------------------------------------

let session;
before(async () => {
  session = await createSession({ model: tinyModel, threads: 1 });
});
after(() => session?.dispose());

test('encodeIdentity of a photo without a face: NoFaceError (ERR_NO_FACE) naming the source', async () => {
  const blank = await sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 200, g: 190, b: 180 } } }).png().toBuffer();
  await assert.rejects(session.encodeIdentity(blank), (e) => {
    assert.ok(e instanceof NoFaceError);
    assert.equal(e.code, 'ERR_NO_FACE');
    assert.match(e.message, /No face found in buffer .*at least \d+ px wide/);
    return true;
  });
});

test('encodeIdentity(photo) detects, aligns and keeps what paste-back needs; aligned: true is unchanged', async () => {
  const T = similarity(1.3, -8, 150, 100);
  const photo = await placed(T, 640, 560);
  const id = await session.encodeIdentity({ ...photo, channels: 3 });
  const size = session.config.image_size;
  assert.equal(id.size, size);
  assert.ok(id.face);
  assert.deepEqual([id.face.photo.width, id.face.photo.height], [640, 560]);
  assert.equal(id.face.blendMask.length, size * size);
  assert.equal(id.mask, id.face.mask);
  const [yaw] = yawPitch(Array.from(id.pose));
  assert.ok(Math.abs(yaw) < 10);
  // the crop transform at this size is the 256 one scaled
  const expected = composeAffine([size / 256, 0, 0, 0, size / 256, 0], composeAffine(ref.matrix, invertAffine(T)));
  assert.ok(cropError(composeAffine([256 / size, 0, 0, 0, 256 / size, 0], id.face.matrix), composeAffine([256 / size, 0, 0, 0, 256 / size, 0], expected)) < 5);
  const aligned = await session.encodeIdentity(astronautPath, { aligned: true });
  assert.equal(aligned.face, undefined);
  assert.throws(() => pasteBack(aligned, { width: size, height: size, channels: 3, data: new Uint8Array(size * size * 3) }), InvalidArgumentError);
  await assert.rejects(session.encodeIdentity(astronautPath, { aligned: true, faceIndex: 0 }), InvalidArgumentError);
  id.dispose();
  aligned.dispose();
});

function psnr(a, b, idx) {
  let se = 0;
  for (const i of idx) for (let c = 0; c < 3; c++) se += (a[i * 3 + c] - b[i * 3 + c]) ** 2;
  return 10 * Math.log10((255 * 255) / (se / (idx.length * 3)));
}

test('pasteBack of consecutive frames recomputes only the changed part, byte-identical to a paste from scratch', async () => {
  // s = 2: the photo face is larger than the crop; s = 0.55: smaller, so the frame is blurred first.
  for (const [s, W] of [[2.0, 1024], [0.55, 320]]) {
    const photo = await placed(similarity(s, 10, s > 1 ? 300 : 40, s > 1 ? 180 : 30), W, W);
    const face = await alignPhoto({ ...photo, channels: 3 });
    const frame = (data) => ({ width: 256, height: 256, channels: 3, data });
    const first = face.crop;
    const next = Uint8Array.from(first);
    for (let y = 150; y < 200; y++) for (let x = 90; x < 160; x++) for (let c = 0; c < 3; c++) next[(y * 256 + x) * 3 + c] = (x * 7 + y * 13 + c * 50) % 256;
    const cached = { size: 256, face }; // what pasteBack reads from an Identity (one cache per object)
    const a = pasteBack(cached, frame(first));
    const b = pasteBack(cached, frame(next));
    const c = pasteBack(cached, frame(first));
    const scratch = (data) => pasteBack({ size: 256, face }, frame(data)).data;
    assert.ok(Buffer.compare(b.data, scratch(next)) === 0, `s=${s}: the second frame differs from a paste from scratch`);
    assert.ok(Buffer.compare(c.data, scratch(first)) === 0, `s=${s}: going back differs from a paste from scratch`);
    assert.ok(Buffer.compare(a.data, c.data) === 0 && Buffer.compare(a.data, b.data) !== 0, `s=${s}: the changed box must show`);
    // float32 frames, and a switch between uint8 and float32
    const f = (u8) => Float32Array.from(u8, (v) => v / 255 + 1e-3);
    const d = pasteBack(cached, frame(f(next)));
    const e = pasteBack(cached, frame(f(first)));
    assert.ok(Buffer.compare(d.data, scratch(f(next))) === 0 && Buffer.compare(e.data, scratch(f(first))) === 0, `s=${s}: float32 frames`);
    b.data.fill(0); // the caller's copy is its own
    assert.ok(Buffer.compare(pasteBack(cached, frame(next)).data, scratch(next)) === 0, `s=${s}: the cache was shared with a caller`);
  }
});

test('pasteBack of the identity\'s own aligned crop reproduces the photo in the face and leaves the rest untouched', async () => {
  const W = 1024, H = 1024;
  const T = similarity(2.0, 10, 300, 180);
  const photo = await placed(T, W, H);
  const face = await alignPhoto({ ...photo, channels: 3 });
  const identity = { size: 256, face }; // what pasteBack reads from an Identity
  const frame = { width: 256, height: 256, channels: 3, data: face.crop };
  const out = pasteBack(identity, frame);
  assert.deepEqual([out.width, out.height, out.channels, out.data.length], [W, H, 3, W * H * 3]);
  const inner = [];
  const outside = [];
  let changed = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const [u, v] = applyAffine(face.matrix, [x, y]);
      const i = y * W + x;
      if (u < -2 || v < -2 || u > 257 || v > 257) outside.push(i);
      else if (u >= 0 && v >= 0 && u <= 255 && v <= 255 && face.blendMask[Math.round(v) * 256 + Math.round(u)] > 0.5) inner.push(i);
    }
  for (const i of outside) for (let c = 0; c < 3; c++) if (out.data[i * 3 + c] !== photo.data[i * 3 + c]) changed++;
  assert.equal(changed, 0, 'pixels outside the crop changed');
  assert.ok(inner.length > 10000);
  const p = psnr(out.data, photo.data, inner);
  assert.ok(p > 30, `PSNR ${p.toFixed(1)} dB`);
  // a float32 frame gives the same
  const f32 = Float32Array.from(face.crop, (v) => v / 255);
  const out2 = pasteBack(identity, { width: 256, height: 256, channels: 3, data: f32 });
  assert.ok(psnr(out2.data, out.data, inner) > 45);
  assert.throws(() => pasteBack(identity, { width: 128, height: 128, channels: 3, data: new Uint8Array(128 * 128 * 3) }), InvalidArgumentError);
});
