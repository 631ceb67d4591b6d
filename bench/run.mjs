#!/usr/bin/env node
// Frame-rendering benchmark: node bench/run.mjs [--model path] [--threads N] [--frames N]
// Prints ms per frame for encodeIdentity and renderFrame on a synthetic input.
import { parseArgs } from 'node:util';
import { createSession, cpuFeatures } from '../lib/index.js';

const { values } = parseArgs({
  options: { model: { type: 'string' }, threads: { type: 'string' }, frames: { type: 'string', default: '5' } },
});
const session = await createSession({ model: values.model, threads: values.threads ? Number(values.threads) : undefined });
const size = session.config.image_size;
const data = new Uint8Array(size * size * 3).map((_, i) => (i * 37) % 256);
const samples = new Float32Array(16000 * 2).map((_, i) => 0.3 * Math.sin(i / 10));
console.log(`cpu: ${cpuFeatures().summary}`);
console.log(`model ${session.config.name} ${size}px, threads ${session.threads}`);
let t = performance.now();
const identity = await session.encodeIdentity({ data, width: size, height: size, channels: 3 }, { aligned: true });
console.log(`encodeIdentity: ${(performance.now() - t).toFixed(1)} ms`);
const audio = await session.prepareAudio({ samples, sampleRate: 16000 });
const n = Math.min(Number(values.frames), audio.frameCount);
await session.renderFrame(identity, { audio, frame: 0 }); // warm-up
t = performance.now();
for (let i = 0; i < n; i++) await session.renderFrame(identity, { audio, frame: i });
const ms = (performance.now() - t) / n;
console.log(`renderFrame: ${ms.toFixed(1)} ms/frame (${(1000 / ms).toFixed(2)} FPS) over ${n} frames`);
await session.dispose();
