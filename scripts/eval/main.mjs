#!/usr/bin/env node
// npm run eval: single-shot evaluation on held-out people, through the public CLI.
//
// For each clip: frame 0 becomes the source photo, the clip's audio the
// speech; `s3d-nerf render` (what users run) makes the model video. Three
// videos are then analysed frame by frame with face-api (detection, 68
// landmarks, 128-d descriptor): the model render, the "copy the source frame"
// baseline (the source photo held still) and the ground-truth clip (real
// footage: what the numbers look like for a real talking person).
// Metrics: face found, identity distance to the source photo, lip opening
// (mean, std) and lip-sync z. See scripts/eval/metrics.mjs.
//
// PSNR/SSIM against the ground truth are not computed here: they need
// aligned crops, and train/evaluate.py computes them.
//
// Derived media (PNG, WAV, MP4) go to --out (default .cache/eval, git-ignored),
// never into the tracked tree.
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_MODEL } from '../../lib/index.js';
import { packageRoot } from '../../lib/internal.js';
import { checkBar } from './bar.mjs';
import { analyseFace, loadEvalFaceModels } from './face.mjs';
import { decodeSpeech, extractFirstFrame, extractSpeechWav, ffmpegPath, videoFrames } from './media.mjs';
import { FPS, SAMPLE_RATE, frameCount, speechEnvelope, videoMetrics } from './metrics.mjs';
import { formatReport, KINDS } from './report.mjs';

const DEFAULT_CLIPS = [
  '../shared/data/train/train10_jackie_chan__tps_driving.mp4',
  '../shared/data/train/train11_mairead_mcguinness__retalking_face5.mp4',
];
const DEFAULT_SPEECH_DIR = '../shared/data/speech';
const DEFAULT_OUT = '.cache/eval';
const CLI = path.join(packageRoot, 'bin', 's3d-nerf.js');

const USAGE = `usage: npm run eval -- [options]

Single-shot evaluation on held-out people: renders each clip's frame 0 with
the clip's speech through \`s3d-nerf render\`, then measures the render, the
copy-the-source baseline and the real clip with face-api.

  --clip PATH        held-out clip with speech (repeatable; default:
                     ${DEFAULT_CLIPS.join('\n                     ')})
  --model PATH       .safetensors model (default: the package's, ${DEFAULT_MODEL})
  --frames N         at most N frames per clip (default: the whole clip)
  --threads N        CPU threads for the render (default: the CLI's)
  --speech-dir DIR   WAVs of unrelated speech for the sync null (default ${DEFAULT_SPEECH_DIR})
  --out DIR          derived media (default ${DEFAULT_OUT}; must not be tracked by git)
  --json FILE        write every number, per-frame series included
  --markdown         print the table as Markdown
  -h, --help         show this help

Progress goes to stderr, the table to stdout.`;

class UsageError extends Error {}

function log(message) {
  process.stderr.write(`[eval] ${message}\n`);
}

function positiveInteger(value, name) {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(value)) throw new UsageError(`${name} expects a positive integer but received "${value}"`);
  return Number(value);
}

function existingFile(file, what) {
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`${what} not found: ${file}`);
  return file;
}

/** Refuses an --out inside the package's tracked tree (anything but .cache/). */
function safeOutDir(dir) {
  const abs = path.resolve(dir);
  const rel = path.relative(packageRoot, abs);
  const inside = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  if (inside && rel.split(path.sep)[0] !== '.cache')
    throw new UsageError(`--out ${dir} is inside the package tree: derived media must not land in git (use a folder under .cache/ or outside the repository)`);
  return abs;
}

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        clip: { type: 'string', multiple: true },
        model: { type: 'string' },
        frames: { type: 'string' },
        threads: { type: 'string' },
        'speech-dir': { type: 'string' },
        out: { type: 'string' },
        json: { type: 'string' },
        markdown: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError(err.message);
  }
  if (parsed.help) return { help: true };
  // defaults are relative to the package root (npm run may start anywhere); given paths to the working directory
  const clips = parsed.clip ? parsed.clip.map((c) => path.resolve(c)) : DEFAULT_CLIPS.map((c) => path.resolve(packageRoot, c));
  for (const c of clips) existingFile(c, 'Clip');
  const model = parsed.model === undefined ? undefined : existingFile(path.resolve(parsed.model), 'Model');
  const speechDir = parsed['speech-dir'] === undefined ? path.resolve(packageRoot, DEFAULT_SPEECH_DIR) : path.resolve(parsed['speech-dir']);
  return {
    clips,
    model,
    frames: positiveInteger(parsed.frames, '--frames'),
    threads: positiveInteger(parsed.threads, '--threads'),
    speechDir,
    out: safeOutDir(parsed.out ?? path.join(packageRoot, DEFAULT_OUT)),
    json: parsed.json === undefined ? undefined : path.resolve(parsed.json),
    markdown: Boolean(parsed.markdown),
  };
}

/** Unique, readable folder names for the clips (file name without extension). */
function clipNames(clips) {
  const seen = new Map();
  return clips.map((c) => {
    const base = path.basename(c, path.extname(c));
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}-${n}`;
  });
}

/** Envelopes of every WAV in the null-speech folder (whole files, cut/looped later). */
async function nullEnvelopes(dir) {
  if (!existsSync(dir)) {
    log(`no null-speech folder ${dir}: sync z uses circular shifts of each clip's own speech only`);
    return { files: [], envelopes: [] };
  }
  const files = (await readdir(dir)).filter((f) => /\.wav$/i.test(f)).sort().map((f) => path.join(dir, f));
  const envelopes = [];
  const used = [];
  for (const f of files) {
    const samples = await decodeSpeech(f);
    const frames = frameCount(samples, SAMPLE_RATE);
    if (frames < 1) continue;
    envelopes.push(speechEnvelope(samples, SAMPLE_RATE, frames));
    used.push(f);
  }
  log(`null speech: ${used.length} WAVs from ${dir}`);
  return { files: used, envelopes };
}

/** `s3d-nerf render` as a user would run it; resolves with the CLI's summary line. */
function renderWithCli({ image, audio, out, model, frames, threads }) {
  const args = [CLI, 'render', '--image', image, '--audio', audio, '--out', out];
  if (model) args.push('--model', model);
  if (frames) args.push('--frames', String(frames));
  if (threads) args.push('--threads', String(threads));
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    proc.on('error', reject);
    proc.on('close', (code) => {
      if (code === 0) resolve(stdout.trim().split('\n').pop() ?? '');
      else reject(new Error(`s3d-nerf render failed (exit ${code}): ${stderr.trim() || stdout.trim()}\n  command: node ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`));
    });
  });
}

/** face-api results for every frame of `video`, with progress lines. */
async function analyseVideo(video, maxFrames, label) {
  const faces = [];
  const t0 = performance.now();
  let lastLog = t0;
  for await (const frame of videoFrames(video, maxFrames)) {
    faces.push(await analyseFace(frame));
    const now = performance.now();
    if (now - lastLog > 10000) {
      lastLog = now;
      log(`${label}: ${faces.length} frames analysed (${((faces.length * 1000) / (now - t0)).toFixed(1)} frames/s)`);
    }
  }
  const s = (performance.now() - t0) / 1000;
  log(`${label}: ${faces.length} frames analysed in ${s.toFixed(1)} s (${(faces.length / s).toFixed(1)} frames/s)`);
  if (faces.length === 0) throw new Error(`No frames decoded from ${video}`);
  return faces;
}

async function evaluateClip(clip, name, index, count, options, nullSpeech) {
  const tag = `clip ${index + 1}/${count} ${name}`;
  const dir = path.join(options.out, name);
  await mkdir(dir, { recursive: true });
  const files = { source: path.join(dir, 'source.png'), speech: path.join(dir, 'speech.wav'), render: path.join(dir, 'render.mp4') };

  log(`${tag}: extracting frame 0 and 16 kHz speech`);
  await extractFirstFrame(clip, files.source);
  await extractSpeechWav(clip, files.speech);
  const speech = await decodeSpeech(files.speech);

  log(`${tag}: rendering with s3d-nerf render${options.frames ? ` --frames ${options.frames}` : ''}`);
  const t0 = performance.now();
  const summary = await renderWithCli({ image: files.source, audio: files.speech, out: files.render, model: options.model, frames: options.frames, threads: options.threads });
  const renderSeconds = (performance.now() - t0) / 1000;
  log(`${tag}: render done in ${renderSeconds.toFixed(1)} s: ${summary}`);

  const [sourceFace] = await analyseVideo(files.source, 1, `${tag} source photo`);
  if (!sourceFace.found) throw new Error(`No face found in frame 0 of ${clip}: it cannot be the source photo`);
  const modelFaces = await analyseVideo(files.render, options.frames, `${tag} model render`);
  const truthFaces = await analyseVideo(clip, options.frames, `${tag} ground truth`);
  // The baseline is the source photo held for as many frames as the render;
  // face-api is deterministic, so its one analysis stands for every frame.
  const copyFaces = Array.from({ length: modelFaces.length }, () => sourceFace);

  const measure = (faces) =>
    videoMetrics({
      faces,
      sourceDescriptor: sourceFace.descriptor,
      envelope: speechEnvelope(speech, SAMPLE_RATE, faces.length),
      otherEnvelopes: nullSpeech.envelopes,
    });
  return {
    name,
    clip,
    files,
    fps: FPS,
    renderSeconds,
    renderSummary: summary,
    videos: { model: measure(modelFaces), copySource: measure(copyFaces), groundTruth: measure(truthFaces) },
  };
}

/** Mean over clips of each metric; undefined (NaN) as soon as one clip's is. */
function meanOverClips(clips) {
  const out = {};
  for (const { key } of KINDS) {
    const videos = clips.map((c) => c.videos[key]);
    const avg = (k) => videos.reduce((s, v) => s + v[k], 0) / videos.length;
    out[key] = {
      frames: videos.reduce((s, v) => s + v.frames, 0),
      faceFound: avg('faceFound'),
      identityDistance: avg('identityDistance'),
      lipMean: avg('lipMean'),
      lipStd: avg('lipStd'),
      syncZ: avg('syncZ'),
    };
  }
  return out;
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  if (options.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  ffmpegPath(); // fail before any work when there is none
  const modelLabel = options.model ?? path.join(packageRoot, DEFAULT_MODEL);
  log(`model ${modelLabel}; ${options.clips.length} clip(s); frames per clip: ${options.frames ?? 'all'}; media in ${options.out}`);
  await mkdir(options.out, { recursive: true });
  const t0 = performance.now();
  await loadEvalFaceModels();
  log(`face-api models loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const nullSpeech = await nullEnvelopes(options.speechDir);

  const names = clipNames(options.clips);
  const clips = [];
  for (let i = 0; i < options.clips.length; i++) clips.push(await evaluateClip(options.clips[i], names[i], i, options.clips.length, options, nullSpeech));

  const result = {
    createdAt: new Date().toISOString(),
    model: modelLabel,
    options: { frames: options.frames ?? null, threads: options.threads ?? null, fps: FPS, sampleRate: SAMPLE_RATE, out: options.out },
    nullSpeech: nullSpeech.files,
    clips,
    mean: meanOverClips(clips),
  };
  result.bar = checkBar(clips.length > 1 ? result.mean.model : clips[0].videos.model);

  process.stdout.write(formatReport(result, { markdown: options.markdown }) + '\n');
  if (options.json) {
    await mkdir(path.dirname(options.json), { recursive: true });
    await writeFile(options.json, JSON.stringify(result, null, 1) + '\n');
    log(`wrote ${options.json}`);
  }
  log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof UsageError) {
      process.stderr.write(`npm run eval: ${err.message}\n(see npm run eval -- --help)\n`);
      process.exit(2);
    }
    process.stderr.write(`npm run eval: ${err.message}\n`);
    process.exit(1);
  },
);
