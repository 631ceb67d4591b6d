// End-to-end parity through the public API (issue 13): the inputs a caller
// gives (a uint8 RGB face crop, 68 landmarks, camera poses, a waveform at
// 22.05 kHz, a frame index) go through encodeIdentity -> prepareAudio ->
// renderFrame, and the frame must match PyTorch's for the same inputs
// (tests/fixtures/tiny/api.safetensors, train/make_fixtures.py build_api).
// This covers what the stage fixtures bypass: ts/image.ts (bytes -> floats,
// HWC -> the engine's layout), ts/mask.ts (landmarks -> polygon -> mask),
// ts/identity.ts, ts/camera.ts, and the audio front end at a non-model rate.
// The negative cases show the test can fail: a transposed image, BGR bytes,
// and mirrored or x/y-swapped landmarks (the landmarks are not symmetric).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createSession, poseFromAngles } from '../lib/index.js';
import { runStage } from '../lib/internal.js';
import { requireFixture, root, tinyModel } from './helpers/fixtures.mjs';
import { relativeError } from './helpers/metrics.mjs';
import { readSafetensors } from './helpers/safetensors.mjs';

// Relative L2 error allowed on the frame: about 10x the largest observed
// (CPU engine, fp32: 4.2e-7 with AVX-512 and AVX2 kernels, 4.3e-7 scalar).
const TOLERANCE = 5e-6;
// A broken input path must miss by at least this factor times TOLERANCE.
const MARGIN = 100;

const fixture = readSafetensors(requireFixture(join(root, 'tests', 'fixtures', 'tiny', 'api.safetensors')));
const meta = fixture.metadata;
const tensor = (name) => {
  const t = fixture.tensors.get(name);
  assert.ok(t, `api fixture lacks ${name}`);
  return t;
};

const imageT = tensor('in/image');
const [H, W, C] = imageT.shape;
const imageBytes = Uint8Array.from(imageT.data);
const landmarkData = tensor('in/landmarks').data;
const landmarks = Array.from({ length: 68 }, (_, i) => [landmarkData[2 * i], landmarkData[2 * i + 1]]);
const rows = (m) => [0, 1, 2, 3].map((r) => Array.from(m.data.subarray(4 * r, 4 * r + 4)));
const poseSrc = tensor('in/pose_src');
const poseTar = tensor('in/pose_tar');
const samples = tensor('in/samples').data;
const sampleRate = Number(meta.sample_rate);
const frame = Number(meta.frame);
const refRgb = tensor('out/rgb'); // (3, H, W), PyTorch layout
const refMask = tensor('out/mask').data; // (H, W)

/** The engine's frame (H, W, 3 interleaved) in the fixture's (3, H, W) layout. */
function planar(frameOut) {
  const { data, width, height } = frameOut;
  const out = new Float32Array(data.length);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) out[(c * height + y) * width + x] = data[(y * width + x) * 3 + c];
  return out;
}

function countDiff(a, b) {
  let n = 0;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

function transposed(bytes) {
  const out = new Uint8Array(bytes.length);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < 3; c++) out[(x * W + y) * 3 + c] = bytes[(y * W + x) * 3 + c];
  return out;
}

function bgr(bytes) {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i += 3) [out[i], out[i + 2]] = [bytes[i + 2], bytes[i]];
  return out;
}

test('the api fixture holds what the API takes', () => {
  assert.equal(C, 3);
  assert.equal(H, W);
  assert.ok(imageT.data.every((v) => Number.isInteger(v) && v >= 0 && v <= 255), 'image values are bytes');
  assert.equal(landmarkData.length, 136);
  // Not symmetric: neither the image nor the mask equals its mirror image or its transpose.
  let mirror = 0;
  let trans = 0;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      if (refMask[y * W + x] !== refMask[y * W + (W - 1 - x)]) mirror++;
      if (refMask[y * W + x] !== refMask[x * W + y]) trans++;
    }
  assert.ok(mirror > 100 && trans > 100, `mask: ${mirror} pixels differ from its mirror, ${trans} from its transpose`);
  assert.ok(countDiff(transposed(imageBytes), imageBytes) > H * W, 'image differs from its transpose');
  assert.ok(countDiff(bgr(imageBytes), imageBytes) > H * W, 'image differs from its BGR');
});

describe('public API parity with PyTorch (tiny model)', () => {
  let session;
  let audio;
  before(async () => {
    session = await createSession({ model: requireFixture(tinyModel), threads: 2, precision: 'exact' });
    audio = await session.prepareAudio({ samples, sampleRate });
  });
  after(() => session?.dispose());

  /** encodeIdentity -> renderFrame with the fixture's inputs; `image`, `lm` and `mask` replaceable. */
  async function render({ image = imageBytes, lm = landmarks, mask } = {}) {
    const identity = await session.encodeIdentity(
      { data: image, width: W, height: H, channels: 3 },
      { aligned: true, landmarks: lm, ...(mask ? { mask } : {}), pose: poseFromAngles(JSON.parse(meta.pose_src_angles)) },
    );
    try {
      const out = await session.renderFrame(identity, { audio, frame, pose: rows(poseTar), format: 'float32' });
      assert.equal(out.width, W);
      assert.equal(out.height, H);
      return { mask: identity.mask, rgb: planar(out) };
    } finally {
      identity.dispose();
    }
  }

  test('poseFromAngles gives the fixture cameras', () => {
    for (const [angles, ref] of [[meta.pose_src_angles, poseSrc], [meta.pose_tar_angles, poseTar]]) {
      const p = poseFromAngles(JSON.parse(angles));
      const err = Math.max(...p.map((v, i) => Math.abs(v - ref.data[i])));
      assert.ok(err < 1e-6, `poseFromAngles(${angles}) differs from the fixture by ${err}`);
    }
  });

  test('prepareAudio covers the fixture frames', () => {
    assert.equal(audio.frameCount, Number(meta.frame_count));
    assert.ok(frame > 0 && frame < audio.frameCount - 1);
  });

  test('encodeIdentity -> renderFrame matches the PyTorch frame; the landmark mask matches', async () => {
    const { mask, rgb } = await render();
    const maskDiff = countDiff(mask, refMask);
    console.log(`# mask: ${maskDiff} of ${refMask.length} pixels differ`);
    assert.equal(maskDiff, 0, `${maskDiff} mask pixels differ from the fixture`);
    const err = relativeError(rgb, refRgb.data);
    console.log(`# frame via the public API: relative error ${err.toExponential(3)} (tolerance ${TOLERANCE})`);
    assert.ok(err <= TOLERANCE, `frame: relative error ${err} > ${TOLERANCE}`);
  });

  test('the same frame from the fixture log-mel window (engine stage `frame`) agrees', async () => {
    // Separates the audio front end from the rest: if only the API test fails,
    // look at prepareAudio (resampling, log-mel, window) first.
    const image = new Float32Array(3 * H * W);
    for (let i = 0; i < H * W; i++) for (let c = 0; c < 3; c++) image[c * H * W + i] = imageBytes[i * 3 + c] / 255;
    const out = await runStage(session, 'frame', {
      image: { shape: [3, H, W], data: image },
      mask: { shape: [H, W], data: refMask },
      pose_src: { shape: [4, 4], data: poseSrc.data },
      pose_tar: { shape: [4, 4], data: poseTar.data },
      mel: { shape: tensor('out/mel').shape, data: tensor('out/mel').data },
    });
    const err = relativeError(out.rgb.data, refRgb.data);
    console.log(`# frame via runStage from the PyTorch log-mel window: relative error ${err.toExponential(3)}`);
    assert.ok(err <= TOLERANCE, `frame stage: relative error ${err} > ${TOLERANCE}`);
  });

  test('an explicit mask (bytes) wins over the landmarks', async () => {
    const bytes = Uint8Array.from(refMask, (v) => 255 * v);
    const { mask, rgb } = await render({ mask: bytes, lm: landmarks.map(([x, y]) => [y, x]) });
    assert.equal(countDiff(mask, refMask), 0);
    const err = relativeError(rgb, refRgb.data);
    console.log(`# frame with the mask given as bytes: relative error ${err.toExponential(3)}`);
    assert.ok(err <= TOLERANCE, `frame: relative error ${err} > ${TOLERANCE}`);
  });

  describe('a broken input path fails', () => {
    const cases = [
      ['the image transposed (x and y swapped)', { image: transposed(imageBytes) }, false],
      ['the image as BGR', { image: bgr(imageBytes) }, false],
      ['the landmarks mirrored left/right', { lm: landmarks.map(([x, y]) => [W - x, y]) }, true],
      ['the landmarks with x and y swapped', { lm: landmarks.map(([x, y]) => [y, x]) }, true],
    ];
    for (const [name, input, badMask] of cases)
      test(name, async () => {
        const { mask, rgb } = await render(input);
        const maskDiff = countDiff(mask, refMask);
        const err = relativeError(rgb, refRgb.data);
        console.log(`# ${name}: frame relative error ${err.toExponential(3)} (${(err / TOLERANCE).toFixed(0)}x tolerance), ${maskDiff} mask pixels differ`);
        assert.ok(err > MARGIN * TOLERANCE, `${name}: frame relative error ${err} is not above ${MARGIN} x ${TOLERANCE}`);
        if (badMask) assert.ok(maskDiff > 100, `${name}: only ${maskDiff} mask pixels differ`);
        else assert.equal(maskDiff, 0);
      });
  });
});
