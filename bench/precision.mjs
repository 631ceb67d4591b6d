#!/usr/bin/env node
// The fast path's quality guard (issue 11): renders the same frames with
// precision 'exact' and 'fast' and prints the PSNR of every fast frame against
// its exact twin. Exit status 1 when any frame is under --min-psnr (40 dB).
//
//   node bench/precision.mjs [--face photo:speech ...] [--frames N] [--model path] [--json file]
//
// Default faces: the README example (examples/astronaut.png + speech.wav) and,
// when ../shared/data is present, frame 0 of the two held-out clips with the
// clips' own speech (extracted to .cache/precision/, never tracked).
// Frames are the aligned 256² engine output (what paste-back then blends into
// the photo), compared in float before the uint8 rounding.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createSession, cpuFeatures } from '../lib/index.js';
import { framePsnr, mouthBox } from './psnr.mjs';

const HELD_OUT = [
  '../shared/data/train/train10_jackie_chan__tps_driving.mp4',
  '../shared/data/train/train11_mairead_mcguinness__retalking_face5.mp4',
];

const { values } = parseArgs({
  options: {
    face: { type: 'string', multiple: true },
    frames: { type: 'string', default: '100' },
    model: { type: 'string' },
    threads: { type: 'string' },
    'min-psnr': { type: 'string', default: '40' },
    json: { type: 'string' },
  },
});
const frames = Number(values.frames);
const minPsnr = Number(values['min-psnr']);
if (!Number.isInteger(frames) || frames < 1) throw new Error(`Expected a positive integer for --frames but received ${values.frames}`);

async function defaultFaces() {
  const faces = [{ name: 'README example', photo: 'examples/astronaut.png', speech: 'examples/speech.wav' }];
  const clips = HELD_OUT.filter((c) => existsSync(c));
  if (clips.length === 0) {
    console.error('note: ../shared/data not found: only the README example is checked');
    return faces;
  }
  const { extractFirstFrame, extractSpeechWav } = await import('../scripts/eval/media.mjs');
  const dir = '.cache/precision';
  await mkdir(dir, { recursive: true });
  for (const clip of clips) {
    const base = path.join(dir, path.basename(clip, '.mp4'));
    if (!existsSync(`${base}.png`)) await extractFirstFrame(clip, `${base}.png`);
    if (!existsSync(`${base}.wav`)) await extractSpeechWav(clip, `${base}.wav`);
    faces.push({ name: path.basename(clip, '.mp4'), photo: `${base}.png`, speech: `${base}.wav` });
  }
  return faces;
}

const faces = values.face
  ? values.face.map((f) => {
      const [photo, speech] = f.split(':');
      if (!photo || !speech) throw new Error(`Expected --face photo:speech but received ${f}`);
      return { name: path.basename(photo), photo, speech };
    })
  : await defaultFaces();

const f = cpuFeatures();
if (!f.bf16Kernels) console.error("note: this CPU has no AVX512-BF16 kernels: 'fast' computes what 'exact' does (PSNR is infinite)");
const threads = values.threads ? Number(values.threads) : undefined;
const exact = await createSession({ model: values.model, threads, precision: 'exact', backend: 'cpu' });
const fast = await createSession({ model: values.model, threads, precision: 'fast', backend: 'cpu' });
const report = [];
let failed = false;
try {
  const size = exact.config.image_size;
  const box = mouthBox(exact.config);
  console.log(`PSNR of 'fast' against 'exact' per frame: the whole ${size}² frame (the bar), and the mouth box ` +
    `x ${box.x0}-${box.x1}, y ${box.y0}-${box.y1} alone (the only generated pixels of a paste model)\n`);
  console.log(`| face | frames | min PSNR (dB) | median PSNR (dB) | mouth box: min PSNR (dB) | max abs diff | every frame ≥ ${minPsnr} dB |`);
  console.log('|---|---:|---:|---:|---:|---:|---|');
  for (const face of faces) {
    const idExact = await exact.encodeIdentity(face.photo);
    const idFast = await fast.encodeIdentity(face.photo);
    const audio = await exact.prepareAudio(face.speech);
    const audioFast = await fast.prepareAudio(face.speech);
    const n = Math.min(frames, audio.frameCount);
    const psnrs = [];
    const boxPsnrs = [];
    let maxAbs = 0;
    for (let i = 0; i < n; i++) {
      const a = await exact.renderFrame(idExact, { audio, frame: i, format: 'float32' });
      const b = await fast.renderFrame(idFast, { audio: audioFast, frame: i, format: 'float32' });
      const r = framePsnr(a.data, b.data, a.width);
      psnrs.push(r.psnr);
      boxPsnrs.push(framePsnr(a.data, b.data, a.width, box).psnr);
      maxAbs = Math.max(maxAbs, r.maxAbs);
    }
    const sorted = [...psnrs].sort((x, y) => x - y);
    const min = sorted[0];
    const med = sorted[sorted.length >> 1];
    const ok = min >= minPsnr;
    failed ||= !ok;
    const boxMin = Math.min(...boxPsnrs);
    console.log(`| ${face.name} | ${n} | ${min.toFixed(2)} | ${med.toFixed(2)} | ${boxMin.toFixed(2)} | ${maxAbs.toFixed(4)} | ${ok ? 'yes' : 'NO'} |`);
    report.push({ face: face.name, frames: n, psnr: psnrs, mouthBoxPsnr: boxPsnrs, maxAbs });
  }
} finally {
  await exact.dispose();
  await fast.dispose();
}
if (values.json) await writeFile(values.json, JSON.stringify({ bf16Kernels: f.bf16Kernels, minPsnr, faces: report }, null, 1));
process.exit(failed ? 1 : 0);
