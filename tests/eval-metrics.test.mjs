// The pure metrics of `npm run eval` (scripts/eval/metrics.mjs): lip opening
// on synthetic landmarks, Pearson and lag handling, the sync z-score on a
// lagged copy vs. an unrelated series, and the bar check. No face-api here.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkBar } from '../scripts/eval/bar.mjs';
import {
  circularShift,
  fitToLength,
  laggedCorrelations,
  lipOpening,
  peakCorrelation,
  pearson,
  speechEnvelope,
  std,
  syncZ,
  videoMetrics,
} from '../scripts/eval/metrics.mjs';

/** Deterministic uniform [0, 1) generator (mulberry32). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(next) {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/** A speech-like envelope: noise smoothed over 3 frames (syllables last several frames). */
function envelopeLike(next, n) {
  const raw = Array.from({ length: n + 2 }, () => gaussian(next));
  return Float64Array.from({ length: n }, (_, i) => (raw[i] + raw[i + 1] + raw[i + 2]) / 3);
}

/** 68 points: eyes centred at (-50, 0) and (50, 0) (IOD 100), inner lips 61-63 at y = 0 and 65-67 at y = gap. */
function syntheticLandmarks(gap) {
  const points = Array.from({ length: 68 }, (_, i) => [i, 200 + i]);
  // symmetric offsets around each eye centre, so the centres are exact
  const eye = [[-10, 0], [-5, -3], [5, -3], [10, 0], [5, 3], [-5, 3]];
  eye.forEach(([dx, dy], k) => {
    points[36 + k] = [-50 + dx, dy];
    points[42 + k] = [50 + dx, dy];
  });
  points[61] = [-10, 80];
  points[62] = [0, 80];
  points[63] = [10, 80];
  points[67] = [-10, 80 + gap];
  points[66] = [0, 80 + gap];
  points[65] = [10, 80 + gap];
  return points;
}

test('lip opening = inner-lip gap / inter-ocular distance', () => {
  assert.ok(Math.abs(lipOpening(syntheticLandmarks(7)) - 0.07) < 1e-12);
  assert.equal(lipOpening(syntheticLandmarks(0)), 0);
  // scale-free: doubling every coordinate keeps the ratio
  const doubled = syntheticLandmarks(12).map(([x, y]) => [2 * x + 3, 2 * y - 1]);
  assert.ok(Math.abs(lipOpening(doubled) - 0.12) < 1e-12);
  assert.throws(() => lipOpening(syntheticLandmarks(5).slice(0, 67)), /68 landmarks/);
});

test('pearson: known values, NaN-skipping, constant series', () => {
  assert.ok(Math.abs(pearson([1, 2, 3, 4], [2, 4, 6, 8]) - 1) < 1e-12);
  assert.ok(Math.abs(pearson([1, 2, 3, 4], [8, 6, 4, 2]) + 1) < 1e-12);
  assert.ok(Math.abs(pearson([1, 2, 3, 4, 5], [1, 3, 2, 5, 4]) - 0.8) < 1e-12);
  // a NaN frame (no face) drops that pair only
  assert.ok(Math.abs(pearson([1, NaN, 2, 3, 4], [2, 100, 4, 6, 8]) - 1) < 1e-12);
  assert.ok(Number.isNaN(pearson([1, 1, 1, 1], [1, 2, 3, 4])));
  assert.ok(Number.isNaN(pearson([1, 2], [1, 2])));
});

test('lagged correlation finds the lag, with the sign convention lip(t) ~ envelope(t + lag)', () => {
  const env = envelopeLike(rng(1), 120);
  const lip = Float64Array.from({ length: 120 }, (_, t) => (t >= 2 ? env[t - 2] : 0)); // lips 2 frames after the sound
  const rs = laggedCorrelations(lip, env, 3);
  assert.deepEqual(rs.map((c) => c.lag), [-3, -2, -1, 0, 1, 2, 3]);
  const best = peakCorrelation(lip, env, 3);
  assert.equal(best.lag, -2);
  assert.ok(best.peak > 0.99);
  // a lag beyond the searched range is not found
  const far = Float64Array.from({ length: 120 }, (_, t) => (t >= 8 ? env[t - 8] : 0));
  assert.ok(peakCorrelation(far, env, 3).peak < 0.5);
});

test('cut/loop and circular shift', () => {
  assert.deepEqual(Array.from(fitToLength([1, 2, 3], 7)), [1, 2, 3, 1, 2, 3, 1]);
  assert.deepEqual(Array.from(fitToLength([1, 2, 3, 4], 2)), [1, 2]);
  assert.deepEqual(Array.from(circularShift([1, 2, 3, 4, 5], 2)), [4, 5, 1, 2, 3]);
  assert.deepEqual(Array.from(circularShift([1, 2, 3, 4, 5], -1)), [2, 3, 4, 5, 1]);
});

test('speech envelope: log RMS per 40 ms window, silence floored', () => {
  const sr = 16000;
  const samples = new Float32Array(sr); // 1 s: first half a 0.5-amplitude square wave, then silence
  for (let i = 0; i < sr / 2; i++) samples[i] = i % 2 ? 0.5 : -0.5;
  const env = speechEnvelope(samples, sr, 30, 25); // 30 frames > 25: the last 5 windows are past the end
  assert.equal(env.length, 30);
  assert.ok(Math.abs(env[0] - Math.log(0.5)) < 1e-6);
  assert.ok(Math.abs(env[11] - Math.log(0.5)) < 1e-6);
  assert.equal(env[13], env[29]); // silence and "past the end" both sit at the floor
  assert.ok(env[13] < env[0] - 5);
});

test('sync z: high for lagged lips, near 0 for unrelated ones', () => {
  const next = rng(42);
  const n = 100;
  const env = envelopeLike(next, n);
  const others = Array.from({ length: 20 }, () => envelopeLike(next, 80 + Math.floor(next() * 60)));
  const lagged = Float64Array.from({ length: n }, (_, t) => (t >= 1 ? env[t - 1] : env[0]) + 0.1 * gaussian(next));
  const synced = syncZ(lagged, env, others);
  assert.ok(synced.z > 3, `z ${synced.z}`);
  assert.equal(synced.lag, -1);
  assert.equal(synced.nullCount, 20 + (n - 2 * 10 + 1));

  const unrelated = envelopeLike(next, n);
  const random = syncZ(unrelated, env, others);
  assert.ok(Math.abs(random.z) < 2, `z ${random.z}`);

  // still lips (the copy-the-source baseline): no correlation, z undefined
  assert.ok(Number.isNaN(syncZ(new Float64Array(n).fill(0.1), env, others).z));
  assert.throws(() => syncZ(lagged, env.slice(0, 50), others), /at least 100 frames/);
});

test('video metrics summarise faces; the bar check fails undefined values', () => {
  const src = Array.from({ length: 128 }, (_, i) => i / 128);
  const near = src.map((v) => v + 0.01);
  const faces = [
    { found: true, landmarks: syntheticLandmarks(5), descriptor: src },
    { found: false },
    { found: true, landmarks: syntheticLandmarks(9), descriptor: near },
    { found: true, landmarks: syntheticLandmarks(7), descriptor: src },
  ];
  const m = videoMetrics({ faces, sourceDescriptor: src, envelope: [0, 1, 2, 3, 4], otherEnvelopes: [] });
  assert.equal(m.frames, 4);
  assert.equal(m.faceFound, 0.75);
  assert.ok(Math.abs(m.identityDistance - (0.01 * Math.sqrt(128)) / 3) < 1e-12);
  assert.ok(Math.abs(m.lipMean - 0.07) < 1e-12);
  assert.ok(Math.abs(m.lipStd - std([0.05, 0.09, 0.07])) < 1e-12);
  assert.ok(Number.isNaN(m.series.lipOpening[1]));

  const pass = checkBar({ faceFound: 1, identityDistance: 0.3, lipStd: 0.03, syncZ: 2 });
  assert.ok(pass.every((v) => v.pass));
  const fail = checkBar({ faceFound: 0.9, identityDistance: 0.7, lipStd: 0.01, syncZ: NaN });
  assert.deepEqual(fail.map((v) => v.pass), [false, false, false, false]);
});
