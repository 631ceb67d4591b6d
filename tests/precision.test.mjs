// precision: 'fast' against 'exact' (issue 11). 'fast' rounds the NeRF MLP and
// SR conv operands to bf16 (kernels/bf16.h); its guard is PSNR >= 40 dB against
// 'exact' on every frame of the README example with the shipped weights
// (bench/precision.mjs checks more faces and every frame: >= 66.7 dB, 59.5 dB in the
// mouth box). The same frames must differ at all, or 'fast' is not running.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createSession, cpuFeatures, DEFAULT_MODEL, offsetPose } from '../lib/index.js';
import { framePsnr, mouthBox } from '../bench/psnr.mjs';
import { root, tinyModel } from './helpers/fixtures.mjs';

const MIN_PSNR = 40;
// [frame, yaw in degrees]: the source camera and a turned one (free view).
const FRAMES = [[0, 0], [20, 0], [40, 15], [60, -10]];

test('precision is validated and reported', async () => {
  await assert.rejects(createSession({ model: tinyModel, threads: 1, precision: 'bf16' }), {
    name: 'InvalidArgumentError',
    message: /precision/,
  });
  await assert.rejects(createSession({ model: tinyModel, threads: 1, precision: 1 }), /precision/);
  const a = await createSession({ model: tinyModel, threads: 1, backend: 'cpu' });
  const b = await createSession({ model: tinyModel, threads: 1, backend: 'cpu', precision: 'exact' });
  try {
    assert.equal(a.precision, 'fast');
    assert.equal(b.precision, 'exact');
  } finally {
    await a.dispose();
    await b.dispose();
  }
});

describe('fast against exact, shipped model, README example', { skip: cpuFeatures().bf16Kernels ? false : "no AVX512-BF16 kernels on this CPU: 'fast' computes what 'exact' does" }, () => {
  let exact;
  let fast;
  before(async () => {
    const model = join(root, DEFAULT_MODEL);
    exact = await createSession({ model, threads: 2, backend: 'cpu', precision: 'exact' });
    fast = await createSession({ model, threads: 2, backend: 'cpu', precision: 'fast' });
  });
  after(async () => {
    await exact?.dispose();
    await fast?.dispose();
  });

  test(`every frame within ${MIN_PSNR} dB PSNR, and not identical`, async () => {
    const photo = join(root, 'examples', 'astronaut.png');
    const speech = join(root, 'examples', 'speech.wav');
    const [ie, ifa] = [await exact.encodeIdentity(photo), await fast.encodeIdentity(photo)];
    const [ae, af] = [await exact.prepareAudio(speech), await fast.prepareAudio(speech)];
    const box = mouthBox(exact.config);
    for (const [i, yaw] of FRAMES) {
      const pose = offsetPose(ie.pose, { yaw });
      const a = await exact.renderFrame(ie, { audio: ae, frame: i, pose, format: 'float32' });
      const b = await fast.renderFrame(ifa, { audio: af, frame: i, pose, format: 'float32' });
      const whole = framePsnr(a.data, b.data, a.width);
      const mouth = framePsnr(a.data, b.data, a.width, box);
      assert.ok(whole.psnr >= MIN_PSNR, `frame ${i}: ${whole.psnr.toFixed(2)} dB`);
      assert.ok(Number.isFinite(mouth.psnr) && mouth.maxAbs > 0, `frame ${i}: fast equals exact, so the bf16 kernels did not run`);
      // Outside the mouth box a paste model shows the photo in both.
      assert.ok(mouth.psnr < whole.psnr, `frame ${i}: the differences should sit in the mouth box`);
    }
  });
});
