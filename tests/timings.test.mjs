// Per-stage engine timings (s3d-nerf/internal lastFrameTimings /
// lastIdentityTimings), which bench/run.mjs reports.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createSession, DisposedError } from '../lib/index.js';
import { binding, lastFrameTimings, lastIdentityTimings } from '../lib/internal.js';
import { requireFixture, syntheticImage, tinyModel, tone } from './helpers/fixtures.mjs';

function assertStages(t, keys) {
  assert.deepEqual(Object.keys(t).sort(), [...keys].sort());
  for (const k of keys) assert.ok(Number.isFinite(t[k]) && t[k] >= 0, `${k} = ${t[k]}`);
  const parts = keys.filter((k) => k !== 'totalMs').reduce((s, k) => s + t[k], 0);
  assert.ok(t.totalMs > 0 && parts <= t.totalMs * 1.001 + 1e-3, `stages ${parts} ms vs total ${t.totalMs} ms`);
}

test('lastIdentityTimings / lastFrameTimings report the last call per stage', async () => {
  const session = await createSession({ model: requireFixture(tinyModel), threads: 2 });
  const frameKeys = ['audioMs', 'attentionMs', 'nerfMs', 'srMs', 'totalMs'];
  const identityKeys = ['encoderMs', 'aggregateMs', 'srSourceMs', 'totalMs'];
  assert.deepEqual(lastFrameTimings(session), Object.fromEntries(frameKeys.map((k) => [k, 0])));
  assert.deepEqual(lastIdentityTimings(session), Object.fromEntries(identityKeys.map((k) => [k, 0])));

  const identity = await session.encodeIdentity(syntheticImage(64), { aligned: true });
  assertStages(lastIdentityTimings(session), identityKeys);
  const audio = await session.prepareAudio(tone(0.2));
  await session.renderFrame(identity, { audio, frame: 1 });
  const first = lastFrameTimings(session);
  assertStages(first, frameKeys);
  await session.renderFrame(identity, { audio, frame: 2 });
  assert.notDeepEqual(lastFrameTimings(session), first, 'a new frame replaces the timings');

  assert.throws(() => binding().lastTimings({}), /Expected a session handle/);
  await session.dispose();
  assert.throws(() => lastFrameTimings(session), DisposedError);
});
