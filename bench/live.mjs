#!/usr/bin/env node
// Live rendering latency and throughput (session.live, ts/live.ts).
//
//   node bench/live.mjs [--model PATH] [--threads N] [--audio FILE.wav] [--seconds S]
//                       [--chunk-ms 20] [--fast] [--backpressure buffer|drop] [--max-buffered N]
//
// The speech (default examples/speech.wav, an aligned synthetic face stands in
// for the photo) is pushed in chunks of --chunk-ms at real-time pace (or as
// fast as the engine takes it with --fast) while a consumer takes frames as
// they come. In real time pushes are not awaited (a microphone does not wait). Prints the look-ahead, per-frame audio-in -> frame-out latency
// (from the arrival of the last sample of a frame's own 40 ms to the frame in
// the consumer's hands) and render times, and frames per second.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

import { createSession } from '../lib/index.js';
import { decodeWav } from '../lib/internal.js';
import { root, syntheticImage } from '../tests/helpers/fixtures.mjs';

const { values: v } = parseArgs({
  options: {
    model: { type: 'string' },
    threads: { type: 'string' },
    audio: { type: 'string', default: join(root, 'examples', 'speech.wav') },
    seconds: { type: 'string' },
    'chunk-ms': { type: 'string', default: '20' },
    fast: { type: 'boolean', default: false },
    backpressure: { type: 'string', default: 'buffer' },
    'max-buffered': { type: 'string', default: '8' },
  },
});

const session = await createSession({ backend: 'cpu', ...(v.model ? { model: v.model } : {}), ...(v.threads ? { threads: Number(v.threads) } : {}) });
const identity = await session.encodeIdentity(syntheticImage(session.config.image_size), { aligned: true });
let { samples, sampleRate } = decodeWav(readFileSync(v.audio));
if (v.seconds) samples = samples.subarray(0, Math.round(Number(v.seconds) * sampleRate));
const chunk = Math.max(1, Math.round((Number(v['chunk-ms']) / 1000) * sampleRate));

const live = session.live(identity, { backpressure: v.backpressure, maxBuffered: Number(v['max-buffered']) });
const frames = [];
const consumer = (async () => {
  for await (const f of live) frames.push({ index: f.index, latencyMs: f.latencyMs, renderMs: f.renderMs });
})();
const t0 = performance.now();
const pushes = [];
for (let o = 0; o < samples.length; o += chunk) {
  // A real-time source does not wait for the engine (a push waits behind the render in
  // progress; chunks that arrive meanwhile are merged). --fast waits for each push.
  const p = live.push(samples.subarray(o, o + chunk), sampleRate);
  if (v.fast) await p;
  else pushes.push(p);
  if (!v.fast) {
    const due = t0 + ((o + chunk) / sampleRate) * 1000; // real time: the next chunk is "recorded" by then
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
  }
}
await Promise.all(pushes);
await live.end();
await consumer;
const wall = (performance.now() - t0) / 1000;
const st = live.stats;
const fmt = (s) => (s ? `p50 ${s.p50.toFixed(1)}, p95 ${s.p95.toFixed(1)}, max ${s.max.toFixed(1)}, mean ${s.mean.toFixed(1)}` : '-');
console.log(`model        ${session.modelPath} (${session.config.image_size}px), ${session.threads} threads`);
console.log(`audio        ${v.audio}: ${(samples.length / sampleRate).toFixed(2)} s at ${sampleRate} Hz, pushed in ${v['chunk-ms']} ms chunks ${v.fast ? 'as fast as possible' : 'in real time'}`);
console.log(`look-ahead   ${(live.lookaheadSeconds * 1000).toFixed(1)} ms of audio past a frame's span (algorithmic)`);
console.log(`frames       ${st.framesDelivered} delivered, ${st.framesDropped} dropped of ${st.frameCount} (${v.backpressure}, max ${v['max-buffered']} buffered)`);
console.log(`latency ms   ${fmt(st.latencyMs)}   (audio in -> frame out)`);
console.log(`render ms    ${fmt(st.renderMs)}`);
console.log(`throughput   ${(st.framesDelivered / wall).toFixed(2)} frames/s over ${wall.toFixed(2)} s wall (${(st.frameCount / (samples.length / sampleRate)).toFixed(0)} frames/s of speech)`);
await session.dispose();
