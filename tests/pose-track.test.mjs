// Pose helpers for video (ts/camera.ts): offsetPose, orbitTrack, parsePoseTrack.
// Run: npm test
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  frontalPose, poseFromAngles, offsetPose, orbitTrack, parsePoseTrack, toPoseMatrix,
  InvalidArgumentError, LOOK_AT,
} from '../lib/index.js';

const close = (a, b, tol = 1e-6, what = '') => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};
const position = (p) => [p[3], p[7], p[11]];
const forward = (p) => [p[2], p[6], p[10]];

/** Distance from LOOK_AT to the camera's optical axis. */
function axisMiss(p) {
  const c = position(p), f = forward(p);
  const d = [LOOK_AT[0] - c[0], LOOK_AT[1] - c[1], LOOK_AT[2] - c[2]];
  const t = d[0] * f[0] + d[1] * f[1] + d[2] * f[2];
  return Math.hypot(d[0] - t * f[0], d[1] - t * f[1], d[2] - t * f[2]);
}
const dist = (p) => Math.hypot(...position(p).map((v, i) => v - LOOK_AT[i]));

test('offsetPose: identity, orbit about the look-at point, roll as poseFromAngles', () => {
  close(offsetPose(frontalPose(), {}), frontalPose(), 1e-6, 'no offset');
  close(offsetPose(), frontalPose(), 1e-6, 'defaults');
  for (const angles of [{ yaw: 20 }, { yaw: -35, pitch: 10 }, { pitch: -15, roll: 5 }, { yaw: 180 }]) {
    const p = offsetPose(frontalPose(), angles);
    toPoseMatrix(p); // orthonormal, det +1
    assert.ok(axisMiss(p) < 1e-6, `${JSON.stringify(angles)}: the face is not centred`);
    assert.ok(Math.abs(dist(p) - dist(frontalPose())) < 1e-6, `${JSON.stringify(angles)}: distance changed`);
  }
  const y = position(offsetPose(frontalPose(), { yaw: 20 }));
  assert.ok(y[0] > 0.8 && Math.abs(y[1]) < 1e-9, `yaw 20 moves the camera to +x: ${y}`);
  assert.ok(position(offsetPose(frontalPose(), { pitch: 10 }))[1] > 0.4, 'pitch up moves the camera to +y');
  // roll only: same camera position, the rotation of poseFromAngles({ roll })
  close(offsetPose(frontalPose(), { roll: 30 }), poseFromAngles({ roll: 30 }), 1e-6, 'roll');
  // offsets compose relative to the base: yaw 10 then yaw 15 = yaw 25
  close(offsetPose(offsetPose(frontalPose(), { yaw: 10 }), { yaw: 15 }), offsetPose(frontalPose(), { yaw: 25 }), 1e-5, 'compose');
  // relative to a non-frontal base: still centred, same distance
  const base = poseFromAngles({ yaw: 30, pitch: 10 });
  const q = offsetPose(base, { yaw: -10, pitch: 5, roll: 3 });
  assert.ok(axisMiss(q) < 1e-5);
  assert.ok(Math.abs(dist(q) - dist(base)) < 1e-5);
});

test('offsetPose validation', () => {
  assert.throws(() => offsetPose(frontalPose(), { yaw: NaN }), { name: 'InvalidArgumentError', message: /Expected a number of degrees in \[-180, 180\] for angles\.yaw but received NaN/ });
  assert.throws(() => offsetPose(frontalPose(), { pitch: 95 }), /for angles\.pitch but received 95/);
  assert.throws(() => offsetPose([1, 2, 3], {}), InvalidArgumentError);
});

test('orbitTrack: starts at the base, stays within the amplitudes, periodic', () => {
  const t = orbitTrack(200);
  assert.equal(t.length, 200);
  close(t[0], frontalPose(), 1e-9, 'frame 0');
  close(t[100], frontalPose(), 1e-6, 'one period (4 s at 25 fps)');
  let maxX = 0;
  for (const p of t) {
    toPoseMatrix(p);
    assert.ok(axisMiss(p) < 1e-6);
    maxX = Math.max(maxX, position(p)[0]);
  }
  const expected = position(offsetPose(frontalPose(), { yaw: 20 }))[0];
  assert.ok(maxX <= expected + 1e-9 && maxX > expected * 0.99, `max x ${maxX}, yaw-20 x ${expected}`);
  const custom = orbitTrack(51, { yawAmplitude: 10, pitchAmplitude: 0, period: 2, fps: 25, base: poseFromAngles({ yaw: 5 }) });
  close(custom[50], custom[0], 1e-6, 'custom period');
  assert.deepEqual(orbitTrack(0), []);
  assert.throws(() => orbitTrack(-1), /non-negative integer for frameCount/);
  assert.throws(() => orbitTrack(5, { period: 0 }), /positive number for period/);
  assert.throws(() => orbitTrack(5, { yawAmplitude: Infinity }), /yawAmplitude/);
});

test('parsePoseTrack: object or bare array, matrices and angles', () => {
  const f = frontalPose();
  const json = JSON.stringify({ fps: 30, poses: [f, { yaw: 10 }, { pitch: -5, roll: 2 }, [[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 2.7], [0, 0, 0, 1]]] });
  const t = parsePoseTrack(json);
  assert.equal(t.fps, 30);
  assert.equal(t.poses.length, 4);
  close(t.poses[0], f, 1e-6);
  close(t.poses[1], offsetPose(f, { yaw: 10 }), 1e-6);
  close(t.poses[3], f, 1e-6);
  const bare = parsePoseTrack([{ yaw: 5 }]);
  assert.equal(bare.fps, undefined);
  // angles are relative to `base` (the CLI passes identity.pose)
  const base = poseFromAngles({ yaw: 20 });
  close(parsePoseTrack('[{"yaw": 0}]', { base }).poses[0], base, 1e-6);
  close(parsePoseTrack(Buffer.from('[{"yaw": 3}]')).poses[0], offsetPose(f, { yaw: 3 }), 1e-6);
});

test('parsePoseTrack: clear validation messages', () => {
  const f = frontalPose();
  const err = (value, re) => assert.throws(() => parsePoseTrack(value), (e) => {
    assert.ok(e instanceof InvalidArgumentError, `${e?.name}: ${e?.message}`);
    assert.match(e.message, re);
    return true;
  });
  err(JSON.stringify({ poses: [f, f, f, f.slice(0, 15)] }), /^Expected 16 finite numbers for poses\[3\] but received 15$/);
  err('[' + JSON.stringify(f) + ', [1,0,0,0, 0,-1,0,0, 0,0,-1,1e999, 0,0,0,1]]', /^Expected 16 finite numbers for poses\[1\] but received 1 non-finite or non-numeric value$/);
  err([[...f.slice(0, 15), NaN]], /poses\[0\] but received 1 non-finite/);
  err([[...f.slice(0, 15), '1']], /poses\[0\] but received 1 non-finite or non-numeric value/);
  err([[2, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1]], /for poses\[0\] but received a rotation block that is not orthonormal/);
  err([{ yaw: 'left' }], /for poses\[0\]\.yaw but received "left"/);
  err([{ yaw: 1, tilt: 2 }], /Unexpected key "tilt" in poses\[0\]/);
  err([42], /^Expected 16 finite numbers or \{ yaw, pitch, roll \} for poses\[0\] but received 42$/);
  err('[]', /at least one pose/);
  err('{"fps": 25}', /Expected an array for poses but received undefined/);
  err('{"fps": -1, "poses": [{}]}', /positive number for fps but received -1/);
  err('{"poses": [{}], "speed": 2}', /Unexpected key "speed"/);
  err('{"poses": [', /^Expected a JSON pose track but parsing failed: /);
  err('"hello"', /Expected a pose track/);
});
