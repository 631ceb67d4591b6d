// Issue 7, engine level: concurrency, cancellation, dispose races, finalizers
// and a bounded soak. Sessions are independent engines; calls on one session
// are serialised in call order; dispose() and AbortSignal never crash and
// never leave a promise pending; handles dropped without dispose() are freed
// by the garbage collector.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { AbortError, createSession, DisposedError, poseFromAngles } from '../lib/index.js';
import { binding } from '../lib/internal.js';
import { root, syntheticImage, tinyModel, tone } from './helpers/fixtures.mjs';

const SIZE = 64;

function gradient(seed) {
  const img = syntheticImage(SIZE);
  for (let i = 0; i < img.data.length; i += 3) img.data[i + 2] = (seed * 53 + i) & 0xff;
  return img;
}

/** Settles within ms or fails: nothing may stay pending forever. */
function within(p, ms, what) {
  let timer;
  return Promise.race([p, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`${what} still pending after ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(timer));
}

describe('concurrency', () => {
  const jobs = [0, 1, 2].map((k) => ({ image: gradient(k), frames: { start: k, end: k + 4 }, pose: poseFromAngles({ yaw: 10 * k - 10 }) }));
  let sequential;

  before(async () => {
    // Reference: the same three jobs one after another on a single session.
    const s = await createSession({ model: tinyModel, threads: 1 });
    const audio = await s.prepareAudio(tone(0.4));
    sequential = [];
    for (const j of jobs) {
      const id = await s.encodeIdentity(j.image, { aligned: true });
      sequential.push(await s.renderFrames(id, { audio, frames: j.frames, pose: j.pose, format: 'float32' }));
    }
    await s.dispose();
  });

  test('three sessions rendering in parallel give the sequential results', async () => {
    const sessions = await Promise.all(jobs.map(() => createSession({ model: tinyModel, threads: 1 })));
    const results = await Promise.all(jobs.map(async (j, k) => {
      const s = sessions[k];
      const [id, audio] = await Promise.all([s.encodeIdentity(j.image, { aligned: true }), s.prepareAudio(tone(0.4))]);
      return s.renderFrames(id, { audio, frames: j.frames, pose: j.pose, format: 'float32' });
    }));
    for (let k = 0; k < jobs.length; k++) {
      assert.equal(results[k].length, 4);
      for (let f = 0; f < 4; f++) assert.deepEqual(results[k][f].data, sequential[k][f].data, `job ${k} frame ${f}`);
    }
    await Promise.all(sessions.map((s) => s.dispose()));
  });

  test('many calls fired at once on one session run one at a time, in call order', async () => {
    const s = await createSession({ model: tinyModel, threads: 2 });
    const audio = await s.prepareAudio(tone(0.4));
    const id = await s.encodeIdentity(jobs[0].image, { aligned: true });
    const order = [];
    const b = binding();
    const orig = b.renderFrame;
    let running = 0;
    let maxRunning = 0;
    b.renderFrame = (...args) => {
      maxRunning = Math.max(maxRunning, ++running);
      return orig.apply(b, args).finally(() => running--);
    };
    try {
      const calls = [];
      for (let i = 0; i < 40; i++) {
        const frame = i % 4;
        // interleave other kinds of calls: they join the same queue
        if (i % 10 === 5) calls.push(s.prepareAudio(tone(0.1)).then(() => { order.push(`audio${i}`); return null; }));
        calls.push(s.renderFrame(id, { audio, frame, pose: jobs[0].pose, format: 'float32' }).then((f) => { order.push(i); return f; }));
      }
      const frames = (await Promise.all(calls)).filter(Boolean);
      assert.deepEqual(order.filter((x) => typeof x === 'number'), [...Array(40).keys()]);
      // (prepareAudio decodes before it queues, so it joins after the renders fired in the same tick)
      assert.equal(order.filter((x) => typeof x === 'string').length, 4);
      assert.equal(maxRunning, 1, 'two engine calls of one session overlapped');
      frames.forEach((f, i) => assert.deepEqual(f.data, sequential[0][i % 4].data, `call ${i}`));
    } finally {
      b.renderFrame = orig;
      await s.dispose();
    }
  });
});

describe('cancellation and dispose races', () => {
  let s;
  let id;
  let audio;
  before(async () => {
    s = await createSession({ model: tinyModel, threads: 1 });
    id = await s.encodeIdentity(syntheticImage(SIZE), { aligned: true });
    audio = await s.prepareAudio(tone(1));
  });
  after(() => s?.dispose());

  test('AbortSignal on renderFrames stops within one frame', async () => {
    const b = binding();
    const orig = b.renderFrame;
    const ac = new AbortController();
    let calls = 0;
    let afterAbort = 0;
    b.renderFrame = (...args) => {
      if (ac.signal.aborted) afterAbort++;
      if (++calls === 3) queueMicrotask(() => ac.abort(new Error('user cancelled'))); // while frame 3 is in flight
      return orig.apply(b, args);
    };
    try {
      await assert.rejects(s.renderFrames(id, { audio, signal: ac.signal }), (e) => {
        assert.ok(e instanceof AbortError);
        assert.equal(e.cause.message, 'user cancelled');
        return true;
      });
      assert.equal(calls, 3, 'the frame in flight finishes, no further frame starts');
      assert.equal(afterAbort, 0);
    } finally {
      b.renderFrame = orig;
    }
    // Aborting a call still waiting in the queue rejects it at once; the session stays usable.
    const ac2 = new AbortController();
    const first = s.renderFrames(id, { audio, frames: { start: 0, end: 5 } });
    const waiting = s.renderFrame(id, { audio, frame: 0, signal: ac2.signal });
    ac2.abort();
    await assert.rejects(within(waiting, 200, 'aborted queued call'), AbortError);
    assert.equal((await first).length, 5);
    assert.equal((await s.renderFrame(id, { audio, frame: 3 })).data.length, SIZE * SIZE * 3);
  });

  test('dispose() while renders are in flight and queued: all settle, nothing crashes', async () => {
    for (let round = 0; round < 5; round++) {
      const t = await createSession({ model: tinyModel, threads: 2 });
      const tid = await t.encodeIdentity(syntheticImage(SIZE), { aligned: true });
      const tau = await t.prepareAudio(tone(0.4));
      const many = t.renderFrames(tid, { audio: tau });
      const queued = [0, 1, 2].map((f) => t.renderFrame(tid, { audio: tau, frame: f }));
      const queuedId = t.encodeIdentity(syntheticImage(SIZE), { aligned: true });
      const queuedAudio = t.prepareAudio(tone(0.1));
      // dispose at a different moment each round: before/while the first frames render
      for (let k = 0; k < round; k++) await new Promise((r) => setImmediate(r));
      const disposing = t.dispose();
      const settled = await within(Promise.allSettled([many, ...queued, queuedId, queuedAudio]), 10000, 'calls after dispose');
      await within(disposing, 10000, 'dispose()');
      // renderFrames either finished or stopped between frames with DisposedError
      if (settled[0].status === 'rejected') assert.ok(settled[0].reason instanceof DisposedError, String(settled[0].reason));
      for (const r of settled.slice(1)) {
        assert.equal(r.status, 'rejected');
        assert.ok(r.reason instanceof DisposedError, String(r.reason));
      }
      await assert.rejects(t.renderFrame(tid, { audio: tau, frame: 0 }), DisposedError);
    }
  });

  test('identity / audio disposed between the frames of a renderFrames', async () => {
    const own = await s.encodeIdentity(syntheticImage(SIZE), { aligned: true });
    const b = binding();
    const orig = b.renderFrame;
    let calls = 0;
    b.renderFrame = (...args) => {
      if (++calls === 2) own.dispose();
      return orig.apply(b, args);
    };
    try {
      await assert.rejects(within(s.renderFrames(own, { audio, frames: { start: 0, end: 10 } }), 10000, 'renderFrames'), DisposedError);
      assert.equal(calls, 2);
    } finally {
      b.renderFrame = orig;
    }
  });
});

describe('finalizers and memory', () => {
  test('sessions, identities and audio dropped without dispose() are collected (child, --expose-gc)', () => {
    const script = `
      import { readFileSync } from 'node:fs';
      import { createSession } from ${JSON.stringify(join(root, 'lib/index.js'))};
      import { syntheticImage, tinyModel, tone } from ${JSON.stringify(join(root, 'tests/helpers/fixtures.mjs'))};
      const threads = () => Number(/Threads:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      const settle = async () => { for (let i = 0; i < 3; i++) { gc(); await new Promise((r) => setImmediate(r)); } };
      const rss = async () => { await settle(); return process.memoryUsage().rss / 2 ** 20; };
      async function leakOne(i) {
        const s = await createSession({ model: tinyModel, threads: 2 });  // 1 worker thread each
        const id = await s.encodeIdentity(syntheticImage(64), { aligned: true });
        const au = await s.prepareAudio(tone(0.1));
        await s.renderFrame(id, { audio: au, frame: 0 });
        // no dispose(): everything becomes garbage here
      }
      // Warm-up: the allocator's high-water mark settles once ~80 engines
      // have been alive between two collections; after that RSS must stay flat.
      for (let i = 0; i < 80; i++) { await leakOne(i); if (i % 20 === 19) await settle(); }
      const base = await rss();
      const baseThreads = threads();
      let peakThreads = 0;
      for (let i = 0; i < 200; i++) {
        await leakOne(i);
        peakThreads = Math.max(peakThreads, threads());
        if (i % 20 === 19) await settle();
      }
      const end = await rss();
      console.log(JSON.stringify({ base, end, baseThreads, endThreads: threads(), peakThreads }));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 120000 });
    assert.equal(r.status, 0, `child exited ${r.status ?? r.signal}\n${r.stderr}`);
    const m = JSON.parse(r.stdout.trim().split('\n').at(-1));
    console.log(`# 200 undisposed sessions after 80 for warm-up: RSS ${m.base.toFixed(1)} -> ${m.end.toFixed(1)} MiB, threads ${m.baseThreads} -> ${m.endThreads} (peak ${m.peakThreads})`);
    assert.ok(m.end - m.base < 20, `RSS grew ${(m.end - m.base).toFixed(1)} MiB: undisposed handles are not freed`);
    assert.ok(m.endThreads <= m.baseThreads + 2, `worker threads leaked: ${m.baseThreads} -> ${m.endThreads}`);
  });

  test('bounded soak: 1,000 frames, 40 sessions, 40 identities, bounded RSS (tests/soak.mjs)', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', join(root, 'tests/soak.mjs'), '--frames', '1000', '--sessions', '40', '--identities', '40', '--sample', '100', '--json'],
      { cwd: root, encoding: 'utf8', timeout: 120000 });
    assert.equal(r.signal, null, r.stderr);
    const m = JSON.parse(r.stdout.trim().split('\n').at(-1));
    console.log(`# soak: ${m.msPerFrame.toFixed(2)} ms/frame; RSS growth after warm-up: frames ${m.frameGrowthMB.toFixed(1)} MiB, ` +
      `sessions ${m.sessionGrowthMB.toFixed(1)} MiB, identities ${m.identityGrowthMB.toFixed(1)} MiB`);
    assert.ok(m.ok, m.failures.join('; '));
    assert.equal(r.status, 0, r.stderr);
  });
});
