// `s3d-nerf serve` (ts/serve/, web/) over HTTP, without a browser: the page
// and its files, upload limits (413) and types by magic bytes (415), a photo
// without a face (422 ERR_NO_FACE, one line), two concurrent renders (frames
// while the first audio still uploads, the second queued at position 1, both
// mp4s with audio), bad requests that must not stop the server, usage errors
// and the clean shutdown on SIGINT. Uses the tiny fixture model.
// The page in a real browser: tests/serve-browser.test.mjs.
// Run: node --test tests/serve.test.mjs
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';

import { findFfmpeg } from '../lib/index.js';
import { requireFixture, root, syntheticImage, tinyModel } from './helpers/fixtures.mjs';
import { ffprobe, hasFfprobe, readEvents, startServe } from './helpers/serve.mjs';

const bin = join(root, 'bin', 's3d-nerf.js');
const image = readFileSync(join(root, 'examples', 'astronaut.png'));
const speech = readFileSync(join(root, 'examples', 'speech.wav'));
const tiny = requireFixture(tinyModel);
const tmp = mkdtempSync(join(tmpdir(), 's3d-serve-test-'));
const noMp4 = !findFfmpeg() || !hasFfprobe ? 'needs ffmpeg and ffprobe' : false;

/** Seconds of a canonical PCM WAV. */
function wavSeconds(buf) {
  let pos = 12;
  let rate = 0;
  let block = 0;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('latin1', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    if (id === 'fmt ') {
      rate = buf.readUInt32LE(pos + 12);
      block = buf.readUInt16LE(pos + 20);
    }
    if (id === 'data') return size / block / rate;
    pos += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}
const speechSeconds = wavSeconds(speech);

let server;
before(async () => {
  server = await startServe(['--model', tiny, '--threads', '1', '--backend', 'cpu', '--max-upload-mb', '1']);
});
after(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const api = (path) => new URL(path, server.url).href;

async function json(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`expected JSON, got ${res.status}: ${text.slice(0, 200)}`);
  }
}

async function postPhoto(body, query = '') {
  const res = await fetch(api(`/api/photo${query}`), { method: 'POST', body });
  return { status: res.status, body: await json(res) };
}

async function createJob(photo) {
  const res = await fetch(api(`/api/jobs?photo=${photo}`), { method: 'POST' });
  assert.equal(res.status, 201);
  return json(res);
}

/** A PUT whose body is written by the caller (chunked): { req, response: Promise<{ status, body } | { error }> }. */
function streamingPut(url) {
  const req = request(url, { method: 'PUT', headers: { 'Content-Type': 'audio/wav' } });
  const response = new Promise((resolve) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text || '{}') }));
      res.on('error', (error) => resolve({ error }));
    });
    req.on('error', (error) => resolve({ error }));
  });
  return { req, response };
}

/** A raw request (any Host/Origin header): { status, body }. */
function raw(path, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(api(path), { method, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const oneLine = (s) => assert.ok(typeof s === 'string' && s.length > 0 && !s.includes('\n'), `not one line: ${JSON.stringify(s)}`);

test('the page and its files come from the package: no external URL, a CSP that allows only this origin', async () => {
  const page = await fetch(server.url);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type'), /^text\/html/);
  assert.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  const html = await page.text();
  assert.match(html, /<script type="module" src="app.js">/);
  for (const [file, type] of [['app.js', /javascript/], ['style.css', /text\/css/]]) {
    const res = await fetch(api(`/${file}`));
    assert.equal(res.status, 200, file);
    assert.match(res.headers.get('content-type'), type);
    const text = await res.text();
    assert.equal(text, readFileSync(join(root, 'web', file), 'utf8'));
    assert.doesNotMatch(text, /https?:\/\//, `${file} refers to another site`);
  }
  assert.doesNotMatch(html, /(src|href)="https?:/);
  const info = await json(await fetch(api('/api/info')));
  assert.equal(info.maxUploadBytes, 1 << 20);
  assert.equal(info.imageSize, 64);
  assert.equal(info.fps, 25);
  assert.equal(info.precision, 'fast');
});

test('413 for a photo over --max-upload-mb, and for audio streamed past it (the render it started fails)', async () => {
  const big = Buffer.concat([image, Buffer.alloc(1_200_000)]);
  const r = await postPhoto(big);
  assert.equal(r.status, 413);
  assert.equal(r.body.code, 'ERR_TOO_LARGE');
  assert.match(r.body.error, /larger than the 1 MiB limit/);
  oneLine(r.body.error);

  // Chunked (no Content-Length): the WAV starts rendering, then the limit trips.
  const photo = await postPhoto(image, '?aligned=1');
  assert.equal(photo.status, 201);
  const job = await createJob(photo.body.id);
  const events = readEvents(api(job.events));
  const put = streamingPut(api(job.audio));
  const header = speech.subarray(0, 44);
  put.req.write(header);
  for (let sent = 0; sent < 1_300_000; sent += 65536) {
    if (!put.req.write(Buffer.alloc(65536))) await new Promise((r) => put.req.once('drain', r));
    if (put.req.destroyed) break;
  }
  put.req.end();
  const res = await put.response;
  if (!res.error) {
    assert.equal(res.status, 413);
    assert.equal(res.body.code, 'ERR_TOO_LARGE');
  } else assert.fail(`no 413 response: ${res.error.message}`);
  const ev = await events.done;
  const end = ev.events.at(-1);
  assert.equal(end.type, 'error');
  assert.equal(end.code, 'ERR_TOO_LARGE');
  const state = await json(await fetch(api(`/api/jobs/${job.id}`)));
  assert.equal(state.state, 'failed');
});

test('415 for a text file named .png, and for text as audio (magic bytes, not names)', async () => {
  const text = Buffer.from('hello, this is not a picture\n');
  writeFileSync(join(tmp, 'photo.png'), text);
  const res = await fetch(api('/api/photo'), { method: 'POST', body: readFileSync(join(tmp, 'photo.png')), headers: { 'Content-Type': 'image/png' } });
  assert.equal(res.status, 415);
  const body = await json(res);
  assert.equal(body.code, 'ERR_UNSUPPORTED_TYPE');
  assert.match(body.error, /^Expected a photo \(PNG, JPEG.*\) but received text starting with "hello, t"/);
  oneLine(body.error);

  const photo = await postPhoto(image, '?aligned=1');
  const job = await createJob(photo.body.id);
  const audio = await fetch(api(job.audio), { method: 'PUT', body: text, headers: { 'Content-Type': 'audio/wav' } });
  assert.equal(audio.status, 415);
  assert.match((await json(audio)).error, /^Expected speech audio \(WAV, WebM\/Opus.*\) but received text/);
  // A PNG is not audio either.
  const job2 = await createJob(photo.body.id);
  const png = await fetch(api(job2.audio), { method: 'PUT', body: image });
  assert.equal(png.status, 415);
  assert.match((await json(png)).error, /bytes starting with 0x89504E47/);
});

test('a photo without a face: 422 with NoFaceError\'s one-line message', async () => {
  const { data, width, height } = syntheticImage(200);
  const png = await sharp(Buffer.from(data), { raw: { width, height, channels: 3 } }).png().toBuffer();
  const r = await postPhoto(png);
  assert.equal(r.status, 422);
  assert.equal(r.body.code, 'ERR_NO_FACE');
  assert.match(r.body.error, /^No face found in the photo \(200x200\): use a photo where the face is visible/);
  oneLine(r.body.error);
  // A PNG signature followed by junk: a decode error, also 422.
  const junk = await postPhoto(Buffer.concat([image.subarray(0, 16), Buffer.alloc(100, 7)]));
  assert.equal(junk.status, 422);
  assert.equal(junk.body.code, 'ERR_INPUT_IMAGE');
  oneLine(junk.body.error);
});

test('a photo larger than 1280 px is scaled down before the face is encoded', async () => {
  const big = await sharp(image).resize(1000, 1000).extend({ top: 100, bottom: 100, left: 300, right: 300, background: { r: 90, g: 110, b: 130 } }).jpeg().toBuffer();
  assert.ok(big.length < 1 << 20);
  const r = await postPhoto(big);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.deepEqual([r.body.width, r.body.height, r.body.size], [1280, 960, 64]);
});

test('two concurrent renders: frames while the first audio still uploads, the second waits at position 1, both finish', { skip: noMp4 }, async () => {
  const photo = await postPhoto(image); // detected and pasted back (the astronaut's 256x256 photo)
  assert.equal(photo.status, 201, JSON.stringify(photo.body));
  assert.deepEqual([photo.body.width, photo.body.height, photo.body.size], [256, 256, 64]);

  const a = await createJob(photo.body.id);
  const evA = readEvents(api(a.events));
  const putA = streamingPut(api(a.audio));
  const cut = 44 + 2 * Math.round(16000 * 1.6); // header + 1.6 s
  putA.req.write(speech.subarray(0, cut));
  let putADone = false;
  putA.response.then(() => (putADone = true));
  await evA.waitFor((s) => s.frames.length > 0);
  assert.equal(putADone, false, 'the first upload is still open');
  const started = evA.events.find((e) => e.type === 'started');
  assert.deepEqual([started.width, started.height, started.fps, started.audio], [256, 256, 25, 'wav']);
  const f0 = evA.frames[0];
  assert.deepEqual([f0.index, f0.width, f0.height], [0, 256, 256]);
  assert.deepEqual([...f0.jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff], 'a JPEG frame');

  const b = await createJob(photo.body.id);
  const evB = readEvents(api(b.events));
  const putB = fetch(api(b.audio), { method: 'PUT', body: speech, headers: { 'Content-Type': 'audio/wav' } });
  await evB.waitFor((s) => s.events.some((e) => e.type === 'queued' && e.position === 1));
  assert.equal(evB.frames.length, 0);
  const queued = await json(await fetch(api(`/api/jobs/${b.id}`)));
  assert.deepEqual([queued.state, queued.position], ['queued', 1]);

  putA.req.end(speech.subarray(cut));
  const [ra, rb] = await Promise.all([putA.response, putB]);
  assert.equal(ra.status, 200, JSON.stringify(ra));
  assert.equal(rb.status, 200);
  const [ea, eb] = await Promise.all([evA.done, evB.done]);
  const frames = Math.ceil(speechSeconds * 25);
  for (const [name, ev, job] of [['first', ea, a], ['second', eb, b]]) {
    const done = ev.events.at(-1);
    assert.equal(done.type, 'done', `${name}: ${JSON.stringify(ev.events)}`);
    assert.equal(done.frames, frames);
    assert.equal(ev.events.find((e) => e.type === 'total').frames, frames);
    assert.equal(done.video, job.video);
    assert.ok(ev.frames.length > 0 && ev.frames.length <= frames);
    assert.equal(ev.frames.at(-1).index, frames - 1);
    const res = await fetch(api(job.video));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'video/mp4');
    assert.match(res.headers.get('content-disposition'), /^attachment; filename="talking-head-.*\.mp4"$/);
    const out = join(tmp, `${name}.mp4`);
    writeFileSync(out, Buffer.from(await res.arrayBuffer()));
    const info = ffprobe(out);
    const v = info.streams.find((s) => s.codec_type === 'video');
    const au = info.streams.find((s) => s.codec_type === 'audio');
    assert.ok(au, `${name}: no audio stream`);
    assert.deepEqual([v.width, v.height, Number(v.nb_frames)], [256, 256, frames]);
    assert.ok(Math.abs(Number(v.duration) - speechSeconds) <= 1 / 25 + 1e-6, `${name}: video ${v.duration} s vs speech ${speechSeconds} s`);
    assert.ok(Math.abs(Number(au.duration) - speechSeconds) <= 1 / 25 + 1e-6, `${name}: audio ${au.duration} s vs speech ${speechSeconds} s`);
  }
  // One at a time: the second's first frame came after the first's last.
  assert.ok(eb.frames[0].at >= ea.frames.at(-1).at, 'the renders overlapped');
});

test('bad requests get a JSON error and the server keeps serving', async () => {
  const expect = async (p, status, code) => {
    const r = await p;
    assert.equal(r.status, status, `${r.status} ${r.text}`);
    const body = JSON.parse(r.text);
    if (code) assert.equal(body.code, code);
    oneLine(body.error);
  };
  await expect(raw('/api/jobs/nope'), 404, 'ERR_NOT_FOUND');
  await expect(raw('/api/jobs/nope/events'), 404);
  await expect(raw('/api/jobs?photo=nope', { method: 'POST' }), 404);
  await expect(raw('/api/photo'), 405);
  await expect(raw('/nothing/here'), 404);
  await expect(raw('/api/jobs/../../etc/passwd'), 404);
  await expect(raw('/api/info', { headers: { Host: 'evil.example:80' } }), 403, 'ERR_FORBIDDEN');
  await expect(raw('/api/photo', { method: 'POST', headers: { Origin: 'http://evil.example' }, body: image }), 403, 'ERR_FORBIDDEN');
  await expect(raw('/api/jobs?photo=x', { method: 'POST', headers: { Origin: 'null' } }), 403, 'ERR_FORBIDDEN');

  const photo = await postPhoto(image, '?aligned=1');
  // A WAV whose format the decoder does not know: the render fails with one line, on the stream too.
  const job = await createJob(photo.body.id);
  const events = readEvents(api(job.events));
  const bad = Buffer.from(speech);
  bad.writeUInt16LE(0x55, 20); // MP3-in-WAV
  const put = await fetch(api(job.audio), { method: 'PUT', body: bad });
  assert.ok([200, 422].includes(put.status), String(put.status));
  const end = (await events.done).events.at(-1);
  assert.equal(end.type, 'error');
  assert.equal(end.code, 'ERR_INPUT_AUDIO');
  oneLine(end.message);
  // The audio of a job can be sent once.
  await expect(raw(job.audio, { method: 'PUT', body: speech }), 409, 'ERR_CONFLICT');
  // The video of a failed job.
  await expect(raw(job.video), 404, 'ERR_NOT_READY');
  // An upload that breaks off.
  const job2 = await createJob(photo.body.id);
  const ev2 = readEvents(api(job2.events));
  const put2 = streamingPut(api(job2.audio));
  put2.req.write(speech.subarray(0, 20000));
  await ev2.waitFor((s) => s.events.some((e) => e.type === 'started'));
  put2.req.destroy();
  const end2 = (await ev2.done).events.at(-1);
  assert.equal(end2.type, 'error');
  // A viewer that leaves stops its render.
  const job3 = await createJob(photo.body.id);
  const ev3 = request(api(job3.events));
  ev3.on('error', () => {});
  ev3.end();
  await new Promise((r) => setTimeout(r, 200));
  ev3.destroy();
  for (let i = 0; i < 50; i++) {
    const st = await json(await fetch(api(`/api/jobs/${job3.id}`)));
    if (st.state === 'failed') {
      assert.equal(st.error.code, 'ERR_ABORTED');
      break;
    }
    assert.ok(i < 49, 'the job was not stopped');
    await new Promise((r) => setTimeout(r, 100));
  }
  // Still alive.
  assert.equal((await fetch(api('/api/info'))).status, 200);
  assert.equal(server.child.exitCode, null);
});

test('serve --help, usage errors (exit 2), a port in use (exit 1, one line)', () => {
  const help = spawnSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: s3d-nerf serve/);
  for (const flag of ['--port', '--host', '--model', '--threads', '--precision', '--max-upload-mb']) assert.ok(help.stdout.includes(flag), flag);
  const main = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  assert.match(main.stdout, /^ {2}serve {7}a local web page/m);
  for (const [args, re] of [
    [['--port', 'x'], /--port must be an integer between 0 and 65535/],
    [['--max-upload-mb', '0'], /--max-upload-mb must be a number of MiB/],
    [['--bogus'], /Unknown option '--bogus'/],
  ]) {
    const r = spawnSync(process.execPath, [bin, 'serve', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, re);
  }
  const port = new URL(server.url).port;
  const busy = spawnSync(process.execPath, [bin, 'serve', '--port', port, '--model', tiny, '--threads', '1', '--backend', 'cpu'], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(busy.status, 1, busy.stderr);
  assert.equal(busy.stderr, `s3d-nerf: error: cannot listen on 127.0.0.1:${port}: the port is in use (choose another with --port)\n`);
});

test('SIGINT: a clean shutdown, exit status 0', async () => {
  const r = await server.stop();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /serve: stopping\n.*serve: stopped\n$/s);
  assert.doesNotMatch(r.stderr, /^s3d-nerf: error|server error/m);
  server = undefined;
});
