#!/usr/bin/env node
// Soak test (issue 7): renders many frames with the tiny fixture model and
// creates/disposes many sessions, identities and audio tracks, sampling RSS,
// and fails when memory keeps growing after warm-up.
//
//   npm run soak                                   10,000 frames, 200 sessions, 200 identities
//   node --expose-gc tests/soak.mjs --frames 1000 --sessions 50 --identities 50 --json
//
// Options: --frames N, --sessions N, --identities N, --sample N (frames between
// RSS samples, default 500), --max-growth-mb N (default 20), --threads N, --json
// (one JSON line with the curves on stdout, for tests/robustness-concurrency.test.mjs).
// Without --expose-gc the samples include garbage not yet collected (noisier).
import { parseArgs } from 'node:util';

import { createSession, poseFromAngles } from '../lib/index.js';
import { syntheticImage, tinyModel, tone } from './helpers/fixtures.mjs';

const { values: opt } = parseArgs({
  options: {
    frames: { type: 'string', default: '10000' },
    sessions: { type: 'string', default: '200' },
    identities: { type: 'string', default: '200' },
    sample: { type: 'string' },
    'max-growth-mb': { type: 'string', default: '20' },
    threads: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});
const FRAMES = Number(opt.frames);
const SESSIONS = Number(opt.sessions);
const IDENTITIES = Number(opt.identities);
const SAMPLE = Number(opt.sample ?? Math.min(500, Math.max(50, Math.floor(FRAMES / 10))));
const MAX_GROWTH = Number(opt['max-growth-mb']);
const THREADS = Number(opt.threads);
const log = opt.json ? () => {} : (...a) => console.log(...a);

const MB = 2 ** 20;
async function settle() {
  // Let finalizers queued by the last GC run, then collect again.
  for (let i = 0; i < 2; i++) {
    globalThis.gc?.();
    await new Promise((r) => setImmediate(r));
  }
}
async function rssMB() {
  await settle();
  return process.memoryUsage().rss / MB;
}
/** Growth of the curve after warm-up: max of the later samples minus the first sample after warm-up. */
function growth(curve, warmupIndex) {
  const base = curve[Math.min(warmupIndex, curve.length - 1)].rssMB;
  const later = curve.slice(warmupIndex);
  return Math.max(...later.map((p) => p.rssMB)) - base;
}

const result = { frames: FRAMES, sessions: SESSIONS, identities: IDENTITIES, gc: typeof globalThis.gc === 'function', maxGrowthMB: MAX_GROWTH };
const t0 = performance.now();

// ---- phase 1: frames
{
  const session = await createSession({ model: tinyModel, threads: THREADS });
  const identity = await session.encodeIdentity(syntheticImage(64), { aligned: true });
  const audio = await session.prepareAudio(tone(4)); // 100 frames
  const poses = [undefined, poseFromAngles({ yaw: 15 }), poseFromAngles({ pitch: -10, roll: 5 })];
  const curve = [{ frames: 0, rssMB: await rssMB() }];
  let done = 0;
  let checksum = 0;
  let batch = 0;
  while (done < FRAMES) {
    const n = Math.min(audio.frameCount, FRAMES - done, SAMPLE - (done % SAMPLE));
    const start = (done * 7) % (audio.frameCount - n + 1);
    const pose = poses[batch % poses.length];
    const format = batch % 2 ? 'float32' : 'uint8';
    if (batch % 3 === 2) {
      for (let i = 0; i < n; i++) {
        const f = await session.renderFrame(identity, { audio, frame: start + i, pose, format });
        checksum += f.data[i % f.data.length];
      }
    } else {
      const frames = await session.renderFrames(identity, { audio, frames: { start, end: start + n }, pose, format });
      checksum += frames.length;
    }
    done += n;
    batch++;
    if (done % SAMPLE === 0 || done === FRAMES) {
      const p = { frames: done, rssMB: await rssMB() };
      curve.push(p);
      log(`frames ${String(done).padStart(6)}  rss ${p.rssMB.toFixed(1)} MiB  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
  await session.dispose();
  // warm-up: the first sample at or after 10% of the frames (at least one sample)
  const warm = Math.max(1, curve.findIndex((p) => p.frames >= FRAMES / 10));
  result.frameCurve = curve;
  result.frameGrowthMB = growth(curve, warm);
  result.msPerFrame = (performance.now() - t0) / FRAMES;
  result.checksum = Number.isFinite(checksum);
}

// ---- phase 2: sessions created and disposed in a loop
{
  const t1 = performance.now();
  const curve = [{ sessions: 0, rssMB: await rssMB() }];
  const every = Math.max(1, Math.floor(SESSIONS / 10));
  for (let i = 1; i <= SESSIONS; i++) {
    const s = await createSession({ model: tinyModel, threads: THREADS });
    const id = await s.encodeIdentity(syntheticImage(64), { aligned: true });
    const au = await s.prepareAudio(tone(0.1));
    await s.renderFrame(id, { audio: au, frame: i % au.frameCount });
    await id.dispose();
    await au.dispose();
    await s.dispose();
    if (i % every === 0) {
      const p = { sessions: i, rssMB: await rssMB() };
      curve.push(p);
      log(`sessions ${String(i).padStart(4)}  rss ${p.rssMB.toFixed(1)} MiB`);
    }
  }
  result.sessionCurve = curve;
  result.sessionGrowthMB = growth(curve, Math.min(2, curve.length - 1));
  result.sessionSeconds = (performance.now() - t1) / 1000;
}

// ---- phase 3: identities and audio tracks created and disposed on one session
{
  const s = await createSession({ model: tinyModel, threads: THREADS });
  const curve = [{ identities: 0, rssMB: await rssMB() }];
  const every = Math.max(1, Math.floor(IDENTITIES / 10));
  const image = syntheticImage(64);
  for (let i = 1; i <= IDENTITIES; i++) {
    const id = await s.encodeIdentity(image, { aligned: true });
    const au = await s.prepareAudio(tone(0.2));
    await id.dispose();
    await au.dispose();
    if (i % every === 0) {
      const p = { identities: i, rssMB: await rssMB() };
      curve.push(p);
      log(`identities ${String(i).padStart(4)}  rss ${p.rssMB.toFixed(1)} MiB`);
    }
  }
  await s.dispose();
  result.identityCurve = curve;
  result.identityGrowthMB = growth(curve, Math.min(2, curve.length - 1));
}

result.seconds = (performance.now() - t0) / 1000;
const failures = [];
if (result.frameGrowthMB > MAX_GROWTH) failures.push(`RSS grew ${result.frameGrowthMB.toFixed(1)} MiB over ${FRAMES} frames after warm-up`);
if (result.sessionGrowthMB > MAX_GROWTH) failures.push(`RSS grew ${result.sessionGrowthMB.toFixed(1)} MiB over ${SESSIONS} sessions after warm-up`);
if (result.identityGrowthMB > MAX_GROWTH) failures.push(`RSS grew ${result.identityGrowthMB.toFixed(1)} MiB over ${IDENTITIES} identities after warm-up`);
result.ok = failures.length === 0;
result.failures = failures;

if (opt.json) console.log(JSON.stringify(result));
else {
  log(`\nframes: ${FRAMES} in ${(result.msPerFrame * FRAMES / 1000).toFixed(1)} s (${result.msPerFrame.toFixed(2)} ms/frame), ` +
    `RSS growth after warm-up ${result.frameGrowthMB.toFixed(1)} MiB`);
  log(`sessions: ${SESSIONS} created/disposed in ${result.sessionSeconds.toFixed(1)} s, RSS growth ${result.sessionGrowthMB.toFixed(1)} MiB`);
  log(`identities: ${IDENTITIES} created/disposed, RSS growth ${result.identityGrowthMB.toFixed(1)} MiB`);
  log(result.gc ? '' : '(run with --expose-gc for stable numbers)');
  for (const f of failures) console.error(`FAIL ${f} (limit ${MAX_GROWTH} MiB)`);
  if (result.ok) log(`soak ok (limit ${MAX_GROWTH} MiB growth after warm-up)`);
}
process.exitCode = result.ok ? 0 : 1;
