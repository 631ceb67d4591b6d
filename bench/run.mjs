#!/usr/bin/env node
// Frame-rendering benchmark (npm run bench): renders synthetic frames under
// several engine configurations, each in its own child process (so
// S3D_CPU_FEATURES, read once at addon load, takes effect), and prints a
// markdown table of per-stage engine times (median over the timed frames, after
// one warm-up frame), renderFrame wall time, FPS, the same frames through one
// renderFrames call, and encodeIdentity time; then the speed-up of precision
// 'fast' over 'exact' in the same run, and (unless --no-cli) the CLI's end-to-end
// time for the README example with each precision.
//
//   node bench/run.mjs [--model path] [--frames N] [--scalar-frames N] [--no-cli]
//                      [--configs default,1thread,exact,exact-1thread,avx2,scalar] [--baseline path]
//
// Configurations: default (precision 'fast', best ISA, one thread per core),
// 1thread (fast, 1 thread), exact and exact-1thread (precision 'exact'), avx2
// (S3D_CPU_FEATURES=avx2), scalar (S3D_CPU_FEATURES=scalar: the portable kernels,
// ~4 s/frame at 256², so it renders --scalar-frames frames). Speed-ups are
// renderFrame wall time relative to the scalar configuration.
// --baseline renders another model file under the first configuration in the same
// run (e.g. the full-frame gated model against the mouth-window paste model) and
// prints the speed-up of --model over it.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createSession, cpuFeatures, findFfmpeg } from '../lib/index.js';
import { lastFrameTimings, lastIdentityTimings } from '../lib/internal.js';

const CONFIGS = {
  default: { label: 'fast (default), all cores', env: {}, threads: 0, precision: 'fast' },
  '1thread': { label: 'fast, 1 thread', env: {}, threads: 1, precision: 'fast' },
  exact: { label: 'exact, all cores', env: {}, threads: 0, precision: 'exact' },
  'exact-1thread': { label: 'exact, 1 thread', env: {}, threads: 1, precision: 'exact' },
  avx2: { label: 'S3D_CPU_FEATURES=avx2', env: { S3D_CPU_FEATURES: 'avx2' }, threads: 0, precision: 'fast' },
  scalar: { label: 'S3D_CPU_FEATURES=scalar (baseline)', env: { S3D_CPU_FEATURES: 'scalar' }, threads: 0, precision: 'fast', slow: true },
};

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    baseline: { type: 'string' },
    frames: { type: 'string', default: '10' },
    'scalar-frames': { type: 'string', default: '2' },
    configs: { type: 'string', default: Object.keys(CONFIGS).join(',') },
    // Internal: run one configuration and print its JSON result.
    child: { type: 'boolean', default: false },
    threads: { type: 'string', default: '0' },
    precision: { type: 'string', default: 'fast' },
    'identity-reps': { type: 'string', default: '3' },
    'no-cli': { type: 'boolean', default: false },
  },
});

function positiveInt(name, v) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`Expected a positive integer for --${name} but received ${v}`);
  return n;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function medianOf(objs) {
  const out = {};
  for (const k of Object.keys(objs[0])) out[k] = median(objs.map((o) => o[k]));
  return out;
}

/** One configuration, in this process: returns medians as plain JSON. */
async function measure({ model, threads, precision, frames, identityReps }) {
  const session = await createSession({ model, threads: threads || undefined, precision, backend: 'cpu' });
  try {
    const size = session.config.image_size;
    const data = new Uint8Array(size * size * 3).map((_, i) => (i * 37) % 256);
    const image = { data, width: size, height: size, channels: 3 };

    // encodeIdentity: one warm-up, then the median of identityReps calls.
    let identity = await session.encodeIdentity(image, { aligned: true });
    const idWall = [];
    const idStages = [];
    for (let r = 0; r < identityReps; r++) {
      await identity.dispose();
      const t = performance.now();
      identity = await session.encodeIdentity(image, { aligned: true });
      idWall.push(performance.now() - t);
      idStages.push(lastIdentityTimings(session));
    }

    const fps = session.config.audio.fps;
    const rate = 16000;
    const seconds = (frames + 2) / fps + 0.5;
    const samples = new Float32Array(Math.ceil(seconds * rate)).map((_, i) => 0.3 * Math.sin(i / 10) * Math.sin(i / 3000));
    const audio = await session.prepareAudio({ samples, sampleRate: rate });

    await session.renderFrame(identity, { audio, frame: 0 }); // warm-up
    const wall = [];
    const stages = [];
    for (let i = 1; i <= frames; i++) {
      const t = performance.now();
      await session.renderFrame(identity, { audio, frame: i });
      wall.push(performance.now() - t);
      stages.push(lastFrameTimings(session));
    }
    // The same frames through one renderFrames call (one queue entry, frames in order).
    const tb = performance.now();
    await session.renderFrames(identity, { audio, frames: { start: 1, end: frames + 1 } });
    const batchMs = (performance.now() - tb) / frames;
    const f = cpuFeatures();
    return {
      model: session.config.name,
      imageSize: size,
      threads: session.threads,
      kernelIsa: f.kernelIsa + (session.precision === 'fast' && f.bf16Kernels ? '+bf16' : ''),
      cap: f.cap,
      frames,
      frame: medianOf(stages),
      wallMs: median(wall),
      batchMs,
      identity: medianOf(idStages),
      identityWallMs: median(idWall),
    };
  } finally {
    await session.dispose();
  }
}

if (values.child) {
  const r = await measure({
    model: values.model,
    threads: Number(values.threads),
    precision: values.precision,
    frames: positiveInt('frames', values.frames),
    identityReps: positiveInt('identity-reps', values['identity-reps']),
  });
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(0);
}

// ---- parent: run each configuration in a child process, then print the table.
const frames = positiveInt('frames', values.frames);
const scalarFrames = positiveInt('scalar-frames', values['scalar-frames']);
const names = values.configs.split(',').map((s) => s.trim()).filter(Boolean);
for (const n of names)
  if (!CONFIGS[n]) throw new Error(`Expected configs from ${Object.keys(CONFIGS).join(', ')} but received "${n}"`);

const f = cpuFeatures();
const flags = ['avx2', 'fma', 'avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512bf16', 'avx512fp16', 'amxTile'].filter((k) => f[k]);
console.log(`CPU: ${f.brand || 'unknown'}`);
console.log(`features: ${flags.join(' ') || 'none'}${f.cap ? ` (capped by S3D_CPU_FEATURES=${f.cap} in this shell)` : ''}`);
console.log(`hardware threads: ${f.hardwareThreads}; node ${process.version}`);

const script = fileURLToPath(import.meta.url);
/** Runs configuration `name` on `model` in a child process; returns its JSON result. */
function run(name, model, what = name) {
  const c = CONFIGS[name];
  const n = c.slow ? Math.min(frames, scalarFrames) : frames;
  const args = [script, '--child', '--frames', String(n), '--threads', String(c.threads), '--precision', c.precision,
    '--identity-reps', c.slow ? '1' : '3'];
  if (model) args.push('--model', model);
  const env = { ...process.env, ...c.env };
  if (!c.env.S3D_CPU_FEATURES) delete env.S3D_CPU_FEATURES;
  process.stderr.write(`running ${what} (${n} frames)...\n`);
  const t = performance.now();
  const r = spawnSync(process.execPath, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) {
    console.error(`configuration ${what} failed (exit ${r.status ?? r.signal}):\n${r.stdout}`);
    process.exit(1);
  }
  process.stderr.write(`  done in ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}
const results = {};
for (const name of names) results[name] = run(name, values.model);
const baseline = values.baseline ? run(names[0], values.baseline, `${names[0]} on --baseline`) : null;

const first = results[names[0]];
console.log(`\nmodel ${first.model} at ${first.imageSize}²${values.model ? ` (${values.model})` : ''}; ` +
  `ms are medians over the timed frames after 1 warm-up frame (engine stage times from lastFrameTimings; ` +
  `renderFrame = wall time of the Promise)\n`);
const ms = (x) => x.toFixed(1);
const base = results.scalar;
console.log('| configuration | kernels | threads | frames | audio | attention | NeRF | SR | engine total | renderFrame | FPS | renderFrames FPS (÷ renderFrame) | encodeIdentity (encoder / aggregate / SR source) | speed-up vs scalar |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|');
const rows = names.map((name) => [CONFIGS[name].label, results[name]]);
if (baseline) rows.push([`${CONFIGS[names[0]].label}, --baseline model`, baseline]);
for (const [label, r] of rows) {
  const fr = r.frame;
  const id = r.identity;
  const speedup = base ? `${(base.wallMs / r.wallMs).toFixed(1)}×` : '—';
  console.log(`| ${label} | ${r.kernelIsa} | ${r.threads} | ${r.frames} | ${ms(fr.audioMs)} | ${ms(fr.attentionMs)} | ` +
    `${ms(fr.nerfMs)} | ${ms(fr.srMs)} | ${ms(fr.totalMs)} | ${ms(r.wallMs)} | ${(1000 / r.wallMs).toFixed(2)} | ` +
    `${(1000 / r.batchMs).toFixed(2)} (${(r.wallMs / r.batchMs).toFixed(2)}×) | ` +
    `${ms(r.identityWallMs)} (${ms(id.encoderMs)} / ${ms(id.aggregateMs)} / ${ms(id.srSourceMs)}) | ${speedup} |`);
}
if (baseline) {
  const r = results[names[0]];
  console.log(`\n--model vs --baseline (${values.baseline}, ${baseline.model}), ${CONFIGS[names[0]].label}: ` +
    `renderFrame ${ms(r.wallMs)} vs ${ms(baseline.wallMs)} ms, ${(baseline.wallMs / r.wallMs).toFixed(2)}× ` +
    `(NeRF ${ms(r.frame.nerfMs)} vs ${ms(baseline.frame.nerfMs)}, SR ${ms(r.frame.srMs)} vs ${ms(baseline.frame.srMs)} ms)`);
}

// Fast against exact, same run.
for (const [fast, exact] of [['default', 'exact'], ['1thread', 'exact-1thread']]) {
  if (!results[fast] || !results[exact]) continue;
  const a = results[fast], b = results[exact];
  console.log(`\n${CONFIGS[fast].label} vs ${CONFIGS[exact].label}: renderFrame ${ms(a.wallMs)} vs ${ms(b.wallMs)} ms, ` +
    `${(b.wallMs / a.wallMs).toFixed(2)}× (NeRF ${ms(a.frame.nerfMs)} vs ${ms(b.frame.nerfMs)}, SR ${ms(a.frame.srMs)} vs ${ms(b.frame.srMs)} ms)`);
}

// End to end: the README's job through the CLI (`s3d-nerf render` of the example
// photo and speech to mp4), timed from the outside. --verbose lines mark the
// phases: start -> session loaded; -> identity (face detection, alignment,
// encodeIdentity) and speech decoded; -> exit: frames rendered, pasted back and
// encoded by ffmpeg, which runs alongside the render on the same cores.
async function cliRun(precision, out) {
  const cli = fileURLToPath(new URL('../bin/s3d-nerf.js', import.meta.url));
  const image = fileURLToPath(new URL('../examples/astronaut.png', import.meta.url));
  const audio = fileURLToPath(new URL('../examples/speech.wav', import.meta.url));
  const args = [cli, 'render', '--image', image, '--audio', audio, '--out', out, '--precision', precision,
    '--backend', 'cpu', '--verbose'];
  if (values.model) args.push('--model', values.model);
  const t0 = performance.now();
  const marks = {};
  let frames = 0;
  let err = '';
  await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d) => {
      err += d;
      const now = performance.now() - t0;
      if (marks.loaded === undefined && /: model /.test(err)) marks.loaded = now;
      const m = /-> (\d+) of \d+ frames/.exec(err);
      if (marks.inputs === undefined && m) {
        marks.inputs = now;
        frames = Number(m[1]);
      }
    });
    child.stdout.resume();
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`s3d-nerf render exited ${code}: ${err.trim().split('\n').pop()}`))));
  });
  const total = performance.now() - t0;
  return { total, loaded: marks.loaded, inputs: marks.inputs, frames };
}

if (!values['no-cli']) {
  if (!findFfmpeg()) console.log('\nCLI end to end: skipped (no ffmpeg for the mp4)');
  else {
    const dir = mkdtempSync(join(tmpdir(), 's3d-bench-'));
    try {
      const rows = [];
      for (const precision of ['fast', 'exact']) {
        process.stderr.write(`running the CLI (${precision})...\n`);
        rows.push([precision, await cliRun(precision, join(dir, `${precision}.mp4`))]);
      }
      const s = (x) => (x / 1000).toFixed(2);
      console.log(`\nCLI end to end: \`s3d-nerf render --image examples/astronaut.png --audio examples/speech.wav --out x.mp4\`` +
        ` (s; frames/s = frames ÷ the render+encode phase, and ÷ the whole run)\n`);
      console.log('| precision | frames | start → session | → face aligned + encoded, speech decoded | → frames rendered + mp4 encoded | total | render+encode frames/s | whole-run frames/s |');
      console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
      for (const [p, r] of rows)
        console.log(`| ${p} | ${r.frames} | ${s(r.loaded)} | ${s(r.inputs - r.loaded)} | ${s(r.total - r.inputs)} | ${s(r.total)} | ` +
          `${(r.frames / ((r.total - r.inputs) / 1000)).toFixed(1)} | ${(r.frames / (r.total / 1000)).toFixed(1)} |`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
